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
// accountID is empty, of every account; see coffer.Storage. Every value is
// a parameter. The query walks audit_account (or the table, for every
// account) in seq order, in either direction, testing the filters on each
// row and stopping once the page is full. There are no indexes for the
// filters, on purpose: every request appends audit events, and an index
// per filter column would slow every one of them (measured: value reads
// about a quarter slower with six); the service bounds the rows one
// filtered page walks instead (coffer.AuditScanWindow).
func (db *DB) AuditEvents(ctx context.Context, accountID string, q coffer.AuditQuery) ([]*coffer.AuditEvent, error) {
	query, args := auditSQL(accountID, q)
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

// auditSQL is the query of AuditEvents and its arguments.
func auditSQL(accountID string, q coffer.AuditQuery) (string, []any) {
	var where []string
	var args []any
	cond := func(sql string, vs ...any) {
		where = append(where, sql)
		args = append(args, vs...)
	}
	cond(`seq > ?`, q.After)
	if accountID != "" {
		cond(`account_id = ?`, accountID)
	}
	if q.Before > 0 {
		cond(`seq < ?`, q.Before)
	}
	if q.Principal != "" {
		cond(`(principal_id = ? OR key_id = ?)`, q.Principal, q.Principal)
	}
	if q.Object != "" {
		cond(`(secret_id = ? OR store_id = ? OR name = ?)`, q.Object, q.Object, q.Object)
	}
	switch {
	case q.Action == "":
	case q.ActionPrefix():
		cond(`substr(action, 1, ?) = ?`, utf8.RuneCountInString(q.Action), q.Action)
	default:
		cond(`action = ?`, q.Action)
	}
	if q.Outcome != "" {
		cond(`outcome = ?`, q.Outcome)
	}
	since, until := q.NanoBounds()
	if !q.Since.IsZero() {
		cond(`time >= ?`, since)
	}
	if !q.Until.IsZero() {
		cond(`time < ?`, until)
	}
	order := ` ORDER BY seq LIMIT ?`
	if q.Newest {
		order = ` ORDER BY seq DESC LIMIT ?`
	}
	return `SELECT ` + auditCols + ` FROM audit WHERE ` + strings.Join(where, ` AND `) + order, append(args, pageLimit(q.Limit))
}
