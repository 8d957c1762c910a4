package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/coffer-dev/coffer"
)

// ListStores lists an account's stores; see coffer.StoreQuery.
func (db *DB) ListStores(ctx context.Context, accountID string, q coffer.StoreQuery) ([]*coffer.Store, error) {
	var b strings.Builder
	b.WriteString(`SELECT ` + storeCols + ` FROM stores`)
	args := storeFilter(&b, accountID, q)
	b.WriteString(orderBy(q.Order, q.Desc) + ` LIMIT ?`)
	args = append(args, pageLimit(q.Limit))
	if q.Offset > 0 {
		b.WriteString(` OFFSET ?`)
		args = append(args, q.Offset)
	}
	rows, err := db.read.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("list stores: %w", err)
	}
	defer rows.Close()
	var out []*coffer.Store
	for rows.Next() {
		s, err := scanStore(rows)
		if err != nil {
			return nil, fmt.Errorf("list stores: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list stores: %w", err)
	}
	return out, nil
}

// CountStores counts an account's stores that q's filters match.
func (db *DB) CountStores(ctx context.Context, accountID string, q coffer.StoreQuery) (int, error) {
	var b strings.Builder
	b.WriteString(`SELECT count(*) FROM stores`)
	args := storeFilter(&b, accountID, q)
	var n int
	if err := db.read.QueryRowContext(ctx, b.String(), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count stores: %w", err)
	}
	return n, nil
}

// storeFilter writes the WHERE clause of a store listing and returns its
// arguments.
func storeFilter(b *strings.Builder, accountID string, q coffer.StoreQuery) []any {
	b.WriteString(` WHERE account_id = ?`)
	args := []any{accountID}
	if q.Name != "" {
		b.WriteString(` AND name = ?`)
		args = append(args, q.Name)
	}
	if q.Contains != "" {
		b.WriteString(` AND instr(name, ?) > 0`)
		args = append(args, q.Contains)
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
