package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
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
		_, err := w.exec(`INSERT INTO approles (`+appRoleCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
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
	return db.readAppRole(ctx, `account_id = $1 AND name = $2`, accountID, name)
}

// AppRoleByID returns a role by role id, in any account (ENOTFOUND).
func (db *DB) AppRoleByID(ctx context.Context, roleID string) (*coffer.AppRole, error) {
	return db.readAppRole(ctx, `role_id = $1`, roleID)
}

func (db *DB) readAppRole(ctx context.Context, where string, args ...any) (*coffer.AppRole, error) {
	var r *coffer.AppRole
	err := db.query(ctx, `SELECT `+appRoleCols+` FROM approles WHERE `+where, args, func(rows pgx.Rows) (err error) {
		r, err = scanAppRole(rows)
		return err
	})
	if err != nil {
		return nil, dbErr("read approle", err)
	} else if r == nil {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "role not found")
	}
	return r, nil
}

// AppRoles lists the roles of an account ordered by name.
func (db *DB) AppRoles(ctx context.Context, accountID string) ([]*coffer.AppRole, error) {
	out := []*coffer.AppRole{}
	err := db.query(ctx, `SELECT `+appRoleCols+` FROM approles WHERE account_id = $1 ORDER BY name`, []any{accountID},
		func(rows pgx.Rows) error {
			r, err := scanAppRole(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	if err != nil {
		return nil, dbErr("list approles", err)
	}
	return out, nil
}

func scanAppRole(sc pgx.Row) (*coffer.AppRole, error) {
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

// roleKey returns the key id of a role of the account, locking the role's
// row for the write (ENOTFOUND).
func (w *writer) roleKey(accountID, roleID string) (string, error) {
	var keyID string
	err := w.queryRow(`SELECT key_id FROM approles WHERE role_id = $1 AND account_id = $2 FOR UPDATE`,
		roleID, accountID).Scan(&keyID)
	if err == pgx.ErrNoRows {
		return "", coffer.Errorf(coffer.ENOTFOUND, "role not found")
	} else if err != nil {
		return "", fmt.Errorf("read approle: %w", err)
	}
	return keyID, nil
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
		keyID, err := w.roleKey(r.AccountID, r.RoleID)
		if err != nil {
			return err
		}
		if k != nil {
			if err := w.insertAPIKey(k); err != nil {
				return err
			}
			if _, err := w.exec(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 AND account_id = $3`,
				r.UpdatedAt.UnixNano(), keyID, r.AccountID); err != nil {
				return fmt.Errorf("revoke approle key: %w", err)
			}
			keyID = k.ID
		}
		if _, err := w.exec(`UPDATE approles SET key_id = $1, scopes = $2, token_ttl = $3, secret_id_ttl = $4,
			secret_id_num_uses = $5, secret_id_bound_cidrs = $6, token_bound_cidrs = $7, updated_at = $8
			WHERE role_id = $9`, keyID, scopes, int64(r.TokenTTL), int64(r.SecretIDTTL), r.SecretIDNumUses, sc, tc,
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
		keyID, err := w.roleKey(accountID, roleID)
		if err != nil {
			return err
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM approle_secrets WHERE role_id = $1`, []any{roleID}},
			{`DELETE FROM approles WHERE role_id = $1`, []any{roleID}},
			{`UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 AND account_id = $3`, []any{at.UnixNano(), keyID, accountID}},
		} {
			if _, err := w.exec(q.sql, q.args...); err != nil {
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
		if _, err := w.roleKey(sec.AccountID, sec.RoleID); err != nil {
			return err
		}
		_, err := w.exec(`INSERT INTO approle_secrets (`+appRoleSecretCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, sec.Accessor, sec.AccountID, sec.RoleID, sec.Hash,
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
	var sec *coffer.AppRoleSecret
	err := db.query(ctx, `SELECT `+appRoleSecretCols+` FROM approle_secrets WHERE role_id = $1 AND hash = $2`,
		[]any{roleID, hash}, func(rows pgx.Rows) (err error) {
			sec, err = scanAppRoleSecret(rows)
			return err
		})
	if err != nil {
		return nil, dbErr("read secret id", err)
	} else if sec == nil {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "secret id not found")
	}
	return sec, nil
}

// AppRoleSecrets lists the secret ids of a role of the account, oldest first.
func (db *DB) AppRoleSecrets(ctx context.Context, accountID, roleID string) ([]*coffer.AppRoleSecret, error) {
	out := []*coffer.AppRoleSecret{}
	err := db.query(ctx, `SELECT `+appRoleSecretCols+` FROM approle_secrets WHERE account_id = $1 AND role_id = $2
		ORDER BY created_at, accessor`, []any{accountID, roleID}, func(rows pgx.Rows) error {
		sec, err := scanAppRoleSecret(rows)
		if err != nil {
			return err
		}
		out = append(out, sec)
		return nil
	})
	if err != nil {
		return nil, dbErr("list secret ids", err)
	}
	return out, nil
}

func scanAppRoleSecret(sc pgx.Row) (*coffer.AppRoleSecret, error) {
	var s coffer.AppRoleSecret
	var created int64
	var expires *int64
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
		ct, err := w.exec(`DELETE FROM approle_secrets WHERE accessor = $1 AND role_id = $2 AND account_id = $3`,
			accessor, roleID, accountID)
		if err != nil {
			return fmt.Errorf("destroy secret id: %w", err)
		} else if ct.RowsAffected() == 0 {
			return coffer.Errorf(coffer.ENOTFOUND, "secret id not found")
		}
		return nil
	})
}

// UseAppRoleSecret spends one use of a secret id in one transaction; the
// row lock makes concurrent uses of the last one succeed exactly once.
func (db *DB) UseAppRoleSecret(ctx context.Context, roleID, accessor string, ev *coffer.AuditEvent) error {
	return db.do(ctx, ev, func(w *writer) error {
		var numUses, left int
		err := w.queryRow(`SELECT num_uses, uses_left FROM approle_secrets WHERE accessor = $1 AND role_id = $2 FOR UPDATE`,
			accessor, roleID).Scan(&numUses, &left)
		if err == pgx.ErrNoRows {
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
			_, err = w.exec(`DELETE FROM approle_secrets WHERE accessor = $1`, accessor)
		default:
			_, err = w.exec(`UPDATE approle_secrets SET uses_left = uses_left - 1 WHERE accessor = $1`, accessor)
		}
		if err != nil {
			return fmt.Errorf("use secret id: %w", err)
		}
		return nil
	})
}
