package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/coffer-dev/coffer"
)

const storeCols = `id, account_id, name, comment, key_id, gen, created_at, updated_at, attributes`

// storeIndex is the copy of the stores table that Store answers from, by
// id and by name, without a query: it is on the path of every request. Only
// the writer changes it, after the commit that changed the table, so it
// never runs ahead of the database; and one process owns the database (see
// lockFile), so it misses no write.
type storeIndex struct {
	mu     sync.RWMutex
	byID   map[string]*coffer.Store
	byName map[storeName]*coffer.Store
}

type storeName struct{ accountID, name string }

// loadStores reads the whole stores table.
func loadStores(ctx context.Context, conn *sql.Conn) (*storeIndex, error) {
	x := &storeIndex{byID: map[string]*coffer.Store{}, byName: map[storeName]*coffer.Store{}}
	rows, err := conn.QueryContext(ctx, `SELECT `+storeCols+` FROM stores`)
	if err != nil {
		return nil, fmt.Errorf("load stores: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		s, err := scanStore(rows)
		if err != nil {
			return nil, fmt.Errorf("load stores: %w", err)
		}
		x.put(s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load stores: %w", err)
	}
	return x, nil
}

// get returns a copy of the store of the account with id ref, else name ref.
func (x *storeIndex) get(accountID, ref string) (*coffer.Store, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := x.byID[ref]
	if s == nil || s.AccountID != accountID {
		s = x.byName[storeName{accountID, ref}]
	}
	if s == nil {
		return nil, false
	}
	c := *s
	c.Attributes = maps.Clone(s.Attributes)
	return &c, true
}

// has reports whether the account has a store with id id.
func (x *storeIndex) has(accountID, id string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := x.byID[id]
	return s != nil && s.AccountID == accountID
}

func (x *storeIndex) put(s *coffer.Store) {
	c := *s
	c.Attributes = maps.Clone(s.Attributes)
	x.mu.Lock()
	x.byID[c.ID], x.byName[storeName{c.AccountID, c.Name}] = &c, &c
	x.mu.Unlock()
}

func (x *storeIndex) remove(id string) {
	x.mu.Lock()
	if s := x.byID[id]; s != nil {
		delete(x.byID, id)
		delete(x.byName, storeName{s.AccountID, s.Name})
	}
	x.mu.Unlock()
}

func (x *storeIndex) setGen(id string, gen int64) {
	x.mu.Lock()
	if s := x.byID[id]; s != nil {
		s.Gen = gen
	}
	x.mu.Unlock()
}

// CreateStore adds a store with its first data key, giving it an id when it
// has none and key id 1 when KeyID is 0 (ENOTFOUND for a missing account,
// ECONFLICT if the name is taken in the account).
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
	_, err = w.conn.ExecContext(w.ctx, `INSERT INTO stores (`+storeCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.AccountID, s.Name, s.Comment, s.KeyID, s.Gen, s.CreatedAt.UnixNano(), s.UpdatedAt.UnixNano(), attrs)
	if isUnique(err) {
		if strings.Contains(err.Error(), "stores.id") {
			return coffer.Errorf(coffer.ECONFLICT, "store %s already exists", s.ID)
		}
		return coffer.Errorf(coffer.ECONFLICT, "store name %q is taken", s.Name)
	} else if err != nil {
		return fmt.Errorf("create store: %w", err)
	}
	if _, err := w.conn.ExecContext(w.ctx, `INSERT INTO store_keys (store_id, id, wrapped) VALUES (?, ?, ?)`,
		s.ID, s.KeyID, wrappedKey); err != nil {
		return fmt.Errorf("create store key: %w", err)
	}
	w.afterCommit(func() { w.stores.put(s) })
	return nil
}

// Store returns a store of the account by id, else by name, with its
// current Gen (ENOTFOUND). It answers from memory.
func (db *DB) Store(ctx context.Context, accountID, ref string) (*coffer.Store, error) {
	s, ok := db.stores.get(accountID, ref)
	if !ok {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "store not found")
	}
	return s, nil
}

// Stores lists the stores of an account ordered by name, after the given
// name.
func (db *DB) Stores(ctx context.Context, accountID string, after string, limit int) ([]*coffer.Store, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+storeCols+` FROM stores
		WHERE account_id = ? AND name > ? ORDER BY name LIMIT ?`, accountID, after, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list stores: %w", err)
	}
	defer rows.Close()
	var out []*coffer.Store
	for rows.Next() {
		s, err := scanStore(rows)
		if err != nil {
			return nil, fmt.Errorf("list stores: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list stores: %w", err)
	}
	return out, nil
}

func scanStore(sc scanner) (*coffer.Store, error) {
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

// DeleteStore removes a store of the account by id (ENOTFOUND). Unless force
// is set it fails with ECONFLICT while the store holds secrets that are not
// deleted; with force, its secrets, versions and keys go too.
func (db *DB) DeleteStore(ctx context.Context, accountID, storeID string, force bool, ev *coffer.AuditEvent) error {
	return db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, storeID, "")
		return w.deleteStore(accountID, storeID, force)
	})
}

func (w *writer) deleteStore(accountID, storeID string, force bool) error {
	if ok, err := w.storeOf(accountID, storeID); err != nil {
		return err
	} else if !ok {
		return coffer.Errorf(coffer.ENOTFOUND, "store not found")
	}
	if !force {
		var live int
		if err := w.conn.QueryRowContext(w.ctx, `SELECT count(*) FROM secrets
			WHERE store_id = ? AND status <> 'deleted'`, storeID).Scan(&live); err != nil {
			return fmt.Errorf("delete store: %w", err)
		} else if live > 0 {
			return coffer.Errorf(coffer.ECONFLICT, "store holds %d secrets that are not deleted", live)
		}
	}
	for _, q := range []string{
		`DELETE FROM versions WHERE secret_id IN (SELECT id FROM secrets WHERE store_id = ?)`,
		`DELETE FROM secrets WHERE store_id = ?`,
		`DELETE FROM store_keys WHERE store_id = ?`,
		`DELETE FROM stores WHERE id = ?`,
	} {
		if _, err := w.conn.ExecContext(w.ctx, q, storeID); err != nil {
			return fmt.Errorf("delete store: %w", err)
		}
	}
	w.afterCommit(func() { w.stores.remove(storeID) })
	return nil
}

// storeOf reports whether the store exists in the account, inside the write
// transaction.
func (w *writer) storeOf(accountID, storeID string) (bool, error) {
	var n int
	if err := w.storeExists.QueryRowContext(w.ctx, storeID, accountID).Scan(&n); err != nil {
		return false, fmt.Errorf("read store: %w", err)
	}
	return n > 0, nil
}

// touchStore marks a store whose secrets or versions the op changes: if the
// op succeeds, the batch changes the store's generation (once, however many
// of its ops touch the store).
func (w *writer) touchStore(storeID string) { w.touched = append(w.touched, storeID) }

// bumpGens changes the generation of every store the batch's successful ops
// touched, inside the batch's transaction.
func (w *writer) bumpGens() error {
	slices.Sort(w.touched)
	for _, id := range slices.Compact(w.touched) {
		var gen int64
		err := w.bumpGen.QueryRowContext(w.ctx, id).Scan(&gen)
		if errors.Is(err, sql.ErrNoRows) {
			continue // deleted later in the batch
		} else if err != nil {
			return fmt.Errorf("touch store: %w", err)
		}
		w.afterCommit(func() { w.stores.setGen(id, gen) })
	}
	return nil
}

// UpdateStore changes a store's comment and attributes (ENOTFOUND).
func (db *DB) UpdateStore(ctx context.Context, accountID, storeID string, u *coffer.StoreUpdate, ev *coffer.AuditEvent) (*coffer.Store, error) {
	var out *coffer.Store
	err := db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, storeID, "")
		s, err := scanStore(w.conn.QueryRowContext(w.ctx, `SELECT `+storeCols+` FROM stores WHERE id = ? AND account_id = ?`, storeID, accountID))
		if errors.Is(err, sql.ErrNoRows) {
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
		if _, err := w.conn.ExecContext(w.ctx, `UPDATE stores SET comment = ?, attributes = ?, updated_at = ? WHERE id = ?`,
			s.Comment, attrs, s.UpdatedAt.UnixNano(), s.ID); err != nil {
			return fmt.Errorf("update store: %w", err)
		}
		w.afterCommit(func() { w.stores.put(s) })
		out = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	c := *out
	c.Attributes = maps.Clone(out.Attributes)
	return &c, nil
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

// StoreKey returns a wrapped data key of a store of the account (ENOTFOUND).
func (db *DB) StoreKey(ctx context.Context, accountID, storeID string, keyID int) ([]byte, error) {
	var wrapped []byte
	err := db.read.QueryRowContext(ctx, `SELECT k.wrapped FROM store_keys k JOIN stores s ON s.id = k.store_id
		WHERE s.account_id = ? AND k.store_id = ? AND k.id = ?`, accountID, storeID, keyID).Scan(&wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "store key not found")
	} else if err != nil {
		return nil, fmt.Errorf("read store key: %w", err)
	}
	return wrapped, nil
}
