package postgres

import (
	"context"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
)

const auditCols = `seq, time, account_id, principal_id, key_id, action, store_id, secret_id, name, version,
	outcome, reason, request_id, remote, face, prev_hash, hash`

// AuditEvents lists events in sequence order from after+1, of one account or,
// when accountID is empty, of every account.
func (db *DB) AuditEvents(ctx context.Context, accountID string, after int64, limit int) ([]*coffer.AuditEvent, error) {
	query, args := `SELECT `+auditCols+` FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2`, []any{after, pageLimit(limit)}
	if accountID != "" {
		query = `SELECT ` + auditCols + ` FROM audit WHERE account_id = $3 AND seq > $1 ORDER BY seq LIMIT $2`
		args = append(args, accountID)
	}
	var out []*coffer.AuditEvent
	err := db.query(ctx, query, args, func(rows pgx.Rows) error {
		var e coffer.AuditEvent
		var t int64
		if err := rows.Scan(&e.Seq, &t, &e.AccountID, &e.PrincipalID, &e.KeyID, &e.Action, &e.StoreID, &e.SecretID,
			&e.Name, &e.Version, &e.Outcome, &e.Reason, &e.RequestID, &e.Remote, &e.Face, &e.PrevHash, &e.Hash); err != nil {
			return err
		}
		e.Time = fromNanos(t)
		out = append(out, &e)
		return nil
	})
	if err != nil {
		return nil, dbErr("list audit events", err)
	}
	return out, nil
}
