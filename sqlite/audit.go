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

// auditIndex names the index of migration 0009 that leads with
// (account_id, column).
var auditIndex = map[string]string{
	"principal_id": "audit_principal", "key_id": "audit_key",
	"secret_id": "audit_secret", "store_id": "audit_store", "name": "audit_name",
}

// AuditEvents lists the events that q selects, of one account or, when
// accountID is empty, of every account; see coffer.Storage. Every value is
// a parameter.
//
// Each query walks an index in seq order, in either direction, and stops
// once the page is full: audit_account (or the table itself, for every
// account) with no filter, and the indexes of migration 0009 for a
// principal, object or exact action filter. A filter that matches one of
// several columns (principal_id or key_id; secret_id, store_id or name)
// is split into one branch per column, each reading at most a page from
// its own index in order, and the page is the first of their union: SQLite
// would otherwise walk audit_account and test every row. An action prefix
// is matched with substr, so that it never becomes a range of audit_action
// that must be sorted; the outcome and time bounds are tested on the rows
// walked (see migrations/0009_audit_search.sql).
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
	// The first filter over several columns is split into branches; the
	// second, if any, stays a condition.
	var split []string
	var splitArg string
	if q.Principal != "" {
		split, splitArg = []string{"principal_id", "key_id"}, q.Principal
	}
	if q.Object != "" {
		if split == nil {
			split, splitArg = []string{"secret_id", "store_id", "name"}, q.Object
		} else {
			cond(`(secret_id = ? OR store_id = ? OR name = ?)`, q.Object, q.Object, q.Object)
		}
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
	limit := pageLimit(q.Limit)

	var query string
	if split == nil {
		query = `SELECT ` + auditCols + ` FROM audit WHERE ` + strings.Join(where, ` AND `) + order
		args = append(args, limit)
	} else {
		common, commonArgs := strings.Join(where, ` AND `), args
		branches := make([]string, len(split))
		args = nil
		for i, col := range split {
			// Each branch reads its column's index: without statistics
			// SQLite might pick audit_action for a common action instead
			// and walk most of the log to find a principal's few events.
			from := `audit`
			if accountID != "" {
				from = `audit INDEXED BY ` + auditIndex[col]
			}
			branches[i] = `SELECT seq FROM (SELECT seq FROM ` + from + ` WHERE ` + common + ` AND ` + col + ` = ?` + order + `)`
			args = append(append(args, commonArgs...), splitArg, limit)
		}
		query = `SELECT ` + auditCols + ` FROM audit WHERE seq IN (` + strings.Join(branches, ` UNION ALL `) + `)` + order
		args = append(args, limit)
	}
	return query, args
}
