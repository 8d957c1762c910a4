package sqlite

import (
	"context"
	"fmt"

	"github.com/coffer-dev/coffer"
)

const auditCols = `seq, time, account_id, principal_id, key_id, action, store_id, secret_id, name, version,
	outcome, reason, request_id, remote, face, prev_hash, hash`

// AuditEvents lists events in sequence order from after+1, of one account or,
// when accountID is empty, of every account.
func (db *DB) AuditEvents(ctx context.Context, accountID string, after int64, limit int) ([]*coffer.AuditEvent, error) {
	query, args := `SELECT `+auditCols+` FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, []any{after, pageLimit(limit)}
	if accountID != "" {
		query = `SELECT ` + auditCols + ` FROM audit WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?`
		args = append([]any{accountID}, args...)
	}
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var out []*coffer.AuditEvent
	for rows.Next() {
		var e coffer.AuditEvent
		var t int64
		if err := rows.Scan(&e.Seq, &t, &e.AccountID, &e.PrincipalID, &e.KeyID, &e.Action, &e.StoreID, &e.SecretID,
			&e.Name, &e.Version, &e.Outcome, &e.Reason, &e.RequestID, &e.Remote, &e.Face, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("list audit events: %w", err)
		}
		e.Time = fromNanos(t)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}
