package sqlite

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
)

const auditCols = `seq, time, account_id, principal_id, key_id, action, store_id, secret_id, name, version,
	outcome, reason, request_id, remote, face, prev_hash, hash`

// AuditEvents lists the events that q selects, of one account or, when
// accountID is empty, of every account; see coffer.Storage. The query walks
// an index in seq order and stops at the page's end: audit_account (or the
// table itself for every account) when no selective filter is set, and the
// indexes of migration 0009 for a principal, object or exact action filter,
// which SQLite joins for the OR of principal_id/key_id and of
// secret_id/store_id/name. An action prefix and the outcome and time
// filters are checked on the rows walked; an action prefix is matched with
// substr so that it never turns into an index range that must be sorted.
func (db *DB) AuditEvents(ctx context.Context, accountID string, q coffer.AuditQuery) ([]*coffer.AuditEvent, error) {
	var b strings.Builder
	b.WriteString(`SELECT ` + auditCols + ` FROM audit WHERE seq > ?`)
	args := []any{q.After}
	if accountID != "" {
		b.WriteString(` AND account_id = ?`)
		args = append(args, accountID)
	}
	if q.Before > 0 {
		b.WriteString(` AND seq < ?`)
		args = append(args, q.Before)
	}
	if q.Principal != "" {
		b.WriteString(` AND (principal_id = ? OR key_id = ?)`)
		args = append(args, q.Principal, q.Principal)
	}
	if q.Object != "" {
		b.WriteString(` AND (secret_id = ? OR store_id = ? OR name = ?)`)
		args = append(args, q.Object, q.Object, q.Object)
	}
	switch {
	case q.Action == "":
	case q.ActionPrefix():
		b.WriteString(` AND substr(action, 1, ?) = ?`)
		args = append(args, utf8.RuneCountInString(q.Action), q.Action)
	default:
		b.WriteString(` AND action = ?`)
		args = append(args, q.Action)
	}
	if q.Outcome != "" {
		b.WriteString(` AND outcome = ?`)
		args = append(args, q.Outcome)
	}
	since, until := q.NanoBounds()
	if !q.Since.IsZero() {
		b.WriteString(` AND time >= ?`)
		args = append(args, since)
	}
	if !q.Until.IsZero() {
		b.WriteString(` AND time < ?`)
		args = append(args, until)
	}
	if q.Newest {
		b.WriteString(` ORDER BY seq DESC LIMIT ?`)
	} else {
		b.WriteString(` ORDER BY seq LIMIT ?`)
	}
	args = append(args, pageLimit(q.Limit))

	rows, err := db.read.QueryContext(ctx, b.String(), args...)
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
