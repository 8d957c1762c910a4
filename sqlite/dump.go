package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/coffer-dev/coffer"
)

var _ coffer.Dumper = (*DB)(nil)

// dumpTable is how one kind of record is read from the database and
// written to it.
type dumpTable struct {
	kind coffer.RecordKind
	// query reads every row, in primary key order.
	query string
	scan  func(scanner) (*coffer.Record, error)
	// insert adds one row with the arguments args returns.
	insert string
	args   func(*coffer.Record) ([]any, error)
}

// dumpTables lists the kinds of records in dump order (coffer.RecordKind).
var dumpTables = []dumpTable{
	{
		kind:   coffer.KindMeta,
		query:  `SELECT key, value FROM meta WHERE key <> '` + headKey + `' ORDER BY key`,
		insert: `INSERT INTO meta (key, value) VALUES (?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
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
	},
	{
		kind:   coffer.KindAccount,
		query:  `SELECT ` + accountCols + ` FROM accounts ORDER BY id`,
		insert: `INSERT INTO accounts (` + accountCols + `) VALUES (?, ?, ?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
			a, err := scanAccount(sc)
			return &coffer.Record{Account: a}, err
		},
		args: func(r *coffer.Record) ([]any, error) {
			a := r.Account
			return []any{a.ID, a.Name, a.CreatedAt.UnixNano(), a.MAC}, nil
		},
	},
	{
		kind:   coffer.KindPrincipal,
		query:  `SELECT ` + principalCols + ` FROM principals ORDER BY id`,
		insert: `INSERT INTO principals (` + principalCols + `) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
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
	},
	{
		kind:   coffer.KindAPIKey,
		query:  `SELECT ` + apiKeyCols + ` FROM api_keys ORDER BY id`,
		insert: `INSERT INTO api_keys (` + apiKeyCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
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
	},
	{
		kind:   coffer.KindHotkey,
		query:  `SELECT ` + hotkeyCols + ` FROM hotkeys ORDER BY ss58`,
		insert: `INSERT INTO hotkeys (` + hotkeyCols + `) VALUES (?, ?, ?, ?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
			h, err := scanHotkey(sc)
			return &coffer.Record{Hotkey: h}, err
		},
		args: func(r *coffer.Record) ([]any, error) {
			h := r.Hotkey
			return []any{h.SS58, h.AccountID, h.PrincipalID, h.CreatedAt.UnixNano(), h.MAC}, nil
		},
	},
	{
		kind:   coffer.KindStore,
		query:  `SELECT ` + storeCols + ` FROM stores ORDER BY id`,
		insert: `INSERT INTO stores (` + storeCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
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
	},
	{
		kind:   coffer.KindStoreKey,
		query:  `SELECT store_id, id, wrapped FROM store_keys ORDER BY store_id, id`,
		insert: `INSERT INTO store_keys (store_id, id, wrapped) VALUES (?, ?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
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
	},
	{
		kind:   coffer.KindSecret,
		query:  `SELECT ` + secretCols + ` FROM secrets ORDER BY id`,
		insert: insertSecretSQL,
		scan: func(sc scanner) (*coffer.Record, error) {
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
	},
	{
		kind: coffer.KindVersion,
		query: `SELECT secret_id, number, key_id, ciphertext, created_at, created_by, destroyed_at, deleted_at
			FROM versions ORDER BY secret_id, number`,
		insert: `INSERT INTO versions (secret_id, number, key_id, ciphertext, created_at, created_by, destroyed_at, deleted_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
			v := &coffer.Version{}
			var created int64
			var destroyed, deleted sql.NullInt64
			if err := sc.Scan(&v.SecretID, &v.Number, &v.KeyID, &v.Ciphertext, &created, &v.CreatedBy, &destroyed, &deleted); err != nil {
				return nil, err
			}
			v.CreatedAt, v.DestroyedAt, v.DeletedAt = fromNanos(created), fromNullNanos(destroyed), fromNullNanos(deleted)
			return &coffer.Record{Version: v}, nil
		},
		args: func(r *coffer.Record) ([]any, error) {
			v := r.Version
			var ct any
			if v.Ciphertext != nil {
				ct = v.Ciphertext
			}
			return []any{v.SecretID, v.Number, v.KeyID, ct, v.CreatedAt.UnixNano(), v.CreatedBy,
				nullNanos(v.DestroyedAt), nullNanos(v.DeletedAt)}, nil
		},
	},
	{
		kind:   coffer.KindAudit,
		query:  `SELECT ` + auditCols + ` FROM audit ORDER BY seq`,
		insert: `INSERT INTO audit (` + auditCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
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
			var prev any
			if e.PrevHash != nil {
				prev = e.PrevHash
			}
			return []any{e.Seq, e.Time.UnixNano(), e.AccountID, e.PrincipalID, e.KeyID, e.Action, e.StoreID,
				e.SecretID, e.Name, e.Version, e.Outcome, e.Reason, e.RequestID, e.Remote, e.Face, prev, e.Hash}, nil
		},
	},
	{
		kind:   coffer.KindAuditHead,
		query:  `SELECT value FROM meta WHERE key = '` + headKey + `'`,
		insert: `INSERT INTO meta (key, value) VALUES ('` + headKey + `', ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
			var v []byte
			if err := sc.Scan(&v); err != nil {
				return nil, err
			}
			h, err := decodeHead(v)
			return &coffer.Record{AuditHead: h}, err
		},
		args: func(r *coffer.Record) ([]any, error) {
			h := r.AuditHead
			if len(h.Hash) != headHashLen {
				return nil, coffer.Errorf(coffer.EINVALID, "audit head hash is %d bytes, want %d", len(h.Hash), headHashLen)
			}
			return []any{encodeHead(h.Seq, h.Hash, func([]byte) []byte { return h.MAC })}, nil
		},
	},
	{
		kind: coffer.KindNonce,
		// The log may hold a digest more than once (a use, expired, then
		// used again): the latest expiry is the one that counts.
		query:  `SELECT digest, max(expires) FROM nonce_log GROUP BY digest ORDER BY digest`,
		insert: `INSERT INTO nonce_log (digest, expires) VALUES (?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
			n := &coffer.Nonce{}
			var digest []byte
			var exp int64
			if err := sc.Scan(&digest, &exp); err != nil {
				return nil, err
			}
			if copy(n.Digest[:], digest) != len(n.Digest) {
				return nil, fmt.Errorf("a nonce digest of %d bytes", len(digest))
			}
			n.Expires = fromNanos(exp)
			return &coffer.Record{Nonce: n}, nil
		},
		args: func(r *coffer.Record) ([]any, error) {
			return []any{r.Nonce.Digest[:], r.Nonce.Expires.UnixNano()}, nil
		},
	},
	{
		kind:   coffer.KindAppRole,
		query:  `SELECT ` + appRoleCols + ` FROM approles ORDER BY role_id`,
		insert: `INSERT INTO approles (` + appRoleCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
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
				int64(a.SecretIDTTL), a.SecretIDNumUses, scidrs, tcidrs, a.CreatedAt.UnixNano(), a.UpdatedAt.UnixNano()}, nil
		},
	},
	{
		kind:   coffer.KindAppRoleSecret,
		query:  `SELECT ` + appRoleSecretCols + ` FROM approle_secrets ORDER BY accessor`,
		insert: `INSERT INTO approle_secrets (` + appRoleSecretCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
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
				s.NumUses, s.UsesLeft, cidrs, md}, nil
		},
	},
	{
		kind:   coffer.KindJWTConfig,
		query:  `SELECT ` + jwtConfigCols + ` FROM jwt_configs ORDER BY id`,
		insert: `INSERT INTO jwt_configs (` + jwtConfigCols + `) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
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
	},
	{
		kind:   coffer.KindJWTRole,
		query:  `SELECT ` + jwtRoleCols + ` FROM jwt_roles ORDER BY id`,
		insert: `INSERT INTO jwt_roles (` + jwtRoleCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		scan: func(sc scanner) (*coffer.Record, error) {
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
	},
}

// Dump calls emit with every record of the database, from the snapshot of
// one read transaction; see coffer.Dumper. Writes go on meanwhile (WAL): the
// dump holds none of them.
func (db *DB) Dump(ctx context.Context, emit func(*coffer.Record) error) error {
	// Uses of the replay cache acknowledged before the dump are in it.
	db.flushNonces()
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	defer tx.Rollback()
	for _, t := range dumpTables {
		if err := dumpRows(ctx, tx, t, emit); err != nil {
			return err
		}
	}
	return nil
}

func dumpRows(ctx context.Context, tx *sql.Tx, t dumpTable, emit func(*coffer.Record) error) error {
	rows, err := tx.QueryContext(ctx, t.query)
	if err != nil {
		return fmt.Errorf("dump %s: %w", t.kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := t.scan(rows)
		if err != nil {
			return fmt.Errorf("dump %s: %w", t.kind, err)
		}
		if err := emit(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("dump %s: %w", t.kind, err)
	}
	return nil
}

// Load adds a dump to an empty database in one write op; see
// coffer.Dumper. The writer runs nothing else meanwhile. Once it commits,
// the writer's audit tail and the store index hold the loaded chain and
// stores, so that writes after it continue them.
func (db *DB) Load(ctx context.Context, next func() (*coffer.Record, error)) error {
	return db.do(ctx, nil, func(w *writer) error {
		return w.load(ctx, next)
	})
}

func (w *writer) load(ctx context.Context, next func() (*coffer.Record, error)) error {
	var used bool
	err := w.conn.QueryRowContext(w.ctx, `SELECT
		EXISTS (SELECT 1 FROM meta) OR EXISTS (SELECT 1 FROM accounts) OR EXISTS (SELECT 1 FROM principals) OR
		EXISTS (SELECT 1 FROM api_keys) OR EXISTS (SELECT 1 FROM hotkeys) OR EXISTS (SELECT 1 FROM stores) OR
		EXISTS (SELECT 1 FROM secrets) OR EXISTS (SELECT 1 FROM audit)`).Scan(&used)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if used || len(w.events) > 0 {
		return coffer.Errorf(coffer.ECONFLICT, "the database is not empty: load refuses to add to or overwrite data")
	}

	stmts := map[coffer.RecordKind]*sql.Stmt{}
	defer func() {
		for _, s := range stmts {
			s.Close()
		}
	}()
	var (
		order  coffer.RecordOrder
		stores []*coffer.Store
		seq    int64
		hash   []byte
		head   *coffer.AuditHead
		nonces []coffer.Nonce
	)
	for n := int64(1); ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("load: %w", err)
			}
		}
		r, err := next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		kind, err := order.Check(r)
		if err != nil {
			return err
		}
		t := dumpTables[kind-1]
		args, err := t.args(r)
		if err != nil {
			return fmt.Errorf("load %s: %w", kind, err)
		}
		s := stmts[kind]
		if s == nil {
			if s, err = w.conn.PrepareContext(w.ctx, t.insert); err != nil {
				return fmt.Errorf("load %s: %w", kind, err)
			}
			stmts[kind] = s
		}
		if _, err := s.ExecContext(w.ctx, args...); err != nil {
			return fmt.Errorf("load %s (record %d): %w", kind, n, err)
		}
		switch kind {
		case coffer.KindStore:
			stores = append(stores, r.Store)
		case coffer.KindAudit:
			seq, hash = r.Audit.Seq, r.Audit.Hash
		case coffer.KindAuditHead:
			head = r.AuditHead
		case coffer.KindNonce:
			nonces = append(nonces, *r.Nonce)
		}
	}
	// The tail, as loadTail finds it on open: events of this batch after
	// the load chain on from it.
	if head != nil && head.Seq > seq {
		seq, hash = head.Seq, head.Hash
	}
	w.seq, w.hash = seq, append([]byte(nil), hash...)
	w.afterCommit(func() {
		for _, s := range stores {
			w.stores.put(s)
		}
		for _, n := range nonces { // the replay cache decides in memory
			w.nonceCache.add(n.Digest, n.Expires.UnixNano())
		}
	})
	return nil
}
