package server

import (
	"context"
	"fmt"

	"github.com/coffer-dev/coffer/engine"
	"github.com/coffer-dev/coffer/service"
)

// openStorage opens the database the configuration names, through
// engine.OpenTarget (PostgreSQL at Config.Database, else SQLite at
// DATA/coffer.db), and reports whether it holds a server's data already.
// PostgreSQL is opened at once (only it can tell); SQLite's file is made
// only by create, which Open calls once the master key is known, so that a
// start failing before leaves no database behind. create does nothing for
// PostgreSQL.
func (s *Server) openStorage(ctx context.Context, headMAC func([]byte) []byte) (exists bool, create func(context.Context) error, err error) {
	t := &engine.Target{Dir: s.Config.DataDir, URL: s.Config.Database}
	what := "database"
	if t.Kind() == engine.PostgreSQL {
		what = "PostgreSQL database"
	}
	open := func(ctx context.Context) error {
		db, err := engine.OpenTarget(ctx, t, engine.Options{HeadMAC: headMAC})
		if err != nil {
			return fmt.Errorf("open %s: %w", what, err)
		}
		s.db = db
		return nil
	}
	if t.Kind() == engine.SQLite {
		return t.Exists(), open, nil
	}
	if err := open(ctx); err != nil {
		return false, nil, err
	}
	if exists, err = service.Initialized(ctx, s.db); err != nil {
		return false, nil, fmt.Errorf("open %s: %w", what, err)
	}
	return exists, func(context.Context) error { return nil }, nil
}

// databaseName says which database the server uses, without the URL's
// credentials.
func (s *Server) databaseName() string {
	return string((&engine.Target{Dir: s.Config.DataDir, URL: s.Config.Database}).Kind())
}
