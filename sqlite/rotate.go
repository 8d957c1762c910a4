package sqlite

// This file holds the writes of key rotation: rewrapping data keys under a
// new master key, adding a store data key, re-sealing a version, and
// rewrapping sealed settings. Each is a compare-and-set, so that rotations
// run online, beside other writers, and may be run again.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/coffer-dev/coffer"
)

// StoreKeys lists the data keys of every store, ordered by store id, then
// key id, after (afterStore, afterKey).
func (db *DB) StoreKeys(ctx context.Context, afterStore string, afterKey, limit int) ([]*coffer.AccountStoreKey, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT s.account_id, k.store_id, k.id, k.wrapped
		FROM store_keys k JOIN stores s ON s.id = k.store_id
		WHERE k.store_id > ? OR (k.store_id = ? AND k.id > ?)
		ORDER BY k.store_id, k.id LIMIT ?`, afterStore, afterStore, afterKey, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list store keys: %w", err)
	}
	defer rows.Close()
	var out []*coffer.AccountStoreKey
	for rows.Next() {
		k := &coffer.AccountStoreKey{}
		if err := rows.Scan(&k.AccountID, &k.StoreID, &k.ID, &k.Wrapped); err != nil {
			return nil, fmt.Errorf("list store keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list store keys: %w", err)
	}
	return out, nil
}

// RewrapStoreKey replaces a store key's wrapped bytes while they are old
// (EPRECONDITION otherwise; ENOTFOUND).
func (db *DB) RewrapStoreKey(ctx context.Context, accountID, storeID string, keyID int, old, wrapped []byte, ev *coffer.AuditEvent) error {
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, storeID, "")
		if ok, err := w.storeOf(accountID, storeID); err != nil {
			return err
		} else if !ok {
			return coffer.Errorf(coffer.ENOTFOUND, "store not found")
		}
		res, err := w.conn.ExecContext(w.ctx, `UPDATE store_keys SET wrapped = ? WHERE store_id = ? AND id = ? AND wrapped = ?`,
			wrapped, storeID, keyID, old)
		if err != nil {
			return fmt.Errorf("rewrap store key: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("rewrap store key: %w", err)
		} else if n == 1 {
			return nil
		}
		return w.missingOr(`SELECT count(*) FROM store_keys WHERE store_id = ? AND id = ?`, []any{storeID, keyID},
			coffer.Errorf(coffer.ENOTFOUND, "store key not found"),
			coffer.Errorf(coffer.EPRECONDITION, "store key %d changed meanwhile", keyID))
	})
}

// AddStoreKey adds data key keyID to a store whose current key is keyID-1
// and makes it current (EPRECONDITION otherwise; ENOTFOUND).
func (db *DB) AddStoreKey(ctx context.Context, accountID, storeID string, keyID int, wrapped []byte, ev *coffer.AuditEvent) (*coffer.Store, error) {
	var out *coffer.Store
	err := db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, storeID, "")
		s, err := scanStore(w.conn.QueryRowContext(w.ctx, `SELECT `+storeCols+` FROM stores WHERE id = ? AND account_id = ?`, storeID, accountID))
		if errors.Is(err, sql.ErrNoRows) {
			return coffer.Errorf(coffer.ENOTFOUND, "store not found")
		} else if err != nil {
			return fmt.Errorf("read store: %w", err)
		}
		if s.KeyID != keyID-1 {
			return coffer.Errorf(coffer.EPRECONDITION, "the store's data key is %d, not %d", s.KeyID, keyID-1)
		}
		if _, err := w.conn.ExecContext(w.ctx, `INSERT INTO store_keys (store_id, id, wrapped) VALUES (?, ?, ?)`,
			storeID, keyID, wrapped); isUnique(err) {
			return coffer.Errorf(coffer.EPRECONDITION, "store key %d exists", keyID)
		} else if err != nil {
			return fmt.Errorf("add store key: %w", err)
		}
		if _, err := w.conn.ExecContext(w.ctx, `UPDATE stores SET key_id = ? WHERE id = ?`, keyID, storeID); err != nil {
			return fmt.Errorf("add store key: %w", err)
		}
		s.KeyID = keyID
		w.afterCommit(func() { w.stores.put(s) })
		out = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := *out
	return &c, nil
}

// ReencryptVersion replaces a version's ciphertext and key id while its
// ciphertext is old (EPRECONDITION otherwise; ENOTFOUND).
func (db *DB) ReencryptVersion(ctx context.Context, accountID, secretID string, version int, old, ciphertext []byte, keyID int, ev *coffer.AuditEvent) error {
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
		res, err := w.conn.ExecContext(w.ctx, `UPDATE versions SET ciphertext = ?, key_id = ?
			WHERE secret_id = ? AND number = ? AND ciphertext = ?`, ciphertext, keyID, secretID, version, old)
		if err != nil {
			return fmt.Errorf("re-encrypt version: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("re-encrypt version: %w", err)
		} else if n == 1 {
			w.touchStore(s.StoreID)
			return nil
		}
		return w.missingOr(`SELECT count(*) FROM versions WHERE secret_id = ? AND number = ?`, []any{secretID, version},
			coffer.Errorf(coffer.ENOTFOUND, "version %d not found", version),
			coffer.Errorf(coffer.EPRECONDITION, "version %d changed meanwhile", version))
	})
}

// SwapMeta replaces a setting's value while it is old (EPRECONDITION
// otherwise; ENOTFOUND). The key audit_head is reserved (EINVALID).
func (db *DB) SwapMeta(ctx context.Context, key string, old, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return db.do(ctx, nil, func(w *writer) error {
		if key == headKey {
			return coffer.Errorf(coffer.EINVALID, "setting %q is reserved", key)
		}
		res, err := w.conn.ExecContext(w.ctx, `UPDATE meta SET value = ? WHERE key = ? AND value = ?`, value, key, old)
		if err != nil {
			return fmt.Errorf("swap meta: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("swap meta: %w", err)
		} else if n == 1 {
			return nil
		}
		return w.missingOr(`SELECT count(*) FROM meta WHERE key = ?`, []any{key},
			coffer.Errorf(coffer.ENOTFOUND, "setting %q is not set", key),
			coffer.Errorf(coffer.EPRECONDITION, "setting %q changed meanwhile", key))
	})
}

// missingOr tells why a compare-and-set changed no row: it returns missing
// when count query finds no row, else changed.
func (w *writer) missingOr(query string, args []any, missing, changed error) error {
	var n int
	if err := w.conn.QueryRowContext(w.ctx, query, args...).Scan(&n); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if n == 0 {
		return missing
	}
	return changed
}
