package postgres

// This file is the read-only look at a database of 'coffer doctor'.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Inspector reads a database over one connection: it neither migrates nor
// locks, so it runs next to servers.
type Inspector struct{ pool *pgxpool.Pool }

// OpenInspector connects to the database url names. Its errors do not
// quote the URL.
func OpenInspector(ctx context.Context, url string) (*Inspector, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL and its password.
		return nil, errors.New("the PostgreSQL URL does not parse")
	}
	cfg.MaxConns = 1
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return &Inspector{pool}, nil
}

// Migrations lists the applied migrations (none for a new database).
func (p *Inspector) Migrations(ctx context.Context) ([]string, error) {
	var exists bool
	if err := p.pool.QueryRow(ctx, `SELECT to_regclass('migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read PostgreSQL database: %w", err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := p.pool.Query(ctx, `SELECT name FROM migrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Meta returns a meta value, or ENOTFOUND.
func (p *Inspector) Meta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := p.pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "no meta %s", key)
	}
	return v, err
}

// Now returns the database server's clock, at the middle of the round
// trip.
func (p *Inspector) Now(ctx context.Context) (time.Time, bool, error) {
	var t time.Time
	start := time.Now()
	if err := p.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&t); err != nil {
		return time.Time{}, false, err
	}
	return t.Add(time.Since(start) / 2), true, nil
}

// EachRow runs a query without arguments and calls fn with the Scan of
// each row.
func (p *Inspector) EachRow(ctx context.Context, query string, fn func(scan func(dest ...any) error) error) error {
	rows, err := p.pool.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Close closes the connection.
func (p *Inspector) Close() { p.pool.Close() }
