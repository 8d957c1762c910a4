package sqlite

// This file is the read-only look at a database of 'coffer doctor'.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer"
)

// Inspector reads a database through a read-only connection, beside the
// lock of the server that owns it: it neither migrates nor locks, so it
// runs next to a server.
type Inspector struct{ db *sql.DB }

// OpenInspector opens the database at path read-only.
func OpenInspector(path string) (*Inspector, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Inspector{db}, nil
}

// Migrations lists the applied migrations (none for a new database).
func (s *Inspector) Migrations(ctx context.Context) ([]string, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'migrations'`).Scan(&n); err != nil {
		return nil, fmt.Errorf("read SQLite database: %w", err)
	}
	if n == 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM migrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// Meta returns a meta value, or ENOTFOUND.
func (s *Inspector) Meta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "no meta %s", key)
	}
	return v, err
}

// Now reports that SQLite has no clock of its own.
func (s *Inspector) Now(context.Context) (time.Time, bool, error) { return time.Time{}, false, nil }

// EachRow runs a query without arguments and calls fn with the Scan of
// each row.
func (s *Inspector) EachRow(ctx context.Context, query string, fn func(scan func(dest ...any) error) error) error {
	rows, err := s.db.QueryContext(ctx, query)
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
func (s *Inspector) Close() { s.db.Close() }
