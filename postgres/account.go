package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
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
		_, err := w.exec(`INSERT INTO accounts (`+accountCols+`) VALUES ($1, $2, $3, $4)`, a.ID, a.Name, a.CreatedAt.UnixNano(), a.MAC)
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
	var a coffer.Account
	var created int64
	err := db.queryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1`, []any{id}, &a.ID, &a.Name, &created, &a.MAC)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "account not found")
	} else if err != nil {
		return nil, dbErr("read account", err)
	}
	a.CreatedAt = fromNanos(created)
	return &a, nil
}

// Accounts lists accounts ordered by id, after the given id.
func (db *DB) Accounts(ctx context.Context, after string, limit int) ([]*coffer.Account, error) {
	var out []*coffer.Account
	err := db.query(ctx, `SELECT `+accountCols+` FROM accounts WHERE id > $1 ORDER BY id LIMIT $2`,
		[]any{after, pageLimit(limit)}, func(rows pgx.Rows) error {
			var a coffer.Account
			var created int64
			if err := rows.Scan(&a.ID, &a.Name, &created, &a.MAC); err != nil {
				return err
			}
			a.CreatedAt = fromNanos(created)
			out = append(out, &a)
			return nil
		})
	if err != nil {
		return nil, dbErr("list accounts", err)
	}
	return out, nil
}

const accountCols = `id, name, created_at, mac`

// accountExists reports whether the account exists, inside the write
// transaction.
func (w *writer) accountExists(id string) (bool, error) {
	var ok bool
	if err := w.queryRow(`SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1)`, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("read account: %w", err)
	}
	return ok, nil
}

// CreatePrincipal adds a principal to its account, giving it an id when it
// has none (ENOTFOUND for a missing account, ECONFLICT if the id or the name
// exists).
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
		_, err = w.exec(`INSERT INTO principals (`+principalCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			p.ID, p.AccountID, p.Name, p.Kind, p.CreatedAt.UnixNano(), attrs, p.MAC)
		if isUnique(err) {
			if constraint(err) == "principals_name" {
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

func scanPrincipal(sc pgx.Row) (*coffer.Principal, error) {
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
		p, err := scanPrincipal(w.queryRow(`SELECT `+principalCols+` FROM principals WHERE id = $1 AND account_id = $2
			FOR UPDATE`, id, accountID))
		if errors.Is(err, pgx.ErrNoRows) {
			return coffer.Errorf(coffer.ENOTFOUND, "principal not found")
		} else if err != nil {
			return fmt.Errorf("read principal: %w", err)
		}
		attrs := make(map[string]string, len(p.Attributes)+len(changes))
		maps.Copy(attrs, p.Attributes)
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
		if _, err := w.exec(`UPDATE principals SET attributes = $1 WHERE id = $2`, enc, id); err != nil {
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

// Principal returns a principal of the account by id (ENOTFOUND).
func (db *DB) Principal(ctx context.Context, accountID, id string) (*coffer.Principal, error) {
	var p *coffer.Principal
	err := db.query(ctx, `SELECT `+principalCols+` FROM principals WHERE id = $1 AND account_id = $2`,
		[]any{id, accountID}, func(rows pgx.Rows) (err error) {
			p, err = scanPrincipal(rows)
			return err
		})
	if err != nil {
		return nil, dbErr("read principal", err)
	} else if p == nil {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "principal not found")
	}
	return p, nil
}

// Principals lists the principals of an account ordered by name.
func (db *DB) Principals(ctx context.Context, accountID string) ([]*coffer.Principal, error) {
	out := []*coffer.Principal{}
	err := db.query(ctx, `SELECT `+principalCols+` FROM principals WHERE account_id = $1 ORDER BY name`,
		[]any{accountID}, func(rows pgx.Rows) error {
			p, err := scanPrincipal(rows)
			if err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	if err != nil {
		return nil, dbErr("list principals", err)
	}
	return out, nil
}

const apiKeyCols = `id, account_id, principal_id, name, admin, scopes, hash, created_at, expires_at, last_used_at, revoked_at, mac`

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
		var ok bool
		if err := w.queryRow(`SELECT EXISTS (SELECT 1 FROM principals WHERE id = $1 AND account_id = $2)`,
			k.PrincipalID, k.AccountID).Scan(&ok); err != nil {
			return fmt.Errorf("read principal: %w", err)
		} else if !ok {
			return coffer.Errorf(coffer.ENOTFOUND, "principal not found")
		}
	}
	_, err = w.exec(`INSERT INTO api_keys (`+apiKeyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		k.ID, k.AccountID, k.PrincipalID, k.Name, k.Admin, string(scopes), hash, k.CreatedAt.UnixNano(),
		nullNanos(k.ExpiresAt), nullNanos(k.LastUsedAt), nullNanos(k.RevokedAt), k.MAC)
	if isUnique(err) {
		return coffer.Errorf(coffer.ECONFLICT, "api key %s already exists", k.ID)
	} else if err != nil {
		return fmt.Errorf("create api key: %w", err)
	}
	return nil
}

func scanAPIKey(sc pgx.Row) (*coffer.APIKey, error) {
	var k coffer.APIKey
	var scopes string
	var created int64
	var expires, used, revoked *int64
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

// APIKey returns a key by id, in any account (ENOTFOUND).
func (db *DB) APIKey(ctx context.Context, id string) (*coffer.APIKey, error) {
	var k *coffer.APIKey
	err := db.query(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = $1`, []any{id}, func(rows pgx.Rows) (err error) {
		k, err = scanAPIKey(rows)
		return err
	})
	if err != nil {
		return nil, dbErr("read api key", err)
	} else if k == nil {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "api key not found")
	}
	return k, nil
}

// APIKeys lists the keys of an account, newest first.
func (db *DB) APIKeys(ctx context.Context, accountID string) ([]*coffer.APIKey, error) {
	var out []*coffer.APIKey
	err := db.query(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE account_id = $1 ORDER BY created_at DESC, id DESC`,
		[]any{accountID}, func(rows pgx.Rows) error {
			k, err := scanAPIKey(rows)
			if err != nil {
				return err
			}
			out = append(out, k)
			return nil
		})
	if err != nil {
		return nil, dbErr("list api keys", err)
	}
	return out, nil
}

// RevokeAPIKey marks a key of the account revoked at the given time
// (ENOTFOUND). Revoking a revoked key keeps its first revocation time.
func (db *DB) RevokeAPIKey(ctx context.Context, accountID, id string, at time.Time, ev *coffer.AuditEvent) error {
	at = stamp(at)
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, "", "")
		ct, err := w.exec(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 AND account_id = $3`,
			at.UnixNano(), id, accountID)
		if err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		} else if ct.RowsAffected() == 0 {
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
	ids, ats := make([]string, 0, len(used)), make([]int64, 0, len(used))
	for id, at := range used {
		ids, ats = append(ids, id), append(ats, stamp(at).UnixNano())
	}
	return db.do(ctx, nil, func(w *writer) error {
		if _, err := w.exec(`UPDATE api_keys k SET last_used_at = greatest(coalesce(k.last_used_at, 0), t.at)
			FROM unnest($1::text[], $2::bigint[]) AS t (id, at) WHERE k.id = t.id`, ids, ats); err != nil {
			return fmt.Errorf("touch api keys: %w", err)
		}
		return nil
	})
}
