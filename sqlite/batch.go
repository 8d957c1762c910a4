package sqlite

import (
	"context"
	"fmt"

	"github.com/coffer-dev/coffer"
)

// WriteSecrets applies a batch of writes and updates in one op of the
// writer, inside its own savepoint: all of it or nothing. See
// coffer.SecretBatch.
func (db *DB) WriteSecrets(ctx context.Context, b *coffer.SecretBatch) ([]*coffer.Secret, error) {
	o := &op{evs: b.Events(), done: make(chan struct{})}
	var out []*coffer.Secret
	o.apply = func(w *writer) error {
		var err error
		out, err = b.Apply(batchTx{w})
		return err
	}
	if err := db.submit(ctx, o); err != nil {
		return nil, err
	}
	return out, nil
}

// batchTx runs the items of a batch on the writer.
type batchTx struct{ w *writer }

func (t batchTx) CreateStore(s *coffer.Store, wrappedKey []byte, ev *coffer.AuditEvent) error {
	return t.w.createStore(s, wrappedKey, ev)
}

func (t batchTx) WriteSecret(sw *coffer.SecretWrite, ev *coffer.AuditEvent) (*coffer.Secret, bool, error) {
	return t.w.writeSecretCreated(sw, stamp(sw.At), ev)
}

func (t batchTx) UpdateSecret(accountID, secretID string, u *coffer.SecretUpdate, ev *coffer.AuditEvent) (*coffer.Secret, error) {
	return t.w.updateSecret(accountID, secretID, u, stamp(u.At), ev)
}

// LiveSecrets counts the account's live secrets store by store, through
// the index of live names (an index of the account's live secrets would
// be picked by the planner for listings of one store, and scan them all).
func (t batchTx) LiveSecrets(accountID string) (int, error) {
	var n int
	if err := t.w.conn.QueryRowContext(t.w.ctx, `SELECT count(*) FROM secrets WHERE store_id IN
		(SELECT id FROM stores WHERE account_id = ?) AND status <> 'deleted'`, accountID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count secrets: %w", err)
	}
	return n, nil
}

// CreateStores adds a batch of stores in one op of the writer, inside its
// own savepoint: all of them or none. See coffer.StoreBatch.
func (db *DB) CreateStores(ctx context.Context, b *coffer.StoreBatch) error {
	return db.submit(ctx, &op{evs: b.Events(), apply: func(w *writer) error { return b.Apply(batchTx{w}) }, done: make(chan struct{})})
}

func (t batchTx) Stores(accountID string) (int, error) {
	var n int
	if err := t.w.conn.QueryRowContext(t.w.ctx, `SELECT count(*) FROM stores WHERE account_id = ?`, accountID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count stores: %w", err)
	}
	return n, nil
}
