package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer"
)

// CreateConsoleSession adds a session (ECONFLICT if its id exists) and
// deletes the sessions that have ended by its CreatedAt.
func (db *DB) CreateConsoleSession(ctx context.Context, s *coffer.ConsoleSession) error {
	s.CreatedAt = stamp(s.CreatedAt)
	now := s.CreatedAt.UnixNano()
	return db.do(ctx, nil, func(w *writer) error {
		if _, err := w.conn.ExecContext(w.ctx, `DELETE FROM console_sessions WHERE idle_until <= ? OR expires_at <= ?`,
			now, now); err != nil {
			return fmt.Errorf("sweep console sessions: %w", err)
		}
		_, err := w.conn.ExecContext(w.ctx, `INSERT INTO console_sessions (id, sealed, created_at, idle_until, expires_at)
			VALUES (?, ?, ?, ?, ?)`, s.ID, s.Sealed, now, s.IdleUntil.UnixNano(), s.ExpiresAt.UnixNano())
		if isUnique(err) {
			return coffer.Errorf(coffer.ECONFLICT, "console session already exists")
		} else if err != nil {
			return fmt.Errorf("create console session: %w", err)
		}
		return nil
	})
}

// ConsoleSession returns a session by id, ended or not (ENOTFOUND).
func (db *DB) ConsoleSession(ctx context.Context, id []byte) (*coffer.ConsoleSession, error) {
	s := &coffer.ConsoleSession{ID: id}
	var created, idle, expires int64
	err := db.rs.session.QueryRowContext(ctx, id).Scan(&s.Sealed, &created, &idle, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "console session not found")
	} else if err != nil {
		return nil, fmt.Errorf("read console session: %w", err)
	}
	s.CreatedAt, s.IdleUntil, s.ExpiresAt = fromNanos(created), fromNanos(idle), fromNanos(expires)
	return s, nil
}

// ExtendConsoleSession moves a session's IdleUntil to until, if later.
func (db *DB) ExtendConsoleSession(ctx context.Context, id []byte, until time.Time) error {
	return db.do(ctx, nil, func(w *writer) error {
		if _, err := w.conn.ExecContext(w.ctx, `UPDATE console_sessions SET idle_until = max(idle_until, ?) WHERE id = ?`,
			until.UnixNano(), id); err != nil {
			return fmt.Errorf("extend console session: %w", err)
		}
		return nil
	})
}

// DeleteConsoleSession deletes a session; a missing one is no error.
func (db *DB) DeleteConsoleSession(ctx context.Context, id []byte) error {
	return db.do(ctx, nil, func(w *writer) error {
		if _, err := w.conn.ExecContext(w.ctx, `DELETE FROM console_sessions WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete console session: %w", err)
		}
		return nil
	})
}
