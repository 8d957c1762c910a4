package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer"
)

const appRoleCols = `role_id, account_id, name, principal_id, key_id, scopes, token_ttl, secret_id_ttl,
	secret_id_num_uses, secret_id_bound_cidrs, token_bound_cidrs, created_at, updated_at`

const appRoleSecretCols = `accessor, account_id, role_id, hash, created_at, expires_at, num_uses, uses_left,
	bound_cidrs, metadata`

// CreateAppRole adds a role and its key in one transaction.
func (db *DB) CreateAppRole(ctx context.Context, r *coffer.AppRole, k *coffer.APIKey, ev *coffer.AuditEvent) error {
	r.CreatedAt, r.UpdatedAt = stamp(r.CreatedAt), stamp(r.UpdatedAt)
	k.CreatedAt = stamp(k.CreatedAt)
	scopes, sc, tc, err := r.EncodeLists()
	if err != nil {
		return err
	}
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, r.AccountID, "", "")
		if err := w.insertAPIKey(k); err != nil {
			return err
		}
		_, err := w.conn.ExecContext(w.ctx, `INSERT INTO approles (`+appRoleCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.RoleID, r.AccountID, r.Name, r.PrincipalID, k.ID, scopes, int64(r.TokenTTL), int64(r.SecretIDTTL),
			r.SecretIDNumUses, sc, tc, r.CreatedAt.UnixNano(), r.UpdatedAt.UnixNano())
		if isUnique(err) {
			return coffer.Errorf(coffer.ECONFLICT, "a role named %s already exists", r.Name)
		} else if err != nil {
			return fmt.Errorf("create approle: %w", err)
		}
		r.KeyID = k.ID
		return nil
	})
}

// AppRole returns a role of the account by name (ENOTFOUND).
func (db *DB) AppRole(ctx context.Context, accountID, name string) (*coffer.AppRole, error) {
	return db.readAppRole(ctx, `account_id = ? AND name = ?`, accountID, name)
}

// AppRoleByID returns a role by role id, in any account (ENOTFOUND).
func (db *DB) AppRoleByID(ctx context.Context, roleID string) (*coffer.AppRole, error) {
	return db.readAppRole(ctx, `role_id = ?`, roleID)
}

func (db *DB) readAppRole(ctx context.Context, where string, args ...any) (*coffer.AppRole, error) {
	r, err := scanAppRole(db.read.QueryRowContext(ctx, `SELECT `+appRoleCols+` FROM approles WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "role not found")
	} else if err != nil {
		return nil, fmt.Errorf("read approle: %w", err)
	}
	return r, nil
}

// AppRoles lists the roles of an account ordered by name.
func (db *DB) AppRoles(ctx context.Context, accountID string) ([]*coffer.AppRole, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+appRoleCols+` FROM approles WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list approles: %w", err)
	}
	defer rows.Close()
	out := []*coffer.AppRole{}
	for rows.Next() {
		r, err := scanAppRole(rows)
		if err != nil {
			return nil, fmt.Errorf("list approles: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list approles: %w", err)
	}
	return out, nil
}

func scanAppRole(sc scanner) (*coffer.AppRole, error) {
	var r coffer.AppRole
	var scopes, scidrs, tcidrs string
	var ttl, sttl, created, updated int64
	if err := sc.Scan(&r.RoleID, &r.AccountID, &r.Name, &r.PrincipalID, &r.KeyID, &scopes, &ttl, &sttl,
		&r.SecretIDNumUses, &scidrs, &tcidrs, &created, &updated); err != nil {
		return nil, err
	}
	if err := r.DecodeLists(scopes, scidrs, tcidrs); err != nil {
		return nil, err
	}
	r.TokenTTL, r.SecretIDTTL = time.Duration(ttl), time.Duration(sttl)
	r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &r, nil
}

// UpdateAppRole replaces a role's settings and, with k, its key.
func (db *DB) UpdateAppRole(ctx context.Context, r *coffer.AppRole, k *coffer.APIKey, ev *coffer.AuditEvent) error {
	r.UpdatedAt = stamp(r.UpdatedAt)
	if k != nil {
		k.CreatedAt = stamp(k.CreatedAt)
	}
	scopes, sc, tc, err := r.EncodeLists()
	if err != nil {
		return err
	}
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, r.AccountID, "", "")
		var oldKey string
		err := w.conn.QueryRowContext(w.ctx, `SELECT key_id FROM approles WHERE role_id = ? AND account_id = ?`,
			r.RoleID, r.AccountID).Scan(&oldKey)
		if errors.Is(err, sql.ErrNoRows) {
			return coffer.Errorf(coffer.ENOTFOUND, "role not found")
		} else if err != nil {
			return fmt.Errorf("update approle: %w", err)
		}
		keyID := oldKey
		if k != nil {
			if err := w.insertAPIKey(k); err != nil {
				return err
			}
			if _, err := w.conn.ExecContext(w.ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?)
				WHERE id = ? AND account_id = ?`, r.UpdatedAt.UnixNano(), oldKey, r.AccountID); err != nil {
				return fmt.Errorf("revoke approle key: %w", err)
			}
			keyID = k.ID
		}
		if _, err := w.conn.ExecContext(w.ctx, `UPDATE approles SET key_id = ?, scopes = ?, token_ttl = ?,
			secret_id_ttl = ?, secret_id_num_uses = ?, secret_id_bound_cidrs = ?, token_bound_cidrs = ?, updated_at = ?
			WHERE role_id = ?`, keyID, scopes, int64(r.TokenTTL), int64(r.SecretIDTTL), r.SecretIDNumUses, sc, tc,
			r.UpdatedAt.UnixNano(), r.RoleID); err != nil {
			return fmt.Errorf("update approle: %w", err)
		}
		r.KeyID = keyID
		return nil
	})
}

// DeleteAppRole removes a role with its secret ids and revokes its key.
func (db *DB) DeleteAppRole(ctx context.Context, accountID, roleID string, at time.Time, ev *coffer.AuditEvent) error {
	at = stamp(at)
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, "", "")
		var keyID string
		err := w.conn.QueryRowContext(w.ctx, `SELECT key_id FROM approles WHERE role_id = ? AND account_id = ?`,
			roleID, accountID).Scan(&keyID)
		if errors.Is(err, sql.ErrNoRows) {
			return coffer.Errorf(coffer.ENOTFOUND, "role not found")
		} else if err != nil {
			return fmt.Errorf("delete approle: %w", err)
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM approle_secrets WHERE role_id = ?`, []any{roleID}},
			{`DELETE FROM approles WHERE role_id = ?`, []any{roleID}},
			{`UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND account_id = ?`, []any{at.UnixNano(), keyID, accountID}},
		} {
			if _, err := w.conn.ExecContext(w.ctx, q.sql, q.args...); err != nil {
				return fmt.Errorf("delete approle: %w", err)
			}
		}
		return nil
	})
}

// CreateAppRoleSecret adds a secret id to its role.
func (db *DB) CreateAppRoleSecret(ctx context.Context, sec *coffer.AppRoleSecret, ev *coffer.AuditEvent) error {
	sec.CreatedAt = stamp(sec.CreatedAt)
	cidrs, md, err := sec.EncodeLists()
	if err != nil {
		return err
	}
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, sec.AccountID, "", "")
		var n int
		if err := w.conn.QueryRowContext(w.ctx, `SELECT count(*) FROM approles WHERE role_id = ? AND account_id = ?`,
			sec.RoleID, sec.AccountID).Scan(&n); err != nil {
			return fmt.Errorf("read approle: %w", err)
		} else if n == 0 {
			return coffer.Errorf(coffer.ENOTFOUND, "role not found")
		}
		_, err := w.conn.ExecContext(w.ctx, `INSERT INTO approle_secrets (`+appRoleSecretCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, sec.Accessor, sec.AccountID, sec.RoleID, sec.Hash,
			sec.CreatedAt.UnixNano(), nullNanos(sec.ExpiresAt), sec.NumUses, sec.UsesLeft, cidrs, md)
		if isUnique(err) {
			return coffer.Errorf(coffer.ECONFLICT, "secret id already exists")
		} else if err != nil {
			return fmt.Errorf("create secret id: %w", err)
		}
		return nil
	})
}

// AppRoleSecret returns the secret id of a role with that hash (ENOTFOUND).
func (db *DB) AppRoleSecret(ctx context.Context, roleID string, hash []byte) (*coffer.AppRoleSecret, error) {
	sec, err := scanAppRoleSecret(db.read.QueryRowContext(ctx, `SELECT `+appRoleSecretCols+` FROM approle_secrets
		WHERE role_id = ? AND hash = ?`, roleID, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "secret id not found")
	} else if err != nil {
		return nil, fmt.Errorf("read secret id: %w", err)
	}
	return sec, nil
}

// AppRoleSecrets lists the secret ids of a role of the account, oldest first.
func (db *DB) AppRoleSecrets(ctx context.Context, accountID, roleID string) ([]*coffer.AppRoleSecret, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+appRoleSecretCols+` FROM approle_secrets
		WHERE account_id = ? AND role_id = ? ORDER BY created_at, accessor`, accountID, roleID)
	if err != nil {
		return nil, fmt.Errorf("list secret ids: %w", err)
	}
	defer rows.Close()
	out := []*coffer.AppRoleSecret{}
	for rows.Next() {
		sec, err := scanAppRoleSecret(rows)
		if err != nil {
			return nil, fmt.Errorf("list secret ids: %w", err)
		}
		out = append(out, sec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list secret ids: %w", err)
	}
	return out, nil
}

func scanAppRoleSecret(sc scanner) (*coffer.AppRoleSecret, error) {
	var s coffer.AppRoleSecret
	var created int64
	var expires sql.NullInt64
	var cidrs, md string
	if err := sc.Scan(&s.Accessor, &s.AccountID, &s.RoleID, &s.Hash, &created, &expires, &s.NumUses, &s.UsesLeft,
		&cidrs, &md); err != nil {
		return nil, err
	}
	if err := s.DecodeLists(cidrs, md); err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt = fromNanos(created), fromNullNanos(expires)
	return &s, nil
}

// DeleteAppRoleSecret removes a secret id by accessor (ENOTFOUND).
func (db *DB) DeleteAppRoleSecret(ctx context.Context, accountID, roleID, accessor string, ev *coffer.AuditEvent) error {
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, "", "")
		res, err := w.conn.ExecContext(w.ctx, `DELETE FROM approle_secrets WHERE accessor = ? AND role_id = ? AND account_id = ?`,
			accessor, roleID, accountID)
		if err != nil {
			return fmt.Errorf("destroy secret id: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("destroy secret id: %w", err)
		} else if n == 0 {
			return coffer.Errorf(coffer.ENOTFOUND, "secret id not found")
		}
		return nil
	})
}

// UseAppRoleSecret spends one use of a secret id in one transaction.
func (db *DB) UseAppRoleSecret(ctx context.Context, roleID, accessor string, ev *coffer.AuditEvent) error {
	return db.do(ctx, ev, func(w *writer) error {
		var numUses, left int
		err := w.conn.QueryRowContext(w.ctx, `SELECT num_uses, uses_left FROM approle_secrets WHERE accessor = ? AND role_id = ?`,
			accessor, roleID).Scan(&numUses, &left)
		if errors.Is(err, sql.ErrNoRows) {
			return coffer.Errorf(coffer.ENOTFOUND, "secret id not found")
		} else if err != nil {
			return fmt.Errorf("use secret id: %w", err)
		}
		switch {
		case numUses == 0:
			return nil
		case left <= 0:
			return coffer.Errorf(coffer.ECONFLICT, "secret id used up")
		case left == 1:
			_, err = w.conn.ExecContext(w.ctx, `DELETE FROM approle_secrets WHERE accessor = ?`, accessor)
		default:
			_, err = w.conn.ExecContext(w.ctx, `UPDATE approle_secrets SET uses_left = uses_left - 1 WHERE accessor = ?`, accessor)
		}
		if err != nil {
			return fmt.Errorf("use secret id: %w", err)
		}
		return nil
	})
}
