package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer"
)

// DeleteVersions soft-deletes versions of a secret; see coffer.Storage.
func (db *DB) DeleteVersions(ctx context.Context, accountID, secretID string, versions []int, at time.Time, ev *coffer.AuditEvent) (*coffer.Secret, error) {
	return db.markVersions(ctx, accountID, secretID, versions, true, at, ev)
}

// UndeleteVersions clears the deletion of versions of a secret; see
// coffer.Storage.
func (db *DB) UndeleteVersions(ctx context.Context, accountID, secretID string, versions []int, at time.Time, ev *coffer.AuditEvent) (*coffer.Secret, error) {
	return db.markVersions(ctx, accountID, secretID, versions, false, at, ev)
}

func (db *DB) markVersions(ctx context.Context, accountID, secretID string, ns []int, del bool, at time.Time, ev *coffer.AuditEvent) (*coffer.Secret, error) {
	at = stamp(at)
	var out *coffer.Secret
	err := db.do(ctx, ev, func(w *writer) error {
		fillEvent(ev, accountID, "", secretID)
		var err error
		out, err = coffer.MarkVersions(markTx{w, ev}, accountID, secretID, ns, del, at)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// markTx is coffer.VersionMarkTx on the writer's transaction.
type markTx struct {
	w  *writer
	ev *coffer.AuditEvent
}

// Secret locks the secret's row: its versions change under it.
func (t markTx) Secret(accountID, id string) (*coffer.Secret, error) {
	s, err := t.w.secret(accountID, id)
	if err == nil {
		fillEvent(t.ev, "", s.StoreID, "")
	}
	return s, err
}

// int4s is a list of version numbers as PostgreSQL's integer[].
func int4s(ns []int) []int32 {
	out := make([]int32, len(ns))
	for i, n := range ns {
		out[i] = int32(n)
	}
	return out
}

// Versions reads the versions in one row of arrays: the writer's queries
// go out in its round trips (send), one row each.
func (t markTx) Versions(secretID string, ns []int) ([]*coffer.Version, error) {
	var numbers []int32
	var destroyed, deleted []*int64
	if err := t.w.queryRow(`SELECT coalesce(array_agg(number), '{}'), coalesce(array_agg(destroyed_at), '{}'),
			coalesce(array_agg(deleted_at), '{}')
		FROM versions WHERE secret_id = $1 AND number = ANY($2::integer[])`, secretID, int4s(ns)).Scan(
		&numbers, &destroyed, &deleted); err != nil {
		return nil, fmt.Errorf("read versions: %w", err)
	}
	if len(destroyed) != len(numbers) || len(deleted) != len(numbers) {
		return nil, fmt.Errorf("read versions: %d numbers, %d and %d times", len(numbers), len(destroyed), len(deleted))
	}
	out := make([]*coffer.Version, len(numbers))
	for i, n := range numbers {
		out[i] = &coffer.Version{SecretID: secretID, Number: int(n), DestroyedAt: fromNullNanos(destroyed[i]),
			DeletedAt: fromNullNanos(deleted[i])}
	}
	return out, nil
}

func (t markTx) SetDeletedAt(s *coffer.Secret, ns []int, at *time.Time) error {
	if _, err := t.w.exec(`UPDATE versions SET deleted_at = $1 WHERE secret_id = $2 AND number = ANY($3::integer[])`,
		nullNanos(at), s.ID, int4s(ns)); err != nil {
		return fmt.Errorf("mark versions: %w", err)
	}
	t.w.touchStore(s.StoreID)
	return nil
}
