package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
)

var _ coffer.Dumper = (*DB)(nil)

// dumpTable is how one kind of record is read from the database and
// written to it.
type dumpTable struct {
	kind  coffer.RecordKind
	table string
	cols  string
	// order is the primary key, which the dump follows.
	order string
	scan  func(pgx.Row) (*coffer.Record, error)
	// args returns the values of cols for a record.
	args func(*coffer.Record) ([]any, error)
	// texts returns the record's TEXT columns by name, to check that
	// PostgreSQL can store them as they are.
	texts func(*coffer.Record) []namedText
}

type namedText struct{ name, s string }

// dumpTables lists the kinds of records in dump order (coffer.RecordKind);
// the audit head, a single row that always exists, is handled on its own.
var dumpTables = []dumpTable{
	{
		kind: coffer.KindMeta, table: "meta", cols: "key, value", order: "key",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			m := &coffer.MetaEntry{}
			if err := sc.Scan(&m.Key, &m.Value); err != nil {
				return nil, err
			}
			if m.Value == nil {
				m.Value = []byte{}
			}
			return &coffer.Record{Meta: m}, nil
		},
		args: func(r *coffer.Record) ([]any, error) {
			if r.Meta.Key == headKey {
				return nil, coffer.Errorf(coffer.EINVALID, "setting %q is reserved", headKey)
			}
			v := r.Meta.Value
			if v == nil {
				v = []byte{}
			}
			return []any{r.Meta.Key, v}, nil
		},
		texts: func(r *coffer.Record) []namedText { return []namedText{{"key", r.Meta.Key}} },
	},
	{
		kind: coffer.KindAccount, table: "accounts", cols: accountCols, order: "id",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			var a coffer.Account
			var created int64
			if err := sc.Scan(&a.ID, &a.Name, &created, &a.MAC); err != nil {
				return nil, err
			}
			a.CreatedAt = fromNanos(created)
			return &coffer.Record{Account: &a}, nil
		},
		args: func(r *coffer.Record) ([]any, error) {
			a := r.Account
			return []any{a.ID, a.Name, a.CreatedAt.UnixNano(), a.MAC}, nil
		},
		texts: func(r *coffer.Record) []namedText {
			return []namedText{{"id", r.Account.ID}, {"name", r.Account.Name}}
		},
	},
	{
		kind: coffer.KindPrincipal, table: "principals", cols: principalCols, order: "id",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			p, err := scanPrincipal(sc)
			return &coffer.Record{Principal: p}, err
		},
		args: func(r *coffer.Record) ([]any, error) {
			p := r.Principal
			attrs, err := encodeAttrs(p.Attributes)
			if err != nil {
				return nil, fmt.Errorf("encode attributes of principal %s: %w", p.ID, err)
			}
			return []any{p.ID, p.AccountID, p.Name, p.Kind, p.CreatedAt.UnixNano(), attrs, p.MAC}, nil
		},
		texts: func(r *coffer.Record) []namedText {
			p := r.Principal
			return []namedText{{"id", p.ID}, {"account_id", p.AccountID}, {"name", p.Name}, {"kind", p.Kind}}
		},
	},
	{
		kind: coffer.KindAPIKey, table: "api_keys", cols: apiKeyCols, order: "id",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			k, err := scanAPIKey(sc)
			return &coffer.Record{APIKey: k}, err
		},
		args: func(r *coffer.Record) ([]any, error) {
			k := r.APIKey
			scopes, err := json.Marshal(k.Scopes)
			if err != nil {
				return nil, fmt.Errorf("encode scopes of api key %s: %w", k.ID, err)
			}
			hash := k.Hash
			if hash == nil {
				hash = []byte{}
			}
			return []any{k.ID, k.AccountID, k.PrincipalID, k.Name, k.Admin, string(scopes), hash,
				k.CreatedAt.UnixNano(), nullNanos(k.ExpiresAt), nullNanos(k.LastUsedAt), nullNanos(k.RevokedAt), k.MAC}, nil
		},
		texts: func(r *coffer.Record) []namedText {
			k := r.APIKey
			return []namedText{{"id", k.ID}, {"account_id", k.AccountID}, {"principal_id", k.PrincipalID}, {"name", k.Name}}
		},
	},
	{
		kind: coffer.KindHotkey, table: "hotkeys", cols: hotkeyCols, order: "ss58",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			h, err := scanHotkey(sc)
			return &coffer.Record{Hotkey: h}, err
		},
		args: func(r *coffer.Record) ([]any, error) {
			h := r.Hotkey
			return []any{h.SS58, h.AccountID, h.PrincipalID, h.CreatedAt.UnixNano(), h.MAC}, nil
		},
		texts: func(r *coffer.Record) []namedText {
			h := r.Hotkey
			return []namedText{{"ss58", h.SS58}, {"account_id", h.AccountID}, {"principal_id", h.PrincipalID}}
		},
	},
	{
		kind: coffer.KindStore, table: "stores", cols: storeCols, order: "id",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			s, err := scanStore(sc)
			return &coffer.Record{Store: s}, err
		},
		args: func(r *coffer.Record) ([]any, error) {
			s := r.Store
			attrs, err := encodeStoreAttributes(s)
			if err != nil {
				return nil, err
			}
			return []any{s.ID, s.AccountID, s.Name, s.Comment, s.KeyID, s.Gen, s.CreatedAt.UnixNano(),
				s.UpdatedAt.UnixNano(), attrs}, nil
		},
		texts: func(r *coffer.Record) []namedText {
			s := r.Store
			return []namedText{{"id", s.ID}, {"account_id", s.AccountID}, {"name", s.Name}, {"comment", s.Comment}}
		},
	},
	{
		kind: coffer.KindStoreKey, table: "store_keys", cols: "store_id, id, wrapped", order: "store_id, id",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			k := &coffer.StoreKey{}
			if err := sc.Scan(&k.StoreID, &k.ID, &k.Wrapped); err != nil {
				return nil, err
			}
			if k.Wrapped == nil {
				k.Wrapped = []byte{}
			}
			return &coffer.Record{StoreKey: k}, nil
		},
		args: func(r *coffer.Record) ([]any, error) {
			k := r.StoreKey
			w := k.Wrapped
			if w == nil {
				w = []byte{}
			}
			return []any{k.StoreID, k.ID, w}, nil
		},
		texts: func(r *coffer.Record) []namedText { return []namedText{{"store_id", r.StoreKey.StoreID}} },
	},
	{
		kind: coffer.KindSecret, table: "secrets", cols: secretCols, order: "id",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			s, err := scanSecret(sc)
			return &coffer.Record{Secret: s}, err
		},
		args: func(r *coffer.Record) ([]any, error) {
			s := r.Secret
			labels, scopes, attrs, err := encodeMeta(s)
			if err != nil {
				return nil, err
			}
			return []any{s.ID, s.AccountID, s.StoreID, s.Name, string(s.Status), s.Version, s.Comment, labels, scopes,
				attrs, s.Origin, s.CreatedAt.UnixNano(), s.CreatedBy, s.UpdatedAt.UnixNano(), nullNanos(s.DeletedAt),
				nullNanos(s.ExpiresAt)}, nil
		},
		texts: func(r *coffer.Record) []namedText {
			s := r.Secret
			return []namedText{{"id", s.ID}, {"account_id", s.AccountID}, {"store_id", s.StoreID}, {"name", s.Name},
				{"status", string(s.Status)}, {"comment", s.Comment}, {"origin", s.Origin}, {"created_by", s.CreatedBy}}
		},
	},
	{
		kind: coffer.KindVersion, table: "versions", order: "secret_id, number",
		cols: "secret_id, number, key_id, ciphertext, created_at, created_by, destroyed_at, deleted_at",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			v := &coffer.Version{}
			var created int64
			var destroyed, deleted *int64
			if err := sc.Scan(&v.SecretID, &v.Number, &v.KeyID, &v.Ciphertext, &created, &v.CreatedBy, &destroyed, &deleted); err != nil {
				return nil, err
			}
			v.CreatedAt, v.DestroyedAt, v.DeletedAt = fromNanos(created), fromNullNanos(destroyed), fromNullNanos(deleted)
			return &coffer.Record{Version: v}, nil
		},
		args: func(r *coffer.Record) ([]any, error) {
			v := r.Version
			return []any{v.SecretID, v.Number, v.KeyID, v.Ciphertext, v.CreatedAt.UnixNano(), v.CreatedBy,
				nullNanos(v.DestroyedAt), nullNanos(v.DeletedAt)}, nil
		},
		texts: func(r *coffer.Record) []namedText {
			return []namedText{{"secret_id", r.Version.SecretID}, {"created_by", r.Version.CreatedBy}}
		},
	},
	{
		kind: coffer.KindAudit, table: "audit", cols: auditCols, order: "seq",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			var e coffer.AuditEvent
			var t int64
			if err := sc.Scan(&e.Seq, &t, &e.AccountID, &e.PrincipalID, &e.KeyID, &e.Action, &e.StoreID, &e.SecretID,
				&e.Name, &e.Version, &e.Outcome, &e.Reason, &e.RequestID, &e.Remote, &e.Face, &e.PrevHash, &e.Hash); err != nil {
				return nil, err
			}
			e.Time = fromNanos(t)
			return &coffer.Record{Audit: &e}, nil
		},
		args: func(r *coffer.Record) ([]any, error) {
			e := r.Audit
			return []any{e.Seq, e.Time.UnixNano(), e.AccountID, e.PrincipalID, e.KeyID, e.Action, e.StoreID,
				e.SecretID, e.Name, e.Version, e.Outcome, e.Reason, e.RequestID, e.Remote, e.Face, e.PrevHash, e.Hash}, nil
		},
		texts: func(r *coffer.Record) []namedText {
			e := r.Audit
			return []namedText{{"account_id", e.AccountID}, {"principal_id", e.PrincipalID}, {"key_id", e.KeyID},
				{"action", e.Action}, {"store_id", e.StoreID}, {"secret_id", e.SecretID}, {"name", e.Name},
				{"outcome", e.Outcome}, {"reason", e.Reason}, {"request_id", e.RequestID}, {"remote", e.Remote},
				{"face", e.Face}}
		},
	},
	{
		kind: coffer.KindNonce, table: "nonces", cols: "key, expires", order: "key",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			n := &coffer.Nonce{}
			var key string
			var exp int64
			if err := sc.Scan(&key, &exp); err != nil {
				return nil, err
			}
			if d, err := hex.DecodeString(key); err != nil || copy(n.Digest[:], d) != len(n.Digest) || len(d) != len(n.Digest) {
				return nil, fmt.Errorf("nonce key %q is not a digest", key)
			}
			n.Expires = fromNanos(exp)
			return &coffer.Record{Nonce: n}, nil
		},
		args: func(r *coffer.Record) ([]any, error) {
			return []any{hex.EncodeToString(r.Nonce.Digest[:]), r.Nonce.Expires.UnixNano()}, nil
		},
		texts: func(r *coffer.Record) []namedText { return nil },
	},
	{
		kind: coffer.KindAppRole, table: "approles", cols: appRoleCols, order: "role_id",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			a, err := scanAppRole(sc)
			return &coffer.Record{AppRole: a}, err
		},
		args: func(r *coffer.Record) ([]any, error) {
			a := r.AppRole
			scopes, scidrs, tcidrs, err := a.EncodeLists()
			if err != nil {
				return nil, err
			}
			return []any{a.RoleID, a.AccountID, a.Name, a.PrincipalID, a.KeyID, scopes, int64(a.TokenTTL),
				int64(a.SecretIDTTL), int64(a.SecretIDNumUses), scidrs, tcidrs, a.CreatedAt.UnixNano(), a.UpdatedAt.UnixNano()}, nil
		},
		texts: func(r *coffer.Record) []namedText {
			a := r.AppRole
			return []namedText{{"role_id", a.RoleID}, {"account_id", a.AccountID}, {"name", a.Name},
				{"principal_id", a.PrincipalID}, {"key_id", a.KeyID}}
		},
	},
	{
		kind: coffer.KindAppRoleSecret, table: "approle_secrets", cols: appRoleSecretCols, order: "accessor",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			s, err := scanAppRoleSecret(sc)
			return &coffer.Record{AppRoleSecret: s}, err
		},
		args: func(r *coffer.Record) ([]any, error) {
			s := r.AppRoleSecret
			cidrs, md, err := s.EncodeLists()
			if err != nil {
				return nil, err
			}
			hash := s.Hash
			if hash == nil {
				hash = []byte{}
			}
			return []any{s.Accessor, s.AccountID, s.RoleID, hash, s.CreatedAt.UnixNano(), nullNanos(s.ExpiresAt),
				int64(s.NumUses), int64(s.UsesLeft), cidrs, md}, nil
		},
		texts: func(r *coffer.Record) []namedText {
			s := r.AppRoleSecret
			md, _ := json.Marshal(s.Metadata) // metadata keys and values are TEXT too
			return []namedText{{"accessor", s.Accessor}, {"account_id", s.AccountID}, {"role_id", s.RoleID},
				{"metadata", string(md)}}
		},
	},
	{
		kind: coffer.KindJWTConfig, table: "jwt_configs", cols: jwtConfigCols, order: "id",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			c, err := scanJWTConfig(sc)
			return &coffer.Record{JWTConfig: c}, err
		},
		args: func(r *coffer.Record) ([]any, error) {
			c := r.JWTConfig
			set, err := c.Settings()
			if err != nil {
				return nil, fmt.Errorf("encode jwt config %s: %w", c.ID, err)
			}
			return []any{c.ID, c.AccountID, c.Name, c.Issuer, set, c.CreatedAt.UnixNano(), c.UpdatedAt.UnixNano()}, nil
		},
		texts: func(r *coffer.Record) []namedText {
			c := r.JWTConfig
			set, _ := c.Settings()
			return []namedText{{"id", c.ID}, {"account_id", c.AccountID}, {"name", c.Name}, {"issuer", c.Issuer},
				{"settings", set}}
		},
	},
	{
		kind: coffer.KindJWTRole, table: "jwt_roles", cols: jwtRoleCols, order: "id",
		scan: func(sc pgx.Row) (*coffer.Record, error) {
			j, err := scanJWTRole(sc)
			return &coffer.Record{JWTRole: j}, err
		},
		args: func(r *coffer.Record) ([]any, error) {
			j := r.JWTRole
			set, err := j.Settings()
			if err != nil {
				return nil, fmt.Errorf("encode jwt role %s: %w", j.ID, err)
			}
			return []any{j.ID, j.AccountID, j.ConfigID, j.Name, j.PrincipalID, j.KeyID, set, j.CreatedAt.UnixNano(),
				j.UpdatedAt.UnixNano()}, nil
		},
		texts: func(r *coffer.Record) []namedText {
			j := r.JWTRole
			set, _ := j.Settings()
			return []namedText{{"id", j.ID}, {"account_id", j.AccountID}, {"config_id", j.ConfigID}, {"name", j.Name},
				{"principal_id", j.PrincipalID}, {"key_id", j.KeyID}, {"settings", set}}
		},
	},
}

// tableOf returns the dumpTable of kind k (not the audit head).
func tableOf(k coffer.RecordKind) *dumpTable {
	for i := range dumpTables {
		if dumpTables[i].kind == k {
			return &dumpTables[i]
		}
	}
	return nil
}

// Dump calls emit with every record of the database, from the snapshot of
// one REPEATABLE READ, READ ONLY transaction; see coffer.Dumper. Servers
// sharing the database go on writing meanwhile: the dump holds none of
// their writes that commit after it starts.
func (db *DB) Dump(ctx context.Context, emit func(*coffer.Record) error) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return dbErr("dump", err)
	}
	defer tx.Rollback(context.Background())
	for i := range dumpTables {
		t := &dumpTables[i]
		if t.kind == coffer.KindNonce {
			if err := dumpHead(ctx, tx, emit); err != nil {
				return err
			}
		}
		if err := dumpRows(ctx, tx, t, emit); err != nil {
			return err
		}
	}
	return nil
}

func dumpRows(ctx context.Context, tx pgx.Tx, t *dumpTable, emit func(*coffer.Record) error) error {
	rows, err := tx.Query(ctx, `SELECT `+t.cols+` FROM `+t.table+` ORDER BY `+t.order)
	if err != nil {
		return dbErr("dump "+t.kind.String(), err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := t.scan(rows)
		if err != nil {
			return dbErr("dump "+t.kind.String(), err)
		}
		if err := emit(r); err != nil {
			return err
		}
	}
	return dbErr("dump "+t.kind.String(), rows.Err())
}

func dumpHead(ctx context.Context, tx pgx.Tx, emit func(*coffer.Record) error) error {
	h := &coffer.AuditHead{}
	err := tx.QueryRow(ctx, `SELECT seq, hash, mac FROM audit_head WHERE id = 1 AND seq > 0`).Scan(&h.Seq, &h.Hash, &h.MAC)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return dbErr("dump audit head", err)
	}
	if len(h.MAC) == 0 {
		h.MAC = nil
	}
	return emit(&coffer.Record{AuditHead: h})
}

// Load adds a dump to an empty database in one transaction, each kind of
// record with one COPY; see coffer.Dumper. The transaction holds the lock
// on the audit head from the start, so no server writes meanwhile. Beyond
// the Dumper contract it fails with EINVALID when the dump's audit head is
// missing or behind its last event: the writers of every server continue
// the chain from the head.
func (db *DB) Load(ctx context.Context, next func() (*coffer.Record, error)) error {
	pc, err := db.pool.Acquire(ctx)
	if err != nil {
		return dbErr("load", err)
	}
	defer pc.Release()
	tx, err := pc.Begin(ctx)
	if err != nil {
		return dbErr("load", err)
	}
	defer tx.Rollback(context.Background())
	var used bool
	if err := tx.QueryRow(ctx, `SELECT (SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE) > 0 OR
		EXISTS (SELECT 1 FROM meta) OR EXISTS (SELECT 1 FROM accounts) OR EXISTS (SELECT 1 FROM principals) OR
		EXISTS (SELECT 1 FROM api_keys) OR EXISTS (SELECT 1 FROM hotkeys) OR EXISTS (SELECT 1 FROM stores) OR
		EXISTS (SELECT 1 FROM secrets) OR EXISTS (SELECT 1 FROM audit)`).Scan(&used); err != nil {
		return dbErr("load", err)
	}
	if used {
		return coffer.Errorf(coffer.ECONFLICT, "the database is not empty: load refuses to add to or overwrite data")
	}

	l := &loader{ctx: ctx, next: next}
	for {
		r := l.held
		l.held = nil
		if r == nil {
			if r, err = l.read(); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return err
			}
		}
		if r.AuditHead != nil {
			l.head = r.AuditHead
			continue
		}
		l.held = r
		t := tableOf(r.Kind())
		cols := strings.Fields(strings.ReplaceAll(t.cols, ",", " "))
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.table}, cols, pgx.CopyFromFunc(l.rows(t))); err != nil {
			if l.err != nil {
				return l.err
			}
			return dbErr(fmt.Sprintf("load %s (up to record %d)", t.kind, l.n), err)
		}
	}
	if l.head == nil && l.seq > 0 {
		return coffer.Errorf(coffer.EINVALID, "the dump has audit events but no audit head")
	}
	if l.head != nil {
		if l.head.Seq < l.seq {
			return coffer.Errorf(coffer.EINVALID, "the dump's audit head (event %d) is behind its last event (%d)", l.head.Seq, l.seq)
		}
		var mac []byte
		if len(l.head.MAC) > 0 {
			mac = l.head.MAC
		}
		if _, err := tx.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1`,
			l.head.Seq, l.head.Hash, mac); err != nil {
			return dbErr("load audit head", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return dbErr("load: commit", err)
	}
	return nil
}

// loader feeds the records of a Load to one COPY per kind.
type loader struct {
	ctx   context.Context
	next  func() (*coffer.Record, error)
	order coffer.RecordOrder
	n     int64 // records read

	held *coffer.Record // read, not yet loaded
	eof  bool           // next returned io.EOF
	head *coffer.AuditHead
	seq  int64 // of the last audit event
	err  error // why a COPY stopped, when it was not PostgreSQL's doing
}

// read returns the next record, checked for order (io.EOF at the end).
func (l *loader) read() (*coffer.Record, error) {
	if l.eof {
		return nil, io.EOF
	}
	if l.n%1024 == 0 {
		if err := l.ctx.Err(); err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
	}
	r, err := l.next()
	if errors.Is(err, io.EOF) {
		l.eof = true
		return nil, io.EOF
	} else if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	l.n++
	if _, err := l.order.Check(r); err != nil {
		return nil, err
	}
	return r, nil
}

// rows returns the row source of the COPY of table t: the held record and
// those after it of the same kind.
func (l *loader) rows(t *dumpTable) func() ([]any, error) {
	return func() ([]any, error) {
		r := l.held
		if r == nil {
			var err error
			if r, err = l.read(); errors.Is(err, io.EOF) {
				return nil, nil
			} else if err != nil {
				l.err = err
				return nil, err
			}
			if r.Kind() != t.kind {
				l.held = r
				return nil, nil
			}
		}
		l.held = nil
		for _, f := range t.texts(r) {
			if !validText(f.s) {
				l.err = coffer.Errorf(coffer.EINVALID, "dump record %d (%s): its %s is not valid UTF-8 or holds NUL, which PostgreSQL cannot store", l.n, t.kind, f.name)
				return nil, l.err
			}
		}
		if r.Audit != nil {
			l.seq = r.Audit.Seq
		}
		args, err := t.args(r)
		if err != nil {
			l.err = fmt.Errorf("load %s: %w", t.kind, err)
			return nil, l.err
		}
		return args, nil
	}
}

// ServerSessions returns the number of sessions on the database named
// "coffer" in pg_stat_activity: the name that servers give their sessions
// unless their URL sets application_name. A tool that must run while no
// server does (coffer migrate) opens its own DB under another name and
// checks that this is 0. Servers started with another application_name
// are not counted.
func (db *DB) ServerSessions(ctx context.Context) (int, error) {
	var n int
	if err := db.queryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'coffer'`, nil, &n); err != nil {
		return 0, dbErr("count server sessions", err)
	}
	return n, nil
}
