package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer"
)

const jwtConfigCols = `id, account_id, name, issuer, settings, created_at, updated_at`

const jwtRoleCols = `id, account_id, config_id, name, principal_id, key_id, settings, created_at, updated_at`

// CreateJWTConfig adds a trust configuration.
func (db *DB) CreateJWTConfig(ctx context.Context, c *coffer.JWTConfig, ev *coffer.AuditEvent) error {
	c.CreatedAt, c.UpdatedAt = stamp(c.CreatedAt), stamp(c.UpdatedAt)
	set, err := c.Settings()
	if err != nil {
		return fmt.Errorf("create jwt config: %w", err)
	}
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, c.AccountID, "", "")
		_, err := w.conn.ExecContext(w.ctx, `INSERT INTO jwt_configs (`+jwtConfigCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.AccountID, c.Name, c.Issuer, set, c.CreatedAt.UnixNano(), c.UpdatedAt.UnixNano())
		if isUnique(err) {
			return coffer.Errorf(coffer.ECONFLICT, "a jwt config named %s already exists on this server (a config name is a Vault auth mount path, unique across accounts)", c.Name)
		} else if err != nil {
			return fmt.Errorf("create jwt config: %w", err)
		}
		return nil
	})
}

// JWTConfig returns a config of the account by name (ENOTFOUND).
func (db *DB) JWTConfig(ctx context.Context, accountID, name string) (*coffer.JWTConfig, error) {
	c, err := scanJWTConfig(db.read.QueryRowContext(ctx, `SELECT `+jwtConfigCols+` FROM jwt_configs
		WHERE account_id = ? AND name = ?`, accountID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "jwt config not found")
	} else if err != nil {
		return nil, fmt.Errorf("read jwt config: %w", err)
	}
	return c, nil
}

// JWTConfigs lists the configs of an account ("" for every account).
func (db *DB) JWTConfigs(ctx context.Context, accountID string) ([]*coffer.JWTConfig, error) {
	if accountID == "" {
		return db.listJWTConfigs(ctx, `1 = 1 ORDER BY account_id, name`)
	}
	return db.listJWTConfigs(ctx, `account_id = ? ORDER BY name`, accountID)
}

// JWTConfigsNamed lists the configs of that name in every account.
func (db *DB) JWTConfigsNamed(ctx context.Context, name string) ([]*coffer.JWTConfig, error) {
	return db.listJWTConfigs(ctx, `name = ? ORDER BY account_id`, name)
}

func (db *DB) listJWTConfigs(ctx context.Context, where string, args ...any) ([]*coffer.JWTConfig, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+jwtConfigCols+` FROM jwt_configs WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list jwt configs: %w", err)
	}
	defer rows.Close()
	out := []*coffer.JWTConfig{}
	for rows.Next() {
		c, err := scanJWTConfig(rows)
		if err != nil {
			return nil, fmt.Errorf("list jwt configs: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list jwt configs: %w", err)
	}
	return out, nil
}

func scanJWTConfig(sc scanner) (*coffer.JWTConfig, error) {
	var c coffer.JWTConfig
	var set string
	var created, updated int64
	if err := sc.Scan(&c.ID, &c.AccountID, &c.Name, &c.Issuer, &set, &created, &updated); err != nil {
		return nil, err
	}
	if err := c.SetSettings(set); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &c, nil
}

// UpdateJWTConfig replaces a config's issuer and settings.
func (db *DB) UpdateJWTConfig(ctx context.Context, c *coffer.JWTConfig, ev *coffer.AuditEvent) error {
	c.UpdatedAt = stamp(c.UpdatedAt)
	set, err := c.Settings()
	if err != nil {
		return fmt.Errorf("update jwt config: %w", err)
	}
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, c.AccountID, "", "")
		res, err := w.conn.ExecContext(w.ctx, `UPDATE jwt_configs SET issuer = ?, settings = ?, updated_at = ?
			WHERE id = ? AND account_id = ?`, c.Issuer, set, c.UpdatedAt.UnixNano(), c.ID, c.AccountID)
		if err != nil {
			return fmt.Errorf("update jwt config: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return coffer.Errorf(coffer.ENOTFOUND, "jwt config not found")
		}
		return nil
	})
}

// DeleteJWTConfig removes a config with its roles and revokes their keys.
func (db *DB) DeleteJWTConfig(ctx context.Context, accountID, id string, at time.Time, ev *coffer.AuditEvent) error {
	at = stamp(at)
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, "", "")
		var n int
		if err := w.conn.QueryRowContext(w.ctx, `SELECT count(*) FROM jwt_configs WHERE id = ? AND account_id = ?`,
			id, accountID).Scan(&n); err != nil {
			return fmt.Errorf("delete jwt config: %w", err)
		} else if n == 0 {
			return coffer.Errorf(coffer.ENOTFOUND, "jwt config not found")
		}
		for _, q := range []string{
			`UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE account_id = ? AND id IN
				(SELECT key_id FROM jwt_roles WHERE config_id = ?)`,
			`DELETE FROM jwt_roles WHERE ? > 0 AND account_id = ? AND config_id = ?`,
			`DELETE FROM jwt_configs WHERE ? > 0 AND account_id = ? AND id = ?`,
		} {
			if _, err := w.conn.ExecContext(w.ctx, q, at.UnixNano(), accountID, id); err != nil {
				return fmt.Errorf("delete jwt config: %w", err)
			}
		}
		return nil
	})
}

// CreateJWTRole adds a role and its key in one transaction.
func (db *DB) CreateJWTRole(ctx context.Context, r *coffer.JWTRole, k *coffer.APIKey, ev *coffer.AuditEvent) error {
	r.CreatedAt, r.UpdatedAt = stamp(r.CreatedAt), stamp(r.UpdatedAt)
	k.CreatedAt = stamp(k.CreatedAt)
	set, err := r.Settings()
	if err != nil {
		return fmt.Errorf("create jwt role: %w", err)
	}
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, r.AccountID, "", "")
		var n int
		if err := w.conn.QueryRowContext(w.ctx, `SELECT (SELECT count(*) FROM jwt_configs WHERE id = ? AND account_id = ?)
			* (SELECT count(*) FROM principals WHERE id = ? AND account_id = ?)`,
			r.ConfigID, r.AccountID, r.PrincipalID, r.AccountID).Scan(&n); err != nil {
			return fmt.Errorf("create jwt role: %w", err)
		} else if n == 0 {
			return coffer.Errorf(coffer.ENOTFOUND, "jwt config or principal not found")
		}
		if err := w.insertAPIKey(k); err != nil {
			return err
		}
		_, err := w.conn.ExecContext(w.ctx, `INSERT INTO jwt_roles (`+jwtRoleCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.AccountID, r.ConfigID, r.Name, r.PrincipalID, k.ID, set, r.CreatedAt.UnixNano(), r.UpdatedAt.UnixNano())
		if isUnique(err) {
			return coffer.Errorf(coffer.ECONFLICT, "a role named %s already exists", r.Name)
		} else if err != nil {
			return fmt.Errorf("create jwt role: %w", err)
		}
		r.KeyID = k.ID
		return nil
	})
}

// JWTRole returns a role of a config by name (ENOTFOUND).
func (db *DB) JWTRole(ctx context.Context, configID, name string) (*coffer.JWTRole, error) {
	r, err := scanJWTRole(db.read.QueryRowContext(ctx, `SELECT `+jwtRoleCols+` FROM jwt_roles
		WHERE config_id = ? AND name = ?`, configID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "role not found")
	} else if err != nil {
		return nil, fmt.Errorf("read jwt role: %w", err)
	}
	return r, nil
}

// JWTRoles lists the roles of a config by name.
func (db *DB) JWTRoles(ctx context.Context, configID string) ([]*coffer.JWTRole, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+jwtRoleCols+` FROM jwt_roles WHERE config_id = ? ORDER BY name`, configID)
	if err != nil {
		return nil, fmt.Errorf("list jwt roles: %w", err)
	}
	defer rows.Close()
	out := []*coffer.JWTRole{}
	for rows.Next() {
		r, err := scanJWTRole(rows)
		if err != nil {
			return nil, fmt.Errorf("list jwt roles: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list jwt roles: %w", err)
	}
	return out, nil
}

func scanJWTRole(sc scanner) (*coffer.JWTRole, error) {
	var r coffer.JWTRole
	var set string
	var created, updated int64
	if err := sc.Scan(&r.ID, &r.AccountID, &r.ConfigID, &r.Name, &r.PrincipalID, &r.KeyID, &set, &created, &updated); err != nil {
		return nil, err
	}
	if err := r.SetSettings(set); err != nil {
		return nil, err
	}
	r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &r, nil
}

// UpdateJWTRole replaces a role's settings and, with k, its key.
func (db *DB) UpdateJWTRole(ctx context.Context, r *coffer.JWTRole, k *coffer.APIKey, ev *coffer.AuditEvent) error {
	r.UpdatedAt = stamp(r.UpdatedAt)
	if k != nil {
		k.CreatedAt = stamp(k.CreatedAt)
	}
	set, err := r.Settings()
	if err != nil {
		return fmt.Errorf("update jwt role: %w", err)
	}
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, r.AccountID, "", "")
		var oldKey string
		err := w.conn.QueryRowContext(w.ctx, `SELECT key_id FROM jwt_roles WHERE id = ? AND account_id = ?`,
			r.ID, r.AccountID).Scan(&oldKey)
		if errors.Is(err, sql.ErrNoRows) {
			return coffer.Errorf(coffer.ENOTFOUND, "role not found")
		} else if err != nil {
			return fmt.Errorf("update jwt role: %w", err)
		}
		keyID := oldKey
		if k != nil {
			if err := w.insertAPIKey(k); err != nil {
				return err
			}
			if _, err := w.conn.ExecContext(w.ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?)
				WHERE id = ? AND account_id = ?`, r.UpdatedAt.UnixNano(), oldKey, r.AccountID); err != nil {
				return fmt.Errorf("revoke jwt role key: %w", err)
			}
			keyID = k.ID
		}
		if _, err := w.conn.ExecContext(w.ctx, `UPDATE jwt_roles SET key_id = ?, settings = ?, updated_at = ? WHERE id = ?`,
			keyID, set, r.UpdatedAt.UnixNano(), r.ID); err != nil {
			return fmt.Errorf("update jwt role: %w", err)
		}
		r.KeyID = keyID
		return nil
	})
}

// DeleteJWTRole removes a role and revokes its key.
func (db *DB) DeleteJWTRole(ctx context.Context, accountID, id string, at time.Time, ev *coffer.AuditEvent) error {
	at = stamp(at)
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, "", "")
		var keyID string
		err := w.conn.QueryRowContext(w.ctx, `SELECT key_id FROM jwt_roles WHERE id = ? AND account_id = ?`,
			id, accountID).Scan(&keyID)
		if errors.Is(err, sql.ErrNoRows) {
			return coffer.Errorf(coffer.ENOTFOUND, "role not found")
		} else if err != nil {
			return fmt.Errorf("delete jwt role: %w", err)
		}
		if _, err := w.conn.ExecContext(w.ctx, `DELETE FROM jwt_roles WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete jwt role: %w", err)
		}
		if _, err := w.conn.ExecContext(w.ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?)
			WHERE id = ? AND account_id = ?`, at.UnixNano(), keyID, accountID); err != nil {
			return fmt.Errorf("delete jwt role: %w", err)
		}
		return nil
	})
}
