package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
)

const secretCols = `id, account_id, store_id, name, status, version, comment, labels, scopes, attributes,
	origin, created_at, created_by, updated_at, deleted_at, expires_at`

const insertSecretSQL = `INSERT INTO secrets (` + secretCols + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const saveSecretSQL = `UPDATE secrets SET status = ?, version = ?, comment = ?, labels = ?, scopes = ?,
	attributes = ?, updated_at = ?, deleted_at = ?, expires_at = ? WHERE id = ?`

// secretByRefSQL finds a secret of a store by ref ?3 (coffer.Storage.Secret):
// the secret with id ?4 first, else the live secret of that name. ?4 is
// idRef(?3): NULL unless the ref is an id, so other refs are names only.
// Each branch is one index probe; LIMIT 1 stops after the first branch that
// finds one.
const secretByRefSQL = `SELECT ` + secretCols + ` FROM secrets WHERE id = ?4 AND store_id = ?2 AND account_id = ?1
	UNION ALL
	SELECT ` + secretCols + ` FROM secrets
	WHERE store_id = ?2 AND account_id = ?1 AND name = ?3 AND status <> 'deleted'
	LIMIT 1`

// readVersionSQL is the hot path of every value read: one query resolves the
// store (id, else name, as Store does), the secret (id, else live name, as
// secretByRefSQL, with ?5 the idRef of ?3) and the version (latest when ?4
// is 0), and returns a row
// only for an active secret and a version that is not destroyed (a
// soft-deleted one comes with its deletion time). Every
// lookup is one index probe; coalesce evaluates its second subquery only
// when the first finds nothing, and an uncorrelated subquery runs at most
// once. Columns whose value the query implies (account, status, deletion
// time, version number) are left out: each column costs. The expiry comes
// with the row, so that the service refuses an expired secret without
// another query.
const readVersionSQL = `SELECT s.id, s.store_id, s.name, s.version, s.comment, s.labels, s.scopes, s.attributes,
		s.origin, s.created_at, s.created_by, s.updated_at, s.expires_at, v.key_id, v.ciphertext, v.created_at, v.created_by,
		v.deleted_at
	FROM secrets s JOIN versions v ON v.secret_id = s.id AND v.number = iif(?4 = 0, s.version, ?4)
	WHERE s.id = coalesce(
		(SELECT id FROM secrets WHERE id = ?5 AND store_id = ` + storeIDSQL + `),
		(SELECT id FROM secrets WHERE store_id = ` + storeIDSQL + ` AND name = ?3 AND status <> 'deleted'))
	AND s.status = 'active' AND v.ciphertext IS NOT NULL`

// storeIDSQL is the id of the store ?2 (id, else name) of account ?1.
const storeIDSQL = `coalesce(
		(SELECT id FROM stores WHERE id = ?2 AND account_id = ?1),
		(SELECT id FROM stores WHERE account_id = ?1 AND name = ?2))`

// secretRow holds the scan targets of secretCols.
type secretRow struct {
	s                          coffer.Secret
	status                     string
	labels, scopes, attributes string
	created, updated           int64
	deleted, expires           sql.NullInt64
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

func scanSecret(sc scanner) (*coffer.Secret, error) {
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
	// The live secret, when there is one, proves that the store is in the
	// account (a secret's account is its store's); otherwise ask the store.
	s, err := scanSecret(w.liveSecret.QueryRowContext(w.ctx, sw.StoreID, sw.Name))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		s = nil
		if ok, err := w.storeOf(sw.AccountID, sw.StoreID); err != nil {
			return nil, false, err
		} else if !ok {
			return nil, false, coffer.Errorf(coffer.ENOTFOUND, "store not found")
		}
	case err != nil:
		return nil, false, fmt.Errorf("read secret: %w", err)
	case s.AccountID != sw.AccountID:
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

	if err := w.put(s, create, bump); err != nil {
		return nil, false, err
	}
	if sw.Seal != nil {
		if _, err := w.insertVersion.ExecContext(w.ctx, s.ID, s.Version, keyID, ciphertext, at.UnixNano(), sw.By,
			nullNanos(r.DeletedAt)); err != nil {
			return nil, false, fmt.Errorf("write version: %w", err)
		}
	}
	if r.DestroyThrough > 0 {
		if _, err := w.conn.ExecContext(w.ctx, `UPDATE versions SET ciphertext = NULL, destroyed_at = ?
			WHERE secret_id = ? AND number <= ? AND ciphertext IS NOT NULL`, at.UnixNano(), s.ID, r.DestroyThrough); err != nil {
			return nil, false, fmt.Errorf("destroy old versions: %w", err)
		}
	}
	w.touchStore(s.StoreID)
	return s, create, nil
}

// put writes s: a new row when create, only its version counter when bump,
// else all its mutable columns.
func (w *writer) put(s *coffer.Secret, create, bump bool) error {
	if bump {
		if _, err := w.bumpVersion.ExecContext(w.ctx, s.Version, s.UpdatedAt.UnixNano(), s.ID); err != nil {
			return fmt.Errorf("write secret: %w", err)
		}
		return nil
	}
	labels, scopes, attributes, err := encodeMeta(s)
	if err != nil {
		return err
	}
	if create {
		_, err = w.insertSecret.ExecContext(w.ctx, s.ID, s.AccountID, s.StoreID, s.Name, string(s.Status), s.Version,
			s.Comment, labels, scopes, attributes, s.Origin, s.CreatedAt.UnixNano(), s.CreatedBy,
			s.UpdatedAt.UnixNano(), nil, nullNanos(s.ExpiresAt))
		if isUnique(err) {
			return coffer.Errorf(coffer.ECONFLICT, "secret %s already exists", s.ID)
		}
	} else {
		_, err = w.saveSecret.ExecContext(w.ctx, string(s.Status), s.Version, s.Comment, labels, scopes, attributes,
			s.UpdatedAt.UnixNano(), nullNanos(s.DeletedAt), nullNanos(s.ExpiresAt), s.ID)
		if isUnique(err) {
			return coffer.Errorf(coffer.ECONFLICT, "a live secret named %q exists", s.Name)
		}
	}
	if err != nil {
		return fmt.Errorf("write secret: %w", err)
	}
	return nil
}

// Secret returns a secret of a store by ref: the secret (live or deleted)
// with that id first, else the live secret of that name (ENOTFOUND).
func (db *DB) Secret(ctx context.Context, accountID, storeID, ref string) (*coffer.Secret, error) {
	s, err := scanSecret(db.rs.secret.QueryRowContext(ctx, accountID, storeID, ref, idRef(ref)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "secret not found")
	} else if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	return s, nil
}

// SecretByID returns a secret of the account by id, in any store, live or
// deleted (ENOTFOUND).
func (db *DB) SecretByID(ctx context.Context, accountID, id string) (*coffer.Secret, error) {
	s, err := scanSecret(db.read.QueryRowContext(ctx, `SELECT `+secretCols+` FROM secrets WHERE id = ? AND account_id = ?`, id, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "secret not found")
	} else if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	return s, nil
}

// Secrets lists the secrets of a store of the account; see
// coffer.SecretQuery. A missing store gives ENOTFOUND.
func (db *DB) Secrets(ctx context.Context, accountID, storeID string, q coffer.SecretQuery) ([]*coffer.Secret, error) {
	var b strings.Builder
	b.WriteString(`SELECT ` + secretCols + ` FROM secrets`)
	args := secretFilter(&b, accountID, storeID, q)
	b.WriteString(orderBy(q.Order, q.Desc))
	b.WriteString(` LIMIT ?`)
	args = append(args, pageLimit(q.Limit))
	if q.Offset > 0 {
		b.WriteString(` OFFSET ?`)
		args = append(args, q.Offset)
	}

	rows, err := db.read.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	defer rows.Close()
	var out []*coffer.Secret
	for rows.Next() {
		s, err := scanSecret(rows)
		if err != nil {
			return nil, fmt.Errorf("list secrets: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	if len(out) == 0 && !db.stores.has(accountID, storeID) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "store not found")
	}
	return out, nil
}

// CountSecrets counts the secrets of a store that q's filters match; see
// coffer.Storage.
func (db *DB) CountSecrets(ctx context.Context, accountID, storeID string, q coffer.SecretQuery) (int, error) {
	if !db.stores.has(accountID, storeID) {
		return 0, coffer.Errorf(coffer.ENOTFOUND, "store not found")
	}
	var b strings.Builder
	b.WriteString(`SELECT count(*) FROM secrets`)
	q.AfterName, q.AfterID = "", ""
	args := secretFilter(&b, accountID, storeID, q)
	var n int
	if err := db.read.QueryRowContext(ctx, b.String(), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count secrets: %w", err)
	}
	return n, nil
}

// secretFilter writes the WHERE clause of a listing and returns its
// arguments.
func secretFilter(b *strings.Builder, accountID, storeID string, q coffer.SecretQuery) []any {
	b.WriteString(` WHERE store_id = ? AND account_id = ?`)
	args := []any{storeID, accountID}
	if !q.IncludeDeleted {
		b.WriteString(` AND status <> 'deleted'`)
	}
	if q.Prefix != "" {
		b.WriteString(` AND name >= ?`)
		args = append(args, q.Prefix)
		if end, ok := prefixEnd(q.Prefix); ok {
			b.WriteString(` AND name < ?`)
			args = append(args, end)
		}
	}
	if q.Contains != "" {
		b.WriteString(` AND instr(name, ?) > 0`)
		args = append(args, q.Contains)
	}
	cmp := " > "
	if q.Desc {
		cmp = " < "
	}
	switch {
	case q.AfterID != "":
		b.WriteString(` AND (name, id)` + cmp + `(?, ?)`)
		args = append(args, q.AfterName, q.AfterID)
	case q.AfterName != "":
		b.WriteString(` AND name` + cmp + `?`)
		args = append(args, q.AfterName)
	}
	return args
}

// prefixEnd returns the smallest string greater than every string that
// starts with p, if there is one.
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
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
	if err := w.put(s, false, false); err != nil {
		return nil, err
	}
	w.touchStore(s.StoreID)
	return s, nil
}

// nameTaken reports whether a live secret holds the name of s in its store.
func (w *writer) nameTaken(s *coffer.Secret) (bool, error) {
	var n int
	if err := w.conn.QueryRowContext(w.ctx, `SELECT count(*) FROM secrets WHERE store_id = ? AND name = ?
		AND status <> 'deleted'`, s.StoreID, s.Name).Scan(&n); err != nil {
		return false, fmt.Errorf("read secret: %w", err)
	}
	return n > 0, nil
}

// secret returns a secret of the account by id inside the write transaction
// (ENOTFOUND).
func (w *writer) secret(accountID, id string) (*coffer.Secret, error) {
	s, err := scanSecret(w.secretByID.QueryRowContext(w.ctx, id, accountID))
	if errors.Is(err, sql.ErrNoRows) {
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
		for _, q := range []string{`DELETE FROM versions WHERE secret_id = ?`, `DELETE FROM secrets WHERE id = ?`} {
			if _, err := w.conn.ExecContext(w.ctx, q, secretID); err != nil {
				return fmt.Errorf("purge secret: %w", err)
			}
		}
		w.touchStore(s.StoreID)
		return nil
	})
}

// Versions lists a secret's versions, newest first, without ciphertext
// (ENOTFOUND for a missing secret).
func (db *DB) Versions(ctx context.Context, accountID, secretID string) ([]*coffer.Version, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT v.number, v.key_id, v.created_at, v.created_by, v.destroyed_at,
		v.deleted_at FROM secrets s JOIN versions v ON v.secret_id = s.id
		WHERE s.id = ? AND s.account_id = ? ORDER BY v.number DESC`, secretID, accountID)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	defer rows.Close()
	var out []*coffer.Version
	for rows.Next() {
		v := &coffer.Version{SecretID: secretID}
		var created int64
		var destroyed, deleted sql.NullInt64
		if err := rows.Scan(&v.Number, &v.KeyID, &created, &v.CreatedBy, &destroyed, &deleted); err != nil {
			return nil, fmt.Errorf("list versions: %w", err)
		}
		v.CreatedAt, v.DestroyedAt, v.DeletedAt = fromNanos(created), fromNullNanos(destroyed), fromNullNanos(deleted)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	if len(out) == 0 {
		var n int
		if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM secrets WHERE id = ? AND account_id = ?`,
			secretID, accountID).Scan(&n); err != nil {
			return nil, fmt.Errorf("read secret: %w", err)
		} else if n == 0 {
			return nil, coffer.Errorf(coffer.ENOTFOUND, "secret not found")
		}
	}
	return out, nil
}

// ReadVersion returns a live, active secret and one of its versions with the
// ciphertext (the latest when version is 0); see coffer.Storage.
func (db *DB) ReadVersion(ctx context.Context, accountID, storeRef, secretRef string, version int) (*coffer.Secret, *coffer.Version, error) {
	r := secretRow{s: coffer.Secret{AccountID: accountID}, status: string(coffer.StatusActive)}
	v := &coffer.Version{}
	var created int64
	var deleted sql.NullInt64
	err := db.rs.readVersion.QueryRowContext(ctx, accountID, storeRef, secretRef, version, idRef(secretRef)).Scan(
		&r.s.ID, &r.s.StoreID, &r.s.Name, &r.s.Version, &r.s.Comment, &r.labels, &r.scopes, &r.attributes,
		&r.s.Origin, &r.created, &r.s.CreatedBy, &r.updated, &r.expires, &v.KeyID, &v.Ciphertext, &created, &v.CreatedBy,
		&deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, coffer.Errorf(coffer.ENOTFOUND, "secret or version not found")
	} else if err != nil {
		return nil, nil, fmt.Errorf("read version: %w", err)
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
		res, err := w.conn.ExecContext(w.ctx, `UPDATE versions SET ciphertext = NULL, destroyed_at = coalesce(destroyed_at, ?)
			WHERE secret_id = ? AND number = ?`, at.UnixNano(), secretID, version)
		if err != nil {
			return fmt.Errorf("destroy version: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("destroy version: %w", err)
		} else if n == 0 {
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
