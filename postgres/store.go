package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
)

const storeCols = `id, account_id, name, comment, key_id, gen, created_at, updated_at, attributes`

func scanStore(sc pgx.Row) (*coffer.Store, error) {
	var s coffer.Store
	var created, updated int64
	var attrs string
	if err := sc.Scan(&s.ID, &s.AccountID, &s.Name, &s.Comment, &s.KeyID, &s.Gen, &created, &updated, &attrs); err != nil {
		return nil, err
	}
	if attrs != "" {
		if err := json.Unmarshal([]byte(attrs), &s.Attributes); err != nil {
			return nil, fmt.Errorf("decode attributes of store %s: %w", s.ID, err)
		}
	}
	s.CreatedAt, s.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &s, nil
}

// encodeStoreAttributes is the attributes column of a store: JSON, or ""
// when there are none.
func encodeStoreAttributes(s *coffer.Store) (string, error) {
	if len(s.Attributes) == 0 {
		return "", nil
	}
	b, err := json.Marshal(s.Attributes)
	if err != nil {
		return "", fmt.Errorf("encode attributes of store %s: %w", s.ID, err)
	}
	return string(b), nil
}

// CreateStore adds a store with its first data key, giving it an id when it
// has none and key id 1 when KeyID is 0 (ENOTFOUND for a missing account,
// ECONFLICT if the id exists or the name is taken in the account).
func (db *DB) CreateStore(ctx context.Context, s *coffer.Store, wrappedKey []byte, ev *coffer.AuditEvent) error {
	return db.do(ctx, ev, func(w *writer) error { return w.createStore(s, wrappedKey, ev) })
}

// createStore is CreateStore inside the writer's transaction.
func (w *writer) createStore(s *coffer.Store, wrappedKey []byte, ev *coffer.AuditEvent) error {
	if s.ID == "" {
		s.ID = coffer.NewID()
	}
	if s.KeyID == 0 {
		s.KeyID = 1
	}
	s.Gen = 0
	s.CreatedAt = stamp(s.CreatedAt)
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = s.CreatedAt
	}
	s.UpdatedAt = stamp(s.UpdatedAt)
	if wrappedKey == nil {
		wrappedKey = []byte{}
	}
	attrs, err := encodeStoreAttributes(s)
	if err != nil {
		return err
	}
	fillEvent(ev, s.AccountID, s.ID, "")
	if ok, err := w.accountExists(s.AccountID); err != nil {
		return err
	} else if !ok {
		return coffer.Errorf(coffer.ENOTFOUND, "account not found")
	}
	_, err = w.exec(`INSERT INTO stores (`+storeCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		s.ID, s.AccountID, s.Name, s.Comment, s.KeyID, s.Gen, s.CreatedAt.UnixNano(), s.UpdatedAt.UnixNano(), attrs)
	if isUnique(err) {
		if constraint(err) == "stores_name" {
			return coffer.Errorf(coffer.ECONFLICT, "store name %q is taken", s.Name)
		}
		return coffer.Errorf(coffer.ECONFLICT, "store %s already exists", s.ID)
	} else if err != nil {
		return fmt.Errorf("create store: %w", err)
	}
	if _, err := w.exec(`INSERT INTO store_keys (store_id, id, wrapped) VALUES ($1, $2, $3)`,
		s.ID, s.KeyID, wrappedKey); err != nil {
		return fmt.Errorf("create store key: %w", err)
	}
	return nil
}

// storeByRefSQL finds a store of account $1 by id $2, else by name $2.
const storeByRefSQL = `SELECT ` + storeCols + ` FROM stores
	WHERE account_id = $1 AND (id = $2 OR name = $2) ORDER BY id = $2 DESC LIMIT 1`

// Store returns a store of the account by id, else by name, with its
// current Gen (ENOTFOUND). It asks the database every time: another server
// may have changed the store a moment ago.
func (db *DB) Store(ctx context.Context, accountID, ref string) (*coffer.Store, error) {
	var s *coffer.Store
	err := db.query(ctx, storeByRefSQL, []any{accountID, ref}, func(rows pgx.Rows) (err error) {
		s, err = scanStore(rows)
		return err
	})
	if err != nil {
		return nil, dbErr("read store", err)
	} else if s == nil {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "store not found")
	}
	return s, nil
}

// Stores lists the stores of an account ordered by name, after the given
// name.
func (db *DB) Stores(ctx context.Context, accountID string, after string, limit int) ([]*coffer.Store, error) {
	var out []*coffer.Store
	err := db.query(ctx, `SELECT `+storeCols+` FROM stores WHERE account_id = $1 AND name > $2 ORDER BY name LIMIT $3`,
		[]any{accountID, after, pageLimit(limit)}, func(rows pgx.Rows) error {
			s, err := scanStore(rows)
			if err != nil {
				return err
			}
			out = append(out, s)
			return nil
		})
	if err != nil {
		return nil, dbErr("list stores", err)
	}
	return out, nil
}

// DeleteStore removes a store of the account by id (ENOTFOUND). Unless force
// is set it fails with ECONFLICT while the store holds secrets that are not
// deleted; with force, its secrets, versions and keys go too.
func (db *DB) DeleteStore(ctx context.Context, accountID, storeID string, force bool, ev *coffer.AuditEvent) error {
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, storeID, "")
		if ok, err := w.lockStore(accountID, storeID); err != nil {
			return err
		} else if !ok {
			return coffer.Errorf(coffer.ENOTFOUND, "store not found")
		}
		if !force {
			var live int
			if err := w.queryRow(`SELECT count(*) FROM secrets WHERE store_id = $1 AND status <> 'deleted'`,
				storeID).Scan(&live); err != nil {
				return fmt.Errorf("delete store: %w", err)
			} else if live > 0 {
				return coffer.Errorf(coffer.ECONFLICT, "store holds %d secrets that are not deleted", live)
			}
		}
		// Secrets, their versions and the store's keys go by ON DELETE
		// CASCADE.
		if _, err := w.exec(`DELETE FROM stores WHERE id = $1`, storeID); err != nil {
			return fmt.Errorf("delete store: %w", err)
		}
		return nil
	})
}

// lockStore reports whether the store exists in the account, and locks its
// row until the transaction ends.
func (w *writer) lockStore(accountID, storeID string) (bool, error) {
	var n int
	err := w.queryRow(`SELECT 1 FROM stores WHERE id = $1 AND account_id = $2 FOR UPDATE`, storeID, accountID).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("read store: %w", err)
	}
	return true, nil
}

// UpdateStore changes a store's comment and attributes (ENOTFOUND).
func (db *DB) UpdateStore(ctx context.Context, accountID, storeID string, u *coffer.StoreUpdate, ev *coffer.AuditEvent) (*coffer.Store, error) {
	var out *coffer.Store
	err := db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, storeID, "")
		s, err := scanStore(w.queryRow(`SELECT `+storeCols+` FROM stores WHERE id = $1 AND account_id = $2 FOR UPDATE`,
			storeID, accountID))
		if errors.Is(err, pgx.ErrNoRows) {
			return coffer.Errorf(coffer.ENOTFOUND, "store not found")
		} else if err != nil {
			return fmt.Errorf("read store: %w", err)
		}
		if u.Comment != nil {
			s.Comment = *u.Comment
		}
		if u.Attributes != nil {
			s.Attributes = maps.Clone(u.Attributes)
		}
		s.UpdatedAt = stamp(u.At)
		attrs, err := encodeStoreAttributes(s)
		if err != nil {
			return err
		}
		if _, err := w.exec(`UPDATE stores SET comment = $1, attributes = $2, updated_at = $3 WHERE id = $4`,
			s.Comment, attrs, s.UpdatedAt.UnixNano(), s.ID); err != nil {
			return fmt.Errorf("update store: %w", err)
		}
		out = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// StoreKey returns a wrapped data key of a store of the account (ENOTFOUND).
func (db *DB) StoreKey(ctx context.Context, accountID, storeID string, keyID int) ([]byte, error) {
	var wrapped []byte
	err := db.queryRow(ctx, `SELECT k.wrapped FROM store_keys k JOIN stores s ON s.id = k.store_id
		WHERE s.account_id = $1 AND k.store_id = $2 AND k.id = $3`, []any{accountID, storeID, keyID}, &wrapped)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "store key not found")
	} else if err != nil {
		return nil, dbErr("read store key", err)
	}
	return wrapped, nil
}
