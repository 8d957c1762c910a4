// Package sqlite implements coffer.Storage on an embedded SQLite database
// (modernc.org/sqlite, pure Go, no cgo).
//
// One writer goroutine owns the only write connection. Every write method
// becomes an op on a queue; the writer takes as many waiting ops as it can
// (up to Options.MaxBatch), applies each inside its own savepoint so that a
// refused op changes nothing and fails alone, appends every op's audit event
// to the hash chain in commit order, and commits once: one fsync makes the
// whole batch durable (group commit). Reads use a separate pool of
// read-only connections, which in WAL mode never wait for the writer.
//
// The database runs in WAL mode with synchronous=FULL: a write that has been
// acknowledged survives a crash of the process and a loss of power.
//
// One process owns a database at a time (Open takes a lock on path-lock):
// the writer keeps the tail of the audit chain in memory, and Store answers
// from an in-memory copy of the stores table that the writer updates after
// each commit.
//
// Listings that take a limit return at most coffer.MaxPageSize items when the
// limit is 0 or less.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coffer-dev/coffer"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tunes a database. The zero value is usable.
type Options struct {
	// HeadMAC, when set, authenticates the audit head recorded with every
	// batch: it is called with the 8-byte big-endian sequence number of the
	// newest event followed by its hash, and its result is stored as the
	// head's MAC.
	HeadMAC func(msg []byte) []byte
	// ReadConns is the number of read-only connections (default 4).
	ReadConns int
	// MaxBatch is the largest number of ops committed together (default 256).
	MaxBatch int
	// MaxNonces caps the live entries of the in-memory replay cache
	// (default 2Mi); past it UseNonce fails with EUNAVAILABLE.
	MaxNonces int
}

// DB is a coffer.Storage on one SQLite database file.
type DB struct {
	lock *os.File // held while open; see lockFile

	read   *sql.DB // ReadConns read-only connections
	rs     readStmts
	stores *storeIndex // what Store answers from

	write *sql.DB   // at most one connection: conn
	conn  *sql.Conn // owned by the writer goroutine once Open returns
	w     *writer

	mu      sync.RWMutex // held shared while sending on ops or using a nonce, exclusively to close
	closing bool         // set first by Close: UseNonce refuses, the last nonces flush
	closed  bool
	ops     chan *op
	done    chan struct{} // closed when the writer goroutine returns

	nonces nonceCache // the replay cache; see nonces.go

	closeOnce sync.Once
	closeErr  error
}

var _ coffer.Storage = (*DB)(nil)

// ErrInUse is the cause of Open's error when another process, or another
// DB of this one, has the database open.
var ErrInUse = errors.New("database is locked by its owner")

// headKey is the meta row that records the audit head. SetMeta refuses it.
const headKey = "audit_head"

// readStmts are the prepared statements of the read paths that run per
// request.
type readStmts struct {
	readVersion *sql.Stmt
	secret      *sql.Stmt
	apiKey      *sql.Stmt
	meta        *sql.Stmt
	session     *sql.Stmt // of a console request
}

// Open opens the database at path, creating it (mode 0600) and applying
// migrations as needed, and starts its writer. A database belongs to one
// DB at a time: Open fails while another process, or another DB of this
// one, has it open.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("open db: invalid path %q: want a file path without '?'", path)
	}
	lock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	// SQLite gives the -wal and -shm files the mode of the database file, so
	// creating it 0600 keeps all three private.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("open db: %w", err)
	}

	// Commit with fdatasync(2), as SQLite's own Linux builds do: just as
	// durable, without the file timestamp update that fsync also waits for.
	// It is a process-wide setting of the driver, which only this package
	// uses. Where fdatasync is unavailable, fsync stays.
	sqlite.Fdatasync(true)
	db := &DB{
		lock: lock,
		ops:  make(chan *op, opts.MaxBatch),
		done: make(chan struct{}),
	}
	if err := db.open(ctx, path, opts); err != nil {
		db.closeAll()
		return nil, err
	}
	go db.w.loop(db.ops, db.done)
	go db.flusher()
	return db, nil
}

func (db *DB) open(ctx context.Context, path string, opts Options) error {
	var err error
	// busy_timeout only matters when another process holds the file.
	db.write, err = sql.Open("sqlite", path+"?_txlock=immediate&_pragma=busy_timeout(10000)"+
		"&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		return fmt.Errorf("open db: %w", err)
	}
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	db.write.SetConnMaxLifetime(0)
	if db.conn, err = db.write.Conn(ctx); err != nil {
		return fmt.Errorf("open db: %w", err)
	}
	var mode string
	if err := db.conn.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fmt.Errorf("open db: %w", err)
	} else if mode != "wal" {
		return fmt.Errorf("open db: journal mode is %q, want wal", mode)
	}
	if err := migrate(ctx, db.conn); err != nil {
		return err
	}

	db.read, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		return fmt.Errorf("open db: %w", err)
	}
	db.read.SetMaxOpenConns(opts.ReadConns)
	db.read.SetMaxIdleConns(opts.ReadConns)
	db.read.SetConnMaxLifetime(0)
	if err := db.rs.prepare(ctx, db.read); err != nil {
		return fmt.Errorf("open db: %w", err)
	}

	if db.stores, err = loadStores(ctx, db.conn); err != nil {
		return fmt.Errorf("open db: %w", err)
	}
	if err := db.nonces.load(ctx, db.conn, time.Now(), opts.MaxNonces); err != nil {
		return fmt.Errorf("open db: %w", err)
	}
	db.w, err = newWriter(ctx, db.conn, db.stores, opts)
	if err != nil {
		return fmt.Errorf("open db: %w", err)
	}
	db.w.nonceCache = &db.nonces
	return nil
}

func (rs *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&rs.readVersion, readVersionSQL},
		{&rs.secret, secretByRefSQL},
		{&rs.apiKey, apiKeyByIDSQL},
		{&rs.meta, `SELECT value FROM meta WHERE key = ?`},
		{&rs.session, `SELECT sealed, created_at, idle_until, expires_at FROM console_sessions WHERE id = ?`},
	} {
		s, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.stmt = s
	}
	return nil
}

// migrate applies the embedded migrations that are not yet recorded in the
// migrations table, in name order, each in its own transaction.
func migrate(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (
		name       TEXT PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := migrateFile(ctx, conn, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

func migrateFile(ctx context.Context, conn *sql.Conn, name string) error {
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	base := strings.TrimPrefix(name, "migrations/")
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM migrations WHERE name = ?`, base).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		return nil
	}
	buf, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(buf)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name, applied_at) VALUES (?, ?)`, base, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Close stops accepting writes, commits the ones already queued, stops the
// writer and closes the database. Calling it again does nothing.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		// No nonce is used from now on; those used so far reach the
		// writer before it stops.
		db.mu.Lock()
		db.closing = true
		db.mu.Unlock()
		close(db.nonces.stop)
		<-db.nonces.stopped

		db.mu.Lock()
		db.closed = true
		close(db.ops)
		db.mu.Unlock()
		<-db.done
		db.closeErr = db.closeAll()
	})
	return db.closeErr
}

// closeAll closes whatever Open managed to open.
func (db *DB) closeAll() error {
	var errs []error
	if db.w != nil {
		errs = append(errs, db.w.close())
	}
	for _, s := range []*sql.Stmt{db.rs.readVersion, db.rs.secret, db.rs.apiKey, db.rs.meta, db.rs.session} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	if db.conn != nil {
		errs = append(errs, db.conn.Close())
	}
	if db.write != nil {
		errs = append(errs, db.write.Close())
	}
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	if db.lock != nil {
		errs = append(errs, db.lock.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close db: %w", err)
	}
	return nil
}

// Meta returns a server-wide setting (ENOTFOUND if unset).
func (db *DB) Meta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := db.rs.meta.QueryRowContext(ctx, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "setting %q is not set", key)
	} else if err != nil {
		return nil, fmt.Errorf("read meta: %w", err)
	}
	return v, nil
}

// SetMeta stores a server-wide setting once (ECONFLICT if it is set). The
// key audit_head is reserved for the audit head (EINVALID).
func (db *DB) SetMeta(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return db.do(ctx, nil, func(w *writer) error {
		if key == headKey {
			return coffer.Errorf(coffer.EINVALID, "setting %q is reserved", key)
		}
		_, err := w.conn.ExecContext(w.ctx, `INSERT INTO meta (key, value) VALUES (?, ?)`, key, value)
		if isUnique(err) {
			return coffer.Errorf(coffer.ECONFLICT, "setting %q is already set", key)
		} else if err != nil {
			return fmt.Errorf("set meta: %w", err)
		}
		return nil
	})
}

// AuditHead returns the newest link of the audit chain with its MAC (nil if
// the log is empty).
func (db *DB) AuditHead(ctx context.Context) (*coffer.AuditHead, error) {
	var v []byte
	err := db.rs.meta.QueryRowContext(ctx, headKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read audit head: %w", err)
	}
	return decodeHead(v)
}

// The audit head is stored as seq (8 bytes, big endian) || hash || MAC.
const headHashLen = 32

func encodeHead(seq int64, hash []byte, mac func([]byte) []byte) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(hash)+64), uint64(seq))
	b = append(b, hash...)
	if mac != nil {
		b = append(b, mac(b)...)
	}
	return b
}

func decodeHead(v []byte) (*coffer.AuditHead, error) {
	if len(v) < 8+headHashLen {
		return nil, fmt.Errorf("read audit head: %d bytes, want at least %d", len(v), 8+headHashLen)
	}
	h := &coffer.AuditHead{
		Seq:  int64(binary.BigEndian.Uint64(v)),
		Hash: append([]byte(nil), v[8:8+headHashLen]...),
	}
	if mac := v[8+headHashLen:]; len(mac) > 0 {
		h.MAC = append([]byte(nil), mac...)
	}
	return h, nil
}

// Helpers shared by the files of this package.

// stamp returns t, or now when t is zero, as the UTC time that a round trip
// through the database gives back (nanoseconds, no monotonic reading).
func stamp(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return time.Unix(0, t.UnixNano()).UTC()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNullNanos(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromNanos(n.Int64)
	return &t
}

func nullNanos(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixNano()
}

// pageLimit applies the default page size.
func pageLimit(limit int) int {
	if limit <= 0 {
		return coffer.MaxPageSize
	}
	return limit
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY constraint
// violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}
