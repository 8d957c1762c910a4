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
// a parameter.
//
// Each query walks an index in seq order, in either direction, and stops
// once the page is full: audit_account (or the primary key, for every
// account) with no filter, and the indexes of migration 0009 for a
// principal, object or exact action filter. A filter that matches one of
// several columns (principal_id or key_id; secret_id, store_id or name) is
// split into one branch per column, each reading at most a page from its
// own index in order, and the page is the first of their union; as an OR,
// the planner would combine bitmaps of every match and sort them. An
// action prefix is matched with substr, so that it never becomes a range of
// audit_action that must be sorted; the outcome and time bounds are tested
// on the rows walked (see migrations/0009_audit_search.sql).
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
			o := arg(q.Object)
			where = append(where, `(secret_id = `+o+` OR store_id = `+o+` OR name = `+o+`)`)
		}
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
	limit := arg(pageLimit(q.Limit))
	order += ` LIMIT ` + limit

	common := strings.Join(where, ` AND `)
	if split == nil {
		return `SELECT ` + auditCols + ` FROM audit WHERE ` + common + order, args
	}
	// The branches return whole rows, at most a page each; UNION drops an
	// event that two of them found. (Joining their seqs back to audit lets
	// the planner walk the primary key down to the oldest match instead.)
	v := arg(splitArg)
	branches := make([]string, len(split))
	for i, col := range split {
		branches[i] = `(SELECT ` + auditCols + ` FROM audit WHERE ` + common + ` AND ` + col + ` = ` + v + order + `)`
	}
	return `SELECT ` + auditCols + ` FROM (` + strings.Join(branches, ` UNION `) + `) AS page` + order, args
}
