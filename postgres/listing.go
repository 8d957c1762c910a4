package postgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
)

// ListStores lists an account's stores; see coffer.StoreQuery.
func (db *DB) ListStores(ctx context.Context, accountID string, q coffer.StoreQuery) ([]*coffer.Store, error) {
	var b strings.Builder
	b.WriteString(`SELECT ` + storeCols + ` FROM stores`)
	args := storeFilter(&b, accountID, q)
	args = append(args, pageLimit(q.Limit))
	b.WriteString(orderBy(q.Order, q.Desc) + ` LIMIT $` + strconv.Itoa(len(args)))
	if q.Offset > 0 {
		args = append(args, q.Offset)
		b.WriteString(` OFFSET $` + strconv.Itoa(len(args)))
	}
	var out []*coffer.Store
	err := db.query(ctx, b.String(), args, func(rows pgx.Rows) error {
		s, err := scanStore(rows)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, dbErr("list stores", err)
	}
	return out, nil
}

// CountStores counts an account's stores that q's filters match.
func (db *DB) CountStores(ctx context.Context, accountID string, q coffer.StoreQuery) (int, error) {
	var b strings.Builder
	b.WriteString(`SELECT count(*) FROM stores`)
	args := storeFilter(&b, accountID, q)
	var n int
	if err := db.queryRow(ctx, b.String(), args, &n); err != nil {
		return 0, dbErr("count stores", err)
	}
	return n, nil
}

// storeFilter writes the WHERE clause of a store listing and returns its
// arguments.
func storeFilter(b *strings.Builder, accountID string, q coffer.StoreQuery) []any {
	b.WriteString(` WHERE account_id = $1`)
	args := []any{accountID}
	if q.Name != "" {
		args = append(args, q.Name)
		b.WriteString(` AND name = $` + strconv.Itoa(len(args)))
	}
	if q.Contains != "" {
		args = append(args, q.Contains)
		b.WriteString(` AND strpos(name, $` + strconv.Itoa(len(args)) + `) > 0`)
	}
	return args
}

// orderBy is the ORDER BY clause of a store or secret listing: by o in
// the direction desc gives, then by name and id.
func orderBy(o coffer.SecretOrder, desc bool) string {
	switch {
	case o == coffer.OrderCreated && desc:
		return ` ORDER BY created_at DESC, name, id`
	case o == coffer.OrderCreated:
		return ` ORDER BY created_at, name, id`
	case o == coffer.OrderUpdated && desc:
		return ` ORDER BY updated_at DESC, name, id`
	case o == coffer.OrderUpdated:
		return ` ORDER BY updated_at, name, id`
	case desc:
		return ` ORDER BY name DESC, id DESC`
	}
	return ` ORDER BY name, id`
}
