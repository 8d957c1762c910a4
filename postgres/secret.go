package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
)

const secretCols = `id, account_id, store_id, name, status, version, comment, labels, scopes, attributes,
	origin, created_at, created_by, updated_at, deleted_at, expires_at`

// secretByRefSQL finds a secret of store $2 of account $1 by ref $3
// (coffer.Storage.Secret): the secret with id $4 first, else the live
// secret of that name. $4 is idRef($3): NULL unless the ref is an id, so
// other refs are names only.
const secretByRefSQL = `SELECT ` + secretCols + ` FROM (
		SELECT 0 AS rank, ` + secretCols + ` FROM secrets WHERE id = $4 AND store_id = $2 AND account_id = $1
		UNION ALL
		SELECT 1, ` + secretCols + ` FROM secrets
		WHERE store_id = $2 AND account_id = $1 AND name = $3 AND status <> 'deleted'
	) s ORDER BY rank LIMIT 1`

// storeIDSQL is the id of the store $2 (id, else name) of account $1.
const storeIDSQL = `coalesce(
		(SELECT id FROM stores WHERE id = $2 AND account_id = $1),
		(SELECT id FROM stores WHERE account_id = $1 AND name = $2))`

// readVersionSQL is the hot path of every value read: one query resolves the
// store (id, else name, as Store does), the secret (id, else live name, as
// secretByRefSQL, with $5 the idRef of $3) and the version (latest when $4
// is 0), and returns a row
// only for an active secret and a version that is not destroyed (a
// soft-deleted one comes with its deletion time). Each
// lookup is one index probe; coalesce evaluates its second subquery only
// when the first finds nothing. Columns whose value the query implies
// (account, status, deletion time, version number) are left out. The expiry
// comes with the row, so that the service refuses an expired secret without
// another query.
const readVersionSQL = `SELECT s.id, s.store_id, s.name, s.version, s.comment, s.labels, s.scopes, s.attributes,
		s.origin, s.created_at, s.created_by, s.updated_at, s.expires_at, v.key_id, v.ciphertext, v.created_at, v.created_by,
		v.deleted_at
	FROM secrets s JOIN versions v ON v.secret_id = s.id
		AND v.number = CASE WHEN $4::integer = 0 THEN s.version ELSE $4::integer END
	WHERE s.id = coalesce(
		(SELECT id FROM secrets WHERE id = $5 AND store_id = ` + storeIDSQL + `),
		(SELECT id FROM secrets WHERE store_id = ` + storeIDSQL + ` AND name = $3 AND status <> 'deleted'))
	AND s.account_id = $1 AND s.status = 'active' AND v.ciphertext IS NOT NULL`

// secretRow holds the scan targets of secretCols.
type secretRow struct {
	s                          coffer.Secret
	status                     string
	labels, scopes, attributes string
	created, updated           int64
	deleted, expires           *int64
}

func (r *secretRow) dest() []any {
	return []any{&r.s.ID, &r.s.AccountID, &r.s.StoreID, &r.s.Name, &r.status, &r.s.Version, &r.s.Comment,
		&r.labels, &r.scopes, &r.attributes, &r.s.Origin, &r.created, &r.s.CreatedBy, &r.updated, &r.deleted, &r.expires}
}

// secret decodes the scanned row.
func (r *secretRow) secret() (*coffer.Secret, error) {
	s := r.s
	s.Status = coffer.Status(r.status)
	s.CreatedAt, s.UpdatedAt, s.DeletedAt = fromNanos(r.created), fromNanos(r.updated), fromNullNanos(r.deleted)
	s.ExpiresAt = fromNullNanos(r.expires)
	for _, f := range []struct {
		text string
		v    any
	}{{r.labels, &s.Labels}, {r.scopes, &s.Scopes}, {r.attributes, &s.Attributes}} {
		if f.text == "" {
			continue
		}
		if err := json.Unmarshal([]byte(f.text), f.v); err != nil {
			return nil, fmt.Errorf("decode metadata of secret %s: %w", s.ID, err)
		}
	}
	return &s, nil
}

func scanSecret(sc pgx.Row) (*coffer.Secret, error) {
	var r secretRow
	if err := sc.Scan(r.dest()...); err != nil {
		return nil, err
	}
	return r.secret()
}

// encodeMeta returns the JSON columns of a secret, empty for empty ones.
func encodeMeta(s *coffer.Secret) (labels, scopes, attributes string, err error) {
	enc := func(n int, v any) string {
		if n == 0 || err != nil {
			return ""
		}
		var b []byte
		b, err = json.Marshal(v)
		return string(b)
	}
	labels, scopes, attributes = enc(len(s.Labels), s.Labels), enc(len(s.Scopes), s.Scopes), enc(len(s.Attributes), s.Attributes)
	if err != nil {
		return "", "", "", fmt.Errorf("encode metadata of secret %s: %w", s.ID, err)
	}
	return labels, scopes, attributes, nil
}

// WriteSecret creates a secret or adds a version to it; see
// coffer.SecretWrite. A write without Seal and with a live secret of the
// name fails with ECONFLICT: there is nothing to add to it.
func (db *DB) WriteSecret(ctx context.Context, sw *coffer.SecretWrite, ev *coffer.AuditEvent) (*coffer.Secret, error) {
	at := stamp(sw.At)
	var out *coffer.Secret
	err := db.do(ctx, ev, func(w *writer) error {
		var err error
		out, err = w.writeSecret(sw, at, ev)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (w *writer) writeSecret(sw *coffer.SecretWrite, at time.Time, ev *coffer.AuditEvent) (*coffer.Secret, error) {
	s, _, err := w.writeSecretCreated(sw, at, ev)
	return s, err
}

// writeSecretCreated is writeSecret that also tells whether the write
// created the secret.
func (w *writer) writeSecretCreated(sw *coffer.SecretWrite, at time.Time, ev *coffer.AuditEvent) (*coffer.Secret, bool, error) {
	fillEvent(ev, sw.AccountID, sw.StoreID, "")
	if sw.Seal == nil && sw.Create == nil {
		return nil, false, coffer.Errorf(coffer.EINVALID, "a write without a value must create a secret")
	}
	// In one round trip: the live secret, locked until the transaction
	// ends (its version counter is what the new version number comes
	// from), and whether the store is in the account. A store deleted
	// meanwhile makes the insert fail on its foreign key.
	var s *coffer.Secret
	var storeOK bool
	err := w.send(q{sql: `SELECT ` + secretCols + ` FROM secrets WHERE store_id = $1 AND name = $2
		AND status <> 'deleted' FOR UPDATE`, args: []any{sw.StoreID, sw.Name}, row: func(r pgx.Row) (err error) {
		if s, err = scanSecret(r); errors.Is(err, pgx.ErrNoRows) {
			s, err = nil, nil
		}
		return err
	}}, q{sql: `SELECT EXISTS (SELECT 1 FROM stores WHERE id = $1 AND account_id = $2)`, args: []any{sw.StoreID, sw.AccountID},
		row: func(r pgx.Row) error { return r.Scan(&storeOK) }})
	if err != nil {
		return nil, false, fmt.Errorf("read secret: %w", err)
	} else if !storeOK {
		return nil, false, coffer.Errorf(coffer.ENOTFOUND, "store not found")
	}

	if s != nil {
		fillEvent(ev, "", "", s.ID)
	}
	r, err := sw.Apply(s, at)
	if err != nil {
		return nil, false, err
	}
	s = r.Secret
	create, bump, ciphertext, keyID := r.Create, r.Bump, r.Ciphertext, r.KeyID
	fillEvent(ev, "", "", s.ID)
	if ev != nil && ciphertext != nil {
		ev.Version = s.Version
	}

	// The secret's row and the version go in one round trip.
	put, err := putSecret(s, create, bump)
	if err != nil {
		return nil, false, err
	}
	qs := []q{put}
	if sw.Seal != nil {
		qs = append(qs, q{sql: `INSERT INTO versions (secret_id, number, key_id, ciphertext, created_at, created_by, deleted_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, args: []any{s.ID, s.Version, keyID, ciphertext, at.UnixNano(), sw.By,
			nullNanos(r.DeletedAt)}})
	}
	if r.DestroyThrough > 0 {
		qs = append(qs, q{sql: `UPDATE versions SET ciphertext = NULL, destroyed_at = $1
			WHERE secret_id = $2 AND number <= $3 AND ciphertext IS NOT NULL`, args: []any{at.UnixNano(), s.ID, r.DestroyThrough}})
	}
	if err := w.send(qs...); err != nil {
		return nil, false, writeErr(s, err)
	}
	w.touchStore(s.StoreID)
	return s, create, nil
}

// putSecret returns the statement that writes s: a new row when create,
// only its version counter when bump, else all its mutable columns.
func putSecret(s *coffer.Secret, create, bump bool) (q, error) {
	if bump {
		return q{sql: `UPDATE secrets SET version = $1, updated_at = $2 WHERE id = $3`,
			args: []any{s.Version, s.UpdatedAt.UnixNano(), s.ID}}, nil
	}
	labels, scopes, attributes, err := encodeMeta(s)
	if err != nil {
		return q{}, err
	}
	if create {
		return q{sql: `INSERT INTO secrets (` + secretCols + `)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			args: []any{s.ID, s.AccountID, s.StoreID, s.Name, string(s.Status), s.Version, s.Comment, labels, scopes, attributes,
				s.Origin, s.CreatedAt.UnixNano(), s.CreatedBy, s.UpdatedAt.UnixNano(), nil, nullNanos(s.ExpiresAt)}}, nil
	}
	return q{sql: `UPDATE secrets SET status = $1, version = $2, comment = $3, labels = $4, scopes = $5,
			attributes = $6, updated_at = $7, deleted_at = $8, expires_at = $9 WHERE id = $10`,
		args: []any{string(s.Status), s.Version, s.Comment, labels, scopes, attributes, s.UpdatedAt.UnixNano(),
			nullNanos(s.DeletedAt), nullNanos(s.ExpiresAt), s.ID}}, nil
}

// writeErr maps the failure of a secret's write: the unique constraints
// that concurrent writers may meet are conflicts.
func writeErr(s *coffer.Secret, err error) error {
	if !isUnique(err) {
		return fmt.Errorf("write secret: %w", err)
	}
	switch constraint(err) {
	case "secrets_live_name":
		return coffer.Errorf(coffer.ECONFLICT, "a live secret named %q exists", s.Name)
	case "versions_pkey": // cannot happen under the row lock; the key makes sure
		return coffer.Errorf(coffer.ECONFLICT, "version %d of secret %q exists", s.Version, s.Name)
	}
	return coffer.Errorf(coffer.ECONFLICT, "secret %s already exists", s.ID)
}

// Secret returns a secret of a store by ref: the secret (live or deleted)
// with that id first, else the live secret of that name (ENOTFOUND).
func (db *DB) Secret(ctx context.Context, accountID, storeID, ref string) (*coffer.Secret, error) {
	return db.oneSecret(ctx, secretByRefSQL, accountID, storeID, ref, idRef(ref))
}

// SecretByID returns a secret of the account by id, in any store, live or
// deleted (ENOTFOUND).
func (db *DB) SecretByID(ctx context.Context, accountID, id string) (*coffer.Secret, error) {
	return db.oneSecret(ctx, `SELECT `+secretCols+` FROM secrets WHERE account_id = $1 AND id = $2`, accountID, id)
}

func (db *DB) oneSecret(ctx context.Context, sql string, args ...any) (*coffer.Secret, error) {
	var s *coffer.Secret
	err := db.query(ctx, sql, args, func(rows pgx.Rows) (err error) {
		s, err = scanSecret(rows)
		return err
	})
	if err != nil {
		return nil, dbErr("read secret", err)
	} else if s == nil {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "secret not found")
	}
	return s, nil
}

// Secrets lists the secrets of a store of the account; see
// Secrets lists the secrets of a store of the account; see
// coffer.SecretQuery. A missing store gives ENOTFOUND.
func (db *DB) Secrets(ctx context.Context, accountID, storeID string, q coffer.SecretQuery) ([]*coffer.Secret, error) {
	var b strings.Builder
	b.WriteString(`SELECT ` + secretCols + ` FROM secrets`)
	args := secretFilter(&b, accountID, storeID, q)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	b.WriteString(orderBy(q.Order, q.Desc))
	b.WriteString(` LIMIT ` + arg(pageLimit(q.Limit)))
	if q.Offset > 0 {
		b.WriteString(` OFFSET ` + arg(q.Offset))
	}

	var out []*coffer.Secret
	err := db.query(ctx, b.String(), args, func(rows pgx.Rows) error {
		s, err := scanSecret(rows)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, dbErr("list secrets", err)
	}
	if len(out) == 0 {
		return db.emptyList(ctx, accountID, storeID)
	}
	return out, nil
}

// CountSecrets counts the secrets of a store that q's filters match; see
// coffer.Storage.
func (db *DB) CountSecrets(ctx context.Context, accountID, storeID string, q coffer.SecretQuery) (int, error) {
	var b strings.Builder
	b.WriteString(`SELECT count(*) FROM secrets`)
	q.AfterName, q.AfterID = "", ""
	args := secretFilter(&b, accountID, storeID, q)
	var n int
	if err := db.queryRow(ctx, b.String(), args, &n); err != nil {
		return 0, dbErr("count secrets", err)
	}
	if n == 0 {
		_, err := db.emptyList(ctx, accountID, storeID)
		return 0, err
	}
	return n, nil
}

// secretFilter writes the WHERE clause of a listing and returns its
// arguments.
func secretFilter(b *strings.Builder, accountID, storeID string, q coffer.SecretQuery) []any {
	b.WriteString(` WHERE store_id = $1 AND account_id = $2`)
	args := []any{storeID, accountID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !q.IncludeDeleted {
		b.WriteString(` AND status <> 'deleted'`)
	}
	if q.Prefix != "" {
		b.WriteString(` AND name >= ` + arg(q.Prefix))
		if end, ok := prefixEnd(q.Prefix); ok {
			b.WriteString(` AND name < ` + arg(end))
		}
	}
	if q.Contains != "" {
		b.WriteString(` AND strpos(name, ` + arg(q.Contains) + `) > 0`)
	}
	cmp := " > "
	if q.Desc {
		cmp = " < "
	}
	switch {
	case q.AfterID != "":
		b.WriteString(` AND (name, id)` + cmp + `(` + arg(q.AfterName) + `, ` + arg(q.AfterID) + `)`)
	case q.AfterName != "":
		b.WriteString(` AND name` + cmp + arg(q.AfterName))
	}
	return args
}

// emptyList is the answer of a listing that found nothing: ENOTFOUND when
// the store is not in the account.
func (db *DB) emptyList(ctx context.Context, accountID, storeID string) ([]*coffer.Secret, error) {
	var ok bool
	if err := db.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM stores WHERE id = $1 AND account_id = $2)`,
		[]any{storeID, accountID}, &ok); err != nil {
		return nil, dbErr("read store", err)
	} else if !ok {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "store not found")
	}
	return nil, nil
}

// prefixEnd returns the smallest valid string greater than every string
// that starts with p, if there is one: p with its last rune replaced by the
// next one (byte order is code point order in UTF-8, and the "C" collation
// compares bytes).
func prefixEnd(p string) (string, bool) {
	for p != "" {
		r, n := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-n]
		for r++; r <= utf8.MaxRune; r++ {
			if utf8.ValidRune(r) {
				return p + string(r), true
			}
		}
	}
	return "", false
}

// UpdateSecret changes a secret's metadata or status; see
// coffer.SecretUpdate. Moving a live secret to a live status changes nothing.
func (db *DB) UpdateSecret(ctx context.Context, accountID, secretID string, u *coffer.SecretUpdate, ev *coffer.AuditEvent) (*coffer.Secret, error) {
	at := stamp(u.At)
	var out *coffer.Secret
	err := db.do(ctx, ev, func(w *writer) error {
		var err error
		out, err = w.updateSecret(accountID, secretID, u, at, ev)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (w *writer) updateSecret(accountID, secretID string, u *coffer.SecretUpdate, at time.Time, ev *coffer.AuditEvent) (*coffer.Secret, error) {
	fillEvent(ev, accountID, "", secretID)
	s, err := w.secret(accountID, secretID)
	if err != nil {
		return nil, err
	}
	fillEvent(ev, "", s.StoreID, "")
	if err := s.ApplyUpdate(u, at, func() (bool, error) { return w.nameTaken(s) }); err != nil {
		return nil, err
	}
	put, err := putSecret(s, false, false)
	if err != nil {
		return nil, err
	}
	if err := w.send(put); err != nil {
		return nil, writeErr(s, err)
	}
	w.touchStore(s.StoreID)
	return s, nil
}

// nameTaken reports whether a live secret holds the name of s in its store.
func (w *writer) nameTaken(s *coffer.Secret) (bool, error) {
	var ok bool
	if err := w.queryRow(`SELECT EXISTS (SELECT 1 FROM secrets WHERE store_id = $1 AND name = $2
		AND status <> 'deleted')`, s.StoreID, s.Name).Scan(&ok); err != nil {
		return false, fmt.Errorf("read secret: %w", err)
	}
	return ok, nil
}

// secret returns a secret of the account by id inside the write transaction,
// locked until it ends (ENOTFOUND).
func (w *writer) secret(accountID, id string) (*coffer.Secret, error) {
	s, err := scanSecret(w.queryRow(`SELECT `+secretCols+` FROM secrets WHERE id = $1 AND account_id = $2 FOR UPDATE`,
		id, accountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "secret not found")
	} else if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	return s, nil
}

// PurgeSecret removes a deleted secret of the account and all its versions
// (ENOTFOUND; ECONFLICT if it is not deleted).
func (db *DB) PurgeSecret(ctx context.Context, accountID, secretID string, ev *coffer.AuditEvent) error {
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, "", secretID)
		s, err := w.secret(accountID, secretID)
		if err != nil {
			return err
		}
		fillEvent(ev, "", s.StoreID, "")
		if s.Status != coffer.StatusDeleted {
			return coffer.Errorf(coffer.ECONFLICT, "secret %q is not deleted", s.Name)
		}
		// Its versions go by ON DELETE CASCADE.
		if _, err := w.exec(`DELETE FROM secrets WHERE id = $1`, secretID); err != nil {
			return fmt.Errorf("purge secret: %w", err)
		}
		w.touchStore(s.StoreID)
		return nil
	})
}

// Versions lists a secret's versions, newest first, without ciphertext
// (ENOTFOUND for a missing secret).
func (db *DB) Versions(ctx context.Context, accountID, secretID string) ([]*coffer.Version, error) {
	var out []*coffer.Version
	found := false
	// The secret's row comes first, then its versions: one query tells a
	// secret without versions from a missing one.
	err := db.query(ctx, `SELECT number, key_id, created_at, created_by, destroyed_at, deleted_at FROM (
			SELECT 0 AS number, 0 AS key_id, 0::bigint AS created_at, '' AS created_by, NULL::bigint AS destroyed_at,
				NULL::bigint AS deleted_at
			FROM secrets WHERE id = $1 AND account_id = $2
			UNION ALL
			SELECT v.number, v.key_id, v.created_at, v.created_by, v.destroyed_at, v.deleted_at
			FROM secrets s JOIN versions v ON v.secret_id = s.id
			WHERE s.id = $1 AND s.account_id = $2
		) x ORDER BY number DESC`, []any{secretID, accountID},
		func(rows pgx.Rows) error {
			v := &coffer.Version{SecretID: secretID}
			var created int64
			var destroyed, deleted *int64
			if err := rows.Scan(&v.Number, &v.KeyID, &created, &v.CreatedBy, &destroyed, &deleted); err != nil {
				return err
			}
			if v.Number == 0 {
				found = true
				return nil
			}
			v.CreatedAt, v.DestroyedAt, v.DeletedAt = fromNanos(created), fromNullNanos(destroyed), fromNullNanos(deleted)
			out = append(out, v)
			return nil
		})
	if err != nil {
		return nil, dbErr("list versions", err)
	} else if !found {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "secret not found")
	}
	return out, nil
}

// ReadVersion returns a live, active secret and one of its versions with the
// ciphertext (the latest when version is 0); see coffer.Storage.
func (db *DB) ReadVersion(ctx context.Context, accountID, storeRef, secretRef string, version int) (*coffer.Secret, *coffer.Version, error) {
	r := secretRow{s: coffer.Secret{AccountID: accountID}, status: string(coffer.StatusActive)}
	v := &coffer.Version{}
	var created int64
	var deleted *int64
	err := db.queryRow(ctx, readVersionSQL, []any{accountID, storeRef, secretRef, version, idRef(secretRef)},
		&r.s.ID, &r.s.StoreID, &r.s.Name, &r.s.Version, &r.s.Comment, &r.labels, &r.scopes, &r.attributes,
		&r.s.Origin, &r.created, &r.s.CreatedBy, &r.updated, &r.expires, &v.KeyID, &v.Ciphertext, &created, &v.CreatedBy,
		&deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, coffer.Errorf(coffer.ENOTFOUND, "secret or version not found")
	} else if err != nil {
		return nil, nil, dbErr("read version", err)
	}
	s, err := r.secret()
	if err != nil {
		return nil, nil, fmt.Errorf("read version: %w", err)
	}
	v.SecretID, v.Number, v.CreatedAt, v.DeletedAt = s.ID, version, fromNanos(created), fromNullNanos(deleted)
	if version == 0 {
		v.Number = s.Version
	}
	return s, v, nil
}

// DestroyVersion erases a version's ciphertext and keeps its metadata
// (ENOTFOUND). Destroying a destroyed version keeps its first time.
func (db *DB) DestroyVersion(ctx context.Context, accountID, secretID string, version int, at time.Time, ev *coffer.AuditEvent) error {
	at = stamp(at)
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, "", secretID)
		if ev != nil && ev.Version == 0 {
			ev.Version = version
		}
		s, err := w.secret(accountID, secretID)
		if err != nil {
			return err
		}
		fillEvent(ev, "", s.StoreID, "")
		ct, err := w.exec(`UPDATE versions SET ciphertext = NULL, destroyed_at = coalesce(destroyed_at, $1)
			WHERE secret_id = $2 AND number = $3`, at.UnixNano(), secretID, version)
		if err != nil {
			return fmt.Errorf("destroy version: %w", err)
		} else if ct.RowsAffected() == 0 {
			return coffer.Errorf(coffer.ENOTFOUND, "version %d not found", version)
		}
		w.touchStore(s.StoreID)
		return nil
	})
}

// idRef is the id a secret ref can name: the ref itself when it is an id
// (coffer.IsID), else NULL, so that any other ref is looked up only as a
// name (coffer.Storage.Secret).
func idRef(ref string) any {
	if coffer.IsID(ref) {
		return ref
	}
	return nil
}
