package postgres

import "context"

// SessionSettings returns the value of a setting on every idle connection
// of the pool.
func SessionSettings(ctx context.Context, db *DB, name string) ([]string, error) {
	var out []string
	for _, c := range db.pool.AcquireAllIdle(ctx) {
		var v string
		err := c.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v)
		c.Release()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
