// Package engine opens the database that a command names: the SQLite
// database of a data directory (DIR/coffer.db) or a PostgreSQL database
// given by a postgres:// URL or libpq's key=value string. The server, the
// migrate, backup and restore commands and doctor choose between the two
// engines here and nowhere else.
package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/postgres"
	"github.com/coffer-dev/coffer/sqlite"
)

// Kind names an engine.
type Kind string

// The engines.
const (
	SQLite     Kind = "sqlite"
	PostgreSQL Kind = "postgres"
)

// ToolApp is the PostgreSQL application_name of the sessions of migrate,
// backup and restore, which postgres.DB.ServerSessions does not count.
const ToolApp = "coffer-migrate"

// ErrInUse is the cause of Open's error when a server holds an SQLite
// database.
var ErrInUse = sqlite.ErrInUse

// Target is a database named by a data directory or a connection string.
type Target struct {
	// Dir is the data directory of an SQLite database, as given.
	Dir string
	// URL is a PostgreSQL connection string; it may hold a password.
	URL string
}

// Parse reads target as a PostgreSQL connection string when it is one
// (postgres://, postgresql:// or key=value), else as a data directory. A
// directory whose name looks like key=value can be given as ./name. The
// error hides a password.
func Parse(target string) (*Target, error) {
	if postgres.IsConnString(target) {
		if _, err := postgres.ParseConnString(target); err != nil {
			return nil, err
		}
		return &Target{URL: target}, nil
	}
	if strings.Contains(target, "://") {
		return nil, fmt.Errorf("%q is neither a data directory nor a postgres:// URL", postgres.Redact(target))
	}
	return &Target{Dir: target}, nil
}

// Kind returns the target's engine.
func (t *Target) Kind() Kind {
	if t.URL != "" {
		return PostgreSQL
	}
	return SQLite
}

// Path returns the SQLite database file of a data directory.
func (t *Target) Path() string { return filepath.Join(t.Dir, "coffer.db") }

// Name names the database without a password: the data directory, or the
// redacted connection string.
func (t *Target) Name() string {
	if t.URL != "" {
		return postgres.Redact(t.URL)
	}
	return t.Dir
}

// String names the database and its engine, without a password.
func (t *Target) String() string {
	if t.URL != "" {
		return t.Name() + " (PostgreSQL)"
	}
	return t.Dir + " (SQLite)"
}

// Exists reports whether an SQLite target's database file exists; a
// PostgreSQL target is always there (service.Initialized tells whether a
// server has set it up).
func (t *Target) Exists() bool {
	if t.URL != "" {
		return true
	}
	_, err := os.Stat(t.Path())
	return err == nil
}

// Redact returns err's message with the target's password hidden wherever
// it appears in it.
func (t *Target) Redact(err error) string { return Redact(err, t) }

// Redact returns err's message with the passwords of the targets hidden
// wherever they appear in it.
func Redact(err error, ts ...*Target) string {
	urls := make([]string, len(ts))
	for i, t := range ts {
		urls[i] = t.URL
	}
	return postgres.RedactError(err, urls...)
}

// Same reports whether t and u are one database: the same directory, or
// the same database on the same host and port.
func (t *Target) Same(u *Target) bool {
	switch {
	case t.Kind() == SQLite && u.Kind() == SQLite:
		if t.Dir == u.Dir {
			return true
		}
		ti, terr := os.Stat(t.Dir)
		ui, uerr := os.Stat(u.Dir)
		return terr == nil && uerr == nil && os.SameFile(ti, ui)
	case t.Kind() == PostgreSQL && u.Kind() == PostgreSQL:
		tp, terr := postgres.ParseConnString(t.URL)
		up, uerr := postgres.ParseConnString(u.URL)
		return terr == nil && uerr == nil && *tp == *up
	}
	return false
}

// Storage is an open database: the service's storage, which can also dump
// and load itself whole.
type Storage interface {
	coffer.Storage
	coffer.Dumper
}

// Options tunes Open. The zero value opens an existing or new database
// with the engines' defaults.
type Options struct {
	// HeadMAC authenticates the audit head (sqlite.Options.HeadMAC,
	// postgres.Options.HeadMAC).
	HeadMAC func(msg []byte) []byte
	// ApplicationName, when set, replaces the application_name of the
	// PostgreSQL sessions ("coffer", a server's, by default).
	ApplicationName string
}

// DB is an open database.
type DB struct {
	Storage
	Target *Target
	// Existed reports whether an SQLite database file was there before
	// Open; it is always true for PostgreSQL (see Target.Exists).
	Existed bool
}

// Open opens (and migrates) the database target names: Parse, then
// OpenTarget.
func Open(ctx context.Context, target string, opts Options) (*DB, error) {
	t, err := Parse(target)
	if err != nil {
		return nil, err
	}
	return OpenTarget(ctx, t, opts)
}

// OpenTarget opens the database, creating an SQLite one and applying
// migrations as needed. Its errors are the engine's, which may quote a
// PostgreSQL password (Target.Redact hides it); errors.Is(err, ErrInUse)
// when a server holds an SQLite database. The data directory must exist.
func OpenTarget(ctx context.Context, t *Target, opts Options) (*DB, error) {
	if t.URL != "" {
		url := t.URL
		if opts.ApplicationName != "" {
			url = postgres.WithApplicationName(url, opts.ApplicationName)
		}
		db, err := postgres.Open(ctx, url, postgres.Options{HeadMAC: opts.HeadMAC})
		if err != nil {
			return nil, err
		}
		return &DB{Storage: db, Target: t, Existed: true}, nil
	}
	existed := t.Exists()
	db, err := sqlite.Open(ctx, t.Path(), sqlite.Options{HeadMAC: opts.HeadMAC})
	if err != nil {
		return nil, err
	}
	return &DB{Storage: db, Target: t, Existed: existed}, nil
}

// Discard closes the database and, when Open created its SQLite file,
// removes it with its companions: a failed copy or restore leaves no
// half-made directory for a retry, or a server, to find.
func (db *DB) Discard() {
	db.Close()
	if db.Existed || db.Target.URL != "" {
		return
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-lock"} {
		os.Remove(db.Target.Path() + suffix)
	}
}

// ServerSessions counts the sessions of coffer servers on a PostgreSQL
// database (postgres.DB.ServerSessions); an SQLite database, which its
// server locks, has none that Open would not have refused.
func (db *DB) ServerSessions(ctx context.Context) (int, error) {
	if p, ok := db.Storage.(*postgres.DB); ok {
		return p.ServerSessions(ctx)
	}
	return 0, nil
}

// Lock runs f under the database's lock named name when servers may share
// the database (postgres.DB.Lock), else at once: an SQLite database has
// one server, which holds its lock while open.
func (db *DB) Lock(ctx context.Context, name string, f func() error) error {
	if p, ok := db.Storage.(*postgres.DB); ok {
		return p.Lock(ctx, name, f)
	}
	return f()
}

// Snapshot reads a database whole while a server keeps writing to it.
type Snapshot struct {
	t  *Target
	db *DB // PostgreSQL
}

// OpenSnapshot prepares to dump the database: an SQLite database is read
// through a read-only connection beside the server's lock
// (sqlite.DumpFile), a PostgreSQL one is opened now, over sessions named
// app (see Options.ApplicationName). Its errors are OpenTarget's.
func OpenSnapshot(ctx context.Context, t *Target, app string) (*Snapshot, error) {
	if t.URL == "" {
		return &Snapshot{t: t}, nil
	}
	db, err := OpenTarget(ctx, t, Options{ApplicationName: app})
	if err != nil {
		return nil, err
	}
	return &Snapshot{t: t, db: db}, nil
}

// Dump streams the database into emit from one snapshot (for PostgreSQL
// one REPEATABLE READ transaction).
func (s *Snapshot) Dump(ctx context.Context, emit func(*coffer.Record) error) error {
	if s.db == nil {
		return sqlite.DumpFile(ctx, s.t.Path(), emit)
	}
	return s.db.Dump(ctx, emit)
}

// Close closes a PostgreSQL snapshot's connections.
func (s *Snapshot) Close() {
	if s.db != nil {
		s.db.Close()
	}
}
