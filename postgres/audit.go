package postgres

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
)

const auditCols = `seq, time, account_id, principal_id, key_id, action, store_id, secret_id, name, version,
	outcome, reason, request_id, remote, face, prev_hash, hash`

// AuditEvents lists the events that q selects, of one account or, when
// accountID is empty, of every account; see coffer.Storage. Every value is
// a parameter. The query walks audit_account (or the primary key, for
// every account) in seq order, in either direction, testing the filters on
// each row and stopping once the page is full. There are no indexes for
// the filters, on purpose: every request appends audit events, and an
// index per filter column would slow every one of them; the service bounds
// the rows one filtered page walks instead (coffer.AuditScanWindow).
func (db *DB) AuditEvents(ctx context.Context, accountID string, q coffer.AuditQuery) ([]*coffer.AuditEvent, error) {
	query, args := auditSQL(accountID, q)
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

// auditSQL is the query of AuditEvents and its arguments.
func auditSQL(accountID string, q coffer.AuditQuery) (string, []any) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where = append(where, `seq > `+arg(q.After))
	if accountID != "" {
		where = append(where, `account_id = `+arg(accountID))
	}
	if q.Before > 0 {
		where = append(where, `seq < `+arg(q.Before))
	}
	if q.Principal != "" {
		v := arg(q.Principal)
		where = append(where, `(principal_id = `+v+` OR key_id = `+v+`)`)
	}
	if q.Object != "" {
		v := arg(q.Object)
		where = append(where, `(secret_id = `+v+` OR store_id = `+v+` OR name = `+v+`)`)
	}
	switch {
	case q.Action == "":
	case q.ActionPrefix():
		where = append(where, `substr(action, 1, `+arg(utf8.RuneCountInString(q.Action))+`) = `+arg(q.Action))
	default:
		where = append(where, `action = `+arg(q.Action))
	}
	if q.Outcome != "" {
		where = append(where, `outcome = `+arg(q.Outcome))
	}
	since, until := q.NanoBounds()
	if !q.Since.IsZero() {
		where = append(where, `time >= `+arg(since))
	}
	if !q.Until.IsZero() {
		where = append(where, `time < `+arg(until))
	}
	order := ` ORDER BY seq`
	if q.Newest {
		order = ` ORDER BY seq DESC`
	}
	return `SELECT ` + auditCols + ` FROM audit WHERE ` + strings.Join(where, ` AND `) + order + ` LIMIT ` + arg(pageLimit(q.Limit)), args
}
