package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
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

func (t markTx) Secret(accountID, id string) (*coffer.Secret, error) {
	s, err := t.w.secret(accountID, id)
	if err == nil {
		fillEvent(t.ev, "", s.StoreID, "")
	}
	return s, err
}

// numbersJSON is a list of version numbers as the JSON array that
// json_each reads.
func numbersJSON(ns []int) (string, error) {
	b, err := json.Marshal(ns)
	return string(b), err
}

func (t markTx) Versions(secretID string, ns []int) ([]*coffer.Version, error) {
	list, err := numbersJSON(ns)
	if err != nil {
		return nil, err
	}
	rows, err := t.w.conn.QueryContext(t.w.ctx, `SELECT number, destroyed_at, deleted_at FROM versions
		WHERE secret_id = ? AND number IN (SELECT value FROM json_each(?))`, secretID, list)
	if err != nil {
		return nil, fmt.Errorf("read versions: %w", err)
	}
	defer rows.Close()
	var out []*coffer.Version
	for rows.Next() {
		v := &coffer.Version{SecretID: secretID}
		var destroyed, deleted sql.NullInt64
		if err := rows.Scan(&v.Number, &destroyed, &deleted); err != nil {
			return nil, fmt.Errorf("read versions: %w", err)
		}
		v.DestroyedAt, v.DeletedAt = fromNullNanos(destroyed), fromNullNanos(deleted)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read versions: %w", err)
	}
	return out, nil
}

func (t markTx) SetDeletedAt(s *coffer.Secret, ns []int, at *time.Time) error {
	list, err := numbersJSON(ns)
	if err != nil {
		return err
	}
	if _, err := t.w.conn.ExecContext(t.w.ctx, `UPDATE versions SET deleted_at = ?
		WHERE secret_id = ? AND number IN (SELECT value FROM json_each(?))`, nullNanos(at), s.ID, list); err != nil {
		return fmt.Errorf("mark versions: %w", err)
	}
	t.w.touchStore(s.StoreID)
	return nil
}
