package postgres

// This file holds the writes of key rotation: rewrapping data keys under a
// new master key, adding a store data key, re-sealing a version, and
// rewrapping sealed settings. Each is a compare-and-set (the WHERE clause
// holds the expected value, which PostgreSQL checks again once it holds the
// row lock), so that rotations run online, beside other writers and other
// servers, and may be run again.

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
)

// StoreKeys lists the data keys of every store, ordered by store id, then
// key id, after (afterStore, afterKey).
func (db *DB) StoreKeys(ctx context.Context, afterStore string, afterKey, limit int) ([]*coffer.AccountStoreKey, error) {
	var out []*coffer.AccountStoreKey
	err := db.query(ctx, `SELECT s.account_id, k.store_id, k.id, k.wrapped
		FROM store_keys k JOIN stores s ON s.id = k.store_id
		WHERE k.store_id > $1 OR (k.store_id = $1 AND k.id > $2)
		ORDER BY k.store_id, k.id LIMIT $3`, []any{afterStore, afterKey, pageLimit(limit)}, func(rows pgx.Rows) error {
		k := &coffer.AccountStoreKey{}
		if err := rows.Scan(&k.AccountID, &k.StoreID, &k.ID, &k.Wrapped); err != nil {
			return err
		}
		out = append(out, k)
		return nil
	})
	if err != nil {
		return nil, dbErr("list store keys", err)
	}
	return out, nil
}

// RewrapStoreKey replaces a store key's wrapped bytes while they are old
// (EPRECONDITION otherwise; ENOTFOUND).
func (db *DB) RewrapStoreKey(ctx context.Context, accountID, storeID string, keyID int, old, wrapped []byte, ev *coffer.AuditEvent) error {
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, storeID, "")
		if ok, err := w.lockStore(accountID, storeID); err != nil {
			return err
		} else if !ok {
			return coffer.Errorf(coffer.ENOTFOUND, "store not found")
		}
		ct, err := w.exec(`UPDATE store_keys SET wrapped = $1 WHERE store_id = $2 AND id = $3 AND wrapped = $4`,
			wrapped, storeID, keyID, old)
		if err != nil {
			return fmt.Errorf("rewrap store key: %w", err)
		} else if ct.RowsAffected() == 1 {
			return nil
		}
		return w.missingOr(`SELECT count(*) FROM store_keys WHERE store_id = $1 AND id = $2`, []any{storeID, keyID},
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
		s, err := scanStore(w.queryRow(`SELECT `+storeCols+` FROM stores WHERE id = $1 AND account_id = $2 FOR UPDATE`, storeID, accountID))
		if errors.Is(err, pgx.ErrNoRows) {
			return coffer.Errorf(coffer.ENOTFOUND, "store not found")
		} else if err != nil {
			return fmt.Errorf("read store: %w", err)
		}
		if s.KeyID != keyID-1 {
			return coffer.Errorf(coffer.EPRECONDITION, "the store's data key is %d, not %d", s.KeyID, keyID-1)
		}
		if _, err := w.exec(`INSERT INTO store_keys (store_id, id, wrapped) VALUES ($1, $2, $3)`,
			storeID, keyID, wrapped); isUnique(err) {
			return coffer.Errorf(coffer.EPRECONDITION, "store key %d exists", keyID)
		} else if err != nil {
			return fmt.Errorf("add store key: %w", err)
		}
		if _, err := w.exec(`UPDATE stores SET key_id = $1 WHERE id = $2`, keyID, storeID); err != nil {
			return fmt.Errorf("add store key: %w", err)
		}
		s.KeyID = keyID
		out = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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
		ct, err := w.exec(`UPDATE versions SET ciphertext = $1, key_id = $2
			WHERE secret_id = $3 AND number = $4 AND ciphertext = $5`, ciphertext, keyID, secretID, version, old)
		if err != nil {
			return fmt.Errorf("re-encrypt version: %w", err)
		} else if ct.RowsAffected() == 1 {
			w.touchStore(s.StoreID)
			return nil
		}
		return w.missingOr(`SELECT count(*) FROM versions WHERE secret_id = $1 AND number = $2`, []any{secretID, version},
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
		ct, err := w.exec(`UPDATE meta SET value = $1 WHERE key = $2 AND value = $3`, value, key, old)
		if err != nil {
			return fmt.Errorf("swap meta: %w", err)
		} else if ct.RowsAffected() == 1 {
			return nil
		}
		return w.missingOr(`SELECT count(*) FROM meta WHERE key = $1`, []any{key},
			coffer.Errorf(coffer.ENOTFOUND, "setting %q is not set", key),
			coffer.Errorf(coffer.EPRECONDITION, "setting %q changed meanwhile", key))
	})
}

// missingOr tells why a compare-and-set changed no row: it returns missing
// when the count query finds no row, else changed.
func (w *writer) missingOr(query string, args []any, missing, changed error) error {
	var n int
	if err := w.queryRow(query, args...).Scan(&n); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if n == 0 {
		return missing
	}
	return changed
}
