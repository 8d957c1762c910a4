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
// a parameter. With no selective filter the query walks audit_account (or
// the primary key) in seq order and stops at the page's end; a principal,
// object or exact action filter can use the indexes of migration 0009
// (a BitmapOr for the OR of columns, then a top-N sort of the matches),
// which the planner picks when it expects few matches. An action prefix is
// matched with substr, never as a range of the action index.
func (db *DB) AuditEvents(ctx context.Context, accountID string, q coffer.AuditQuery) ([]*coffer.AuditEvent, error) {
	var b strings.Builder
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	b.WriteString(`SELECT ` + auditCols + ` FROM audit WHERE seq > ` + arg(q.After))
	if accountID != "" {
		b.WriteString(` AND account_id = ` + arg(accountID))
	}
	if q.Before > 0 {
		b.WriteString(` AND seq < ` + arg(q.Before))
	}
	if q.Principal != "" {
		p := arg(q.Principal)
		b.WriteString(` AND (principal_id = ` + p + ` OR key_id = ` + p + `)`)
	}
	if q.Object != "" {
		o := arg(q.Object)
		b.WriteString(` AND (secret_id = ` + o + ` OR store_id = ` + o + ` OR name = ` + o + `)`)
	}
	switch {
	case q.Action == "":
	case q.ActionPrefix():
		b.WriteString(` AND substr(action, 1, ` + arg(utf8.RuneCountInString(q.Action)) + `) = ` + arg(q.Action))
	default:
		b.WriteString(` AND action = ` + arg(q.Action))
	}
	if q.Outcome != "" {
		b.WriteString(` AND outcome = ` + arg(q.Outcome))
	}
	since, until := q.NanoBounds()
	if !q.Since.IsZero() {
		b.WriteString(` AND time >= ` + arg(since))
	}
	if !q.Until.IsZero() {
		b.WriteString(` AND time < ` + arg(until))
	}
	if q.Newest {
		b.WriteString(` ORDER BY seq DESC`)
	} else {
		b.WriteString(` ORDER BY seq`)
	}
	b.WriteString(` LIMIT ` + arg(pageLimit(q.Limit)))

	var out []*coffer.AuditEvent
	err := db.query(ctx, b.String(), args, func(rows pgx.Rows) error {
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
