package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
)

// CreateConsoleSession adds a session (ECONFLICT if its id exists) and
// deletes the sessions that have ended by its CreatedAt.
func (db *DB) CreateConsoleSession(ctx context.Context, s *coffer.ConsoleSession) error {
	s.CreatedAt = stamp(s.CreatedAt)
	now := s.CreatedAt.UnixNano()
	return db.do(ctx, nil, func(w *writer) error {
		if _, err := w.exec(`DELETE FROM console_sessions WHERE idle_until <= $1 OR expires_at <= $1`, now); err != nil {
			return fmt.Errorf("sweep console sessions: %w", err)
		}
		_, err := w.exec(`INSERT INTO console_sessions (id, sealed, created_at, idle_until, expires_at)
			VALUES ($1, $2, $3, $4, $5)`, s.ID, s.Sealed, now, s.IdleUntil.UnixNano(), s.ExpiresAt.UnixNano())
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
	var s *coffer.ConsoleSession
	err := db.query(ctx, `SELECT sealed, created_at, idle_until, expires_at FROM console_sessions WHERE id = $1`,
		[]any{id}, func(rows pgx.Rows) error {
			var created, idle, expires int64
			s = &coffer.ConsoleSession{ID: id}
			if err := rows.Scan(&s.Sealed, &created, &idle, &expires); err != nil {
				return err
			}
			s.CreatedAt, s.IdleUntil, s.ExpiresAt = fromNanos(created), fromNanos(idle), fromNanos(expires)
			return nil
		})
	if err != nil {
		return nil, dbErr("read console session", err)
	} else if s == nil {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "console session not found")
	}
	return s, nil
}

// ExtendConsoleSession moves a session's IdleUntil to until, if later.
func (db *DB) ExtendConsoleSession(ctx context.Context, id []byte, until time.Time) error {
	return db.do(ctx, nil, func(w *writer) error {
		if _, err := w.exec(`UPDATE console_sessions SET idle_until = greatest(idle_until, $1) WHERE id = $2`,
			until.UnixNano(), id); err != nil {
			return fmt.Errorf("extend console session: %w", err)
		}
		return nil
	})
}

// DeleteConsoleSession deletes a session; a missing one is no error.
func (db *DB) DeleteConsoleSession(ctx context.Context, id []byte) error {
	return db.do(ctx, nil, func(w *writer) error {
		if _, err := w.exec(`DELETE FROM console_sessions WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete console session: %w", err)
		}
		return nil
	})
}
