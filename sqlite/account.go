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

// CreateAccount adds an account, giving it an id when it has none
// (ECONFLICT if the id exists).
func (db *DB) CreateAccount(ctx context.Context, a *coffer.Account, ev *coffer.AuditEvent) error {
	if a.ID == "" {
		a.ID = coffer.NewID()
	}
	a.CreatedAt = stamp(a.CreatedAt)
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, a.ID, "", "")
		_, err := w.conn.ExecContext(w.ctx, `INSERT INTO accounts (`+accountCols+`) VALUES (?, ?, ?, ?)`,
			a.ID, a.Name, a.CreatedAt.UnixNano(), a.MAC)
		if isUnique(err) {
			return coffer.Errorf(coffer.ECONFLICT, "account %s already exists", a.ID)
		} else if err != nil {
			return fmt.Errorf("create account: %w", err)
		}
		return nil
	})
}

// Account returns an account by id (ENOTFOUND).
func (db *DB) Account(ctx context.Context, id string) (*coffer.Account, error) {
	a, err := scanAccount(db.read.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "account not found")
	} else if err != nil {
		return nil, fmt.Errorf("read account: %w", err)
	}
	return a, nil
}

// Accounts lists accounts ordered by id, after the given id.
func (db *DB) Accounts(ctx context.Context, after string, limit int) ([]*coffer.Account, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id > ? ORDER BY id LIMIT ?`,
		after, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var out []*coffer.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

const accountCols = `id, name, created_at, mac`

func scanAccount(sc scanner) (*coffer.Account, error) {
	var a coffer.Account
	var created int64
	if err := sc.Scan(&a.ID, &a.Name, &created, &a.MAC); err != nil {
		return nil, err
	}
	a.CreatedAt = fromNanos(created)
	return &a, nil
}

// accountExists reports whether the account exists, inside the write
// transaction.
func (w *writer) accountExists(id string) (bool, error) {
	var n int
	if err := w.conn.QueryRowContext(w.ctx, `SELECT count(*) FROM accounts WHERE id = ?`, id).Scan(&n); err != nil {
		return false, fmt.Errorf("read account: %w", err)
	}
	return n > 0, nil
}

// CreatePrincipal adds a principal to its account, giving it an id when it
// has none (ENOTFOUND for a missing account, ECONFLICT if the id exists).
func (db *DB) CreatePrincipal(ctx context.Context, p *coffer.Principal, ev *coffer.AuditEvent) error {
	if p.ID == "" {
		p.ID = coffer.NewID()
	}
	p.CreatedAt = stamp(p.CreatedAt)
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, p.AccountID, "", "")
		if ok, err := w.accountExists(p.AccountID); err != nil {
			return err
		} else if !ok {
			return coffer.Errorf(coffer.ENOTFOUND, "account not found")
		}
		attrs, err := encodeAttrs(p.Attributes)
		if err != nil {
			return fmt.Errorf("create principal: %w", err)
		}
		_, err = w.conn.ExecContext(w.ctx, `INSERT INTO principals (`+principalCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, p.ID, p.AccountID, p.Name, p.Kind, p.CreatedAt.UnixNano(), attrs, p.MAC)
		if isUnique(err) {
			if strings.Contains(err.Error(), "principals.name") {
				return coffer.Errorf(coffer.ECONFLICT, "a principal named %s already exists", p.Name)
			}
			return coffer.Errorf(coffer.ECONFLICT, "principal %s already exists", p.ID)
		} else if err != nil {
			return fmt.Errorf("create principal: %w", err)
		}
		return nil
	})
}

const principalCols = `id, account_id, name, kind, created_at, attributes, mac`

// Principal returns a principal of the account by id (ENOTFOUND).
func (db *DB) Principal(ctx context.Context, accountID, id string) (*coffer.Principal, error) {
	p, err := scanPrincipal(db.read.QueryRowContext(ctx,
		`SELECT `+principalCols+` FROM principals WHERE id = ? AND account_id = ?`, id, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "principal not found")
	} else if err != nil {
		return nil, fmt.Errorf("read principal: %w", err)
	}
	return p, nil
}

// Principals lists the principals of an account ordered by name.
func (db *DB) Principals(ctx context.Context, accountID string) ([]*coffer.Principal, error) {
	rows, err := db.read.QueryContext(ctx,
		`SELECT `+principalCols+` FROM principals WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list principals: %w", err)
	}
	defer rows.Close()
	out := []*coffer.Principal{}
	for rows.Next() {
		p, err := scanPrincipal(rows)
		if err != nil {
			return nil, fmt.Errorf("list principals: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list principals: %w", err)
	}
	return out, nil
}

func scanPrincipal(sc scanner) (*coffer.Principal, error) {
	var p coffer.Principal
	var created int64
	var attrs string
	if err := sc.Scan(&p.ID, &p.AccountID, &p.Name, &p.Kind, &created, &attrs, &p.MAC); err != nil {
		return nil, err
	}
	p.CreatedAt = fromNanos(created)
	if attrs != "" {
		if err := json.Unmarshal([]byte(attrs), &p.Attributes); err != nil {
			return nil, fmt.Errorf("decode attributes of principal %s: %w", p.ID, err)
		}
	}
	return &p, nil
}

// encodeAttrs returns the JSON column of an attribute map, empty for none.
func encodeAttrs(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// UpdatePrincipal changes a principal's attributes; see coffer.Storage.
func (db *DB) UpdatePrincipal(ctx context.Context, accountID, id string, changes map[string]string, ev *coffer.AuditEvent) (*coffer.Principal, error) {
	var out *coffer.Principal
	err := db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, "", "")
		p, err := scanPrincipal(w.conn.QueryRowContext(w.ctx,
			`SELECT `+principalCols+` FROM principals WHERE id = ? AND account_id = ?`, id, accountID))
		if errors.Is(err, sql.ErrNoRows) {
			return coffer.Errorf(coffer.ENOTFOUND, "principal not found")
		} else if err != nil {
			return fmt.Errorf("read principal: %w", err)
		}
		attrs := make(map[string]string, len(p.Attributes)+len(changes))
		for k, v := range p.Attributes {
			attrs[k] = v
		}
		for k, v := range changes {
			if v == "" {
				delete(attrs, k)
			} else {
				attrs[k] = v
			}
		}
		if len(attrs) > coffer.MaxLabels {
			return coffer.Errorf(coffer.EINVALID, "a principal holds at most %d attributes", coffer.MaxLabels)
		}
		enc, err := encodeAttrs(attrs)
		if err != nil {
			return fmt.Errorf("update principal: %w", err)
		}
		if _, err := w.conn.ExecContext(w.ctx, `UPDATE principals SET attributes = ? WHERE id = ?`, enc, id); err != nil {
			return fmt.Errorf("update principal: %w", err)
		}
		p.Attributes = nil
		if len(attrs) > 0 {
			p.Attributes = attrs
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

const apiKeyCols = `id, account_id, principal_id, name, admin, scopes, hash, created_at, expires_at, last_used_at, revoked_at, mac`

const apiKeyByIDSQL = `SELECT ` + apiKeyCols + ` FROM api_keys WHERE id = ?`

// CreateAPIKey adds a key (EINVALID without an id, ENOTFOUND for a missing
// account or a principal not in it, ECONFLICT if the id exists).
func (db *DB) CreateAPIKey(ctx context.Context, k *coffer.APIKey, ev *coffer.AuditEvent) error {
	k.CreatedAt = stamp(k.CreatedAt)
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, k.AccountID, "", "")
		return w.insertAPIKey(k)
	})
}

// insertAPIKey adds a key inside a write, as CreateAPIKey does.
func (w *writer) insertAPIKey(k *coffer.APIKey) error {
	scopes, err := json.Marshal(k.Scopes)
	if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	hash := k.Hash
	if hash == nil {
		hash = []byte{}
	}
	if k.ID == "" {
		return coffer.Errorf(coffer.EINVALID, "api key id is required")
	}
	if ok, err := w.accountExists(k.AccountID); err != nil {
		return err
	} else if !ok {
		return coffer.Errorf(coffer.ENOTFOUND, "account not found")
	}
	if k.PrincipalID != "" {
		var n int
		if err := w.conn.QueryRowContext(w.ctx, `SELECT count(*) FROM principals WHERE id = ? AND account_id = ?`,
			k.PrincipalID, k.AccountID).Scan(&n); err != nil {
			return fmt.Errorf("read principal: %w", err)
		} else if n == 0 {
			return coffer.Errorf(coffer.ENOTFOUND, "principal not found")
		}
	}
	_, err = w.conn.ExecContext(w.ctx, `INSERT INTO api_keys (`+apiKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, k.PrincipalID, k.Name, k.Admin, string(scopes), hash, k.CreatedAt.UnixNano(),
		nullNanos(k.ExpiresAt), nullNanos(k.LastUsedAt), nullNanos(k.RevokedAt), k.MAC)
	if isUnique(err) {
		return coffer.Errorf(coffer.ECONFLICT, "api key %s already exists", k.ID)
	} else if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	return nil
}

// APIKey returns a key by id, in any account (ENOTFOUND).
func (db *DB) APIKey(ctx context.Context, id string) (*coffer.APIKey, error) {
	k, err := scanAPIKey(db.rs.apiKey.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "api key not found")
	} else if err != nil {
		return nil, fmt.Errorf("read api key: %w", err)
	}
	return k, nil
}

// APIKeys lists the keys of an account, newest first.
func (db *DB) APIKeys(ctx context.Context, accountID string) ([]*coffer.APIKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE account_id = ?
		ORDER BY created_at DESC, id DESC`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	var out []*coffer.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return out, nil
}

func scanAPIKey(sc scanner) (*coffer.APIKey, error) {
	var k coffer.APIKey
	var scopes string
	var created int64
	var expires, used, revoked sql.NullInt64
	if err := sc.Scan(&k.ID, &k.AccountID, &k.PrincipalID, &k.Name, &k.Admin, &scopes, &k.Hash, &created,
		&expires, &used, &revoked, &k.MAC); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return nil, fmt.Errorf("decode scopes of api key %s: %w", k.ID, err)
	}
	k.CreatedAt = fromNanos(created)
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt = fromNullNanos(expires), fromNullNanos(used), fromNullNanos(revoked)
	return &k, nil
}

// RevokeAPIKey marks a key of the account revoked at the given time
// (ENOTFOUND). Revoking a revoked key keeps its first revocation time.
func (db *DB) RevokeAPIKey(ctx context.Context, accountID, id string, at time.Time, ev *coffer.AuditEvent) error {
	at = stamp(at)
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, "", "")
		res, err := w.conn.ExecContext(w.ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?)
			WHERE id = ? AND account_id = ?`, at.UnixNano(), id, accountID)
		if err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		} else if n == 0 {
			return coffer.Errorf(coffer.ENOTFOUND, "api key not found")
		}
		return nil
	})
}

// TouchAPIKeys records last-used times in bulk, without audit. A time older
// than the one recorded is ignored, and so are unknown keys.
func (db *DB) TouchAPIKeys(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	type touch struct {
		id string
		at int64
	}
	touches := make([]touch, 0, len(used))
	for id, at := range used {
		touches = append(touches, touch{id, stamp(at).UnixNano()})
	}
	return db.do(ctx, nil, func(w *writer) error {
		stmt, err := w.conn.PrepareContext(w.ctx, `UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?)
			WHERE id = ?`)
		if err != nil {
			return fmt.Errorf("touch api keys: %w", err)
		}
		defer stmt.Close()
		for _, t := range touches {
			if _, err := stmt.ExecContext(w.ctx, t.at, t.id); err != nil {
				return fmt.Errorf("touch api keys: %w", err)
			}
		}
		return nil
	})
}
