package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coffer-dev/coffer/postgres"
	"github.com/coffer-dev/coffer/service"
	"github.com/coffer-dev/coffer/sqlite"
)

// openStorage is the one place that chooses the database: PostgreSQL at
// Config.Database, else SQLite at DATA/coffer.db. It reports whether the
// database holds a server's data already. PostgreSQL is opened at once (only
// it can tell); SQLite's file is made only by create, which Open calls once
// the master key is known, so that a start failing before leaves no
// database behind. create does nothing for PostgreSQL.
func (s *Server) openStorage(ctx context.Context, headMAC func([]byte) []byte) (exists bool, create func(context.Context) error, err error) {
	if s.Config.Database != "" {
		db, err := postgres.Open(ctx, s.Config.Database, postgres.Options{HeadMAC: headMAC})
		if err != nil {
			return false, nil, fmt.Errorf("open PostgreSQL database: %w", err)
		}
		s.db = db
		if exists, err = service.Initialized(ctx, db); err != nil {
			return false, nil, fmt.Errorf("open PostgreSQL database: %w", err)
		}
		return exists, func(context.Context) error { return nil }, nil
	}
	path := filepath.Join(s.Config.DataDir, "coffer.db")
	_, statErr := os.Stat(path)
	create = func(ctx context.Context) error {
		db, err := sqlite.Open(ctx, path, sqlite.Options{HeadMAC: headMAC})
		if err != nil {
			return fmt.Errorf("open database: %w", err)
		}
		s.db = db
		return nil
	}
	return statErr == nil, create, nil
}

// firstStartLock runs f under the database's lock for first-start setup
// when servers may share it (PostgreSQL), else at once.
func (s *Server) firstStartLock(ctx context.Context, f func() error) error {
	if l, ok := s.db.(interface {
		Lock(ctx context.Context, name string, f func() error) error
	}); ok {
		return l.Lock(ctx, "first-start", f)
	}
	return f()
}

// databaseName says which database the server uses, without the URL's
// credentials.
func (s *Server) databaseName() string {
	if s.Config.Database == "" {
		return "sqlite"
	}
	return "postgres"
}
