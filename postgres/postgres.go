// Package postgres implements coffer.Storage on PostgreSQL (pgx v5), for any
// number of coffer servers sharing one database.
//
// Every rule holds across servers because the database enforces it: version
// numbers are a primary key and are assigned under a row lock on the secret,
// names are unique among live secrets by a partial unique index, compare-and-
// set is checked inside the writing transaction, and Store reads the store's
// Gen from the database on every call (nothing about stores is cached, as
// another server may change them).
//
// The audit log is one hash chain. Every writing transaction first locks the
// single row of audit_head (SELECT ... FOR UPDATE), chains its events after
// the head it finds, and moves the head, with its MAC, before it commits: the
// lock serializes appends in commit order, so the chain never forks however
// many servers write. To keep throughput, each server groups its concurrent
// writes as the SQLite engine does: one writer goroutine takes as many
// waiting ops as it can (up to Options.MaxBatch), applies each inside its own
// savepoint so that a refused op changes nothing and fails alone, appends
// every op's audit event, and commits once. A write is acknowledged only
// after its transaction commits, with synchronous_commit on.
//
// Errors that mean the database cannot be reached (refused or lost
// connections, a server shutting down or starting up, timeouts) are
// coffer.EUNAVAILABLE; the pool replaces broken connections, so the engine
// recovers by itself when the database returns.
//
// Listings that take a limit return at most coffer.MaxPageSize items when the
// limit is 0 or less.
package postgres

import (
	"context"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
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
	// MaxBatch is the largest number of ops committed together (default 256).
	MaxBatch int
	// WriteTimeout bounds one write transaction, the wait for the audit head
	// lock included (default 30s).
	WriteTimeout time.Duration
}

// Pool defaults. Each applies only when the URL does not set it; see Open.
const (
	defaultMaxConns       = 16
	defaultMaxConnIdle    = 5 * time.Minute
	defaultHealthCheck    = 15 * time.Second
	defaultConnectTimeout = 5 * time.Second
)

// DB is a coffer.Storage on one PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool
	w    *writer
	opts Options

	mu     sync.RWMutex // held shared while sending on ops, exclusively to close it
	closed bool
	ops    chan *op
	done   chan struct{} // closed when the writer goroutine returns

	// noncePurgedAt is when UseNonce last purged expired nonces (Unix
	// nanoseconds, by the callers' clock).
	noncePurgedAt atomic.Int64
}

var _ coffer.Storage = (*DB)(nil)

// headKey is the meta key that SQLite uses for the audit head. PostgreSQL
// keeps the head in its own table, but SetMeta refuses the key all the same,
// so that both engines hold the same settings.
const headKey = "audit_head"

// migrateLock is the key of the advisory lock held while migrations run, so
// that servers starting together apply each migration once.
const migrateLock int64 = 0x636f666665720001 // "coffer" 0 1

// Open connects to the database at url (a postgres:// URL or a keyword/value
// string, as libpq takes), applies the embedded migrations that it lacks
// under an advisory lock, and starts the writer.
//
// The connection pool follows pgxpool's URL parameters. Unless the URL sets
// them, Open uses pool_max_conns=16, pool_max_conn_idle_time=5m,
// pool_health_check_period=15s and connect_timeout=5 (seconds), and sets
// application_name=coffer and synchronous_commit=on for its sessions, so
// that an acknowledged write is on disk whatever the database's default.
// Prepared statements are cached per connection (statement_cache_capacity,
// default 512); behind a pooler in transaction mode, set
// default_query_exec_mode=exec.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 30 * time.Second
	}
	cfg, err := poolConfig(url)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open db: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, dbErr("open db", err)
	}
	db := &DB{
		pool: pool,
		opts: opts,
		ops:  make(chan *op, opts.MaxBatch),
		done: make(chan struct{}),
	}
	db.w = &writer{pool: pool, headMAC: opts.HeadMAC, maxBatch: opts.MaxBatch, timeout: opts.WriteTimeout}
	go db.w.loop(db.ops, db.done)
	return db, nil
}

// poolConfig parses url and fills in the defaults that it does not set.
func poolConfig(url string) (*pgxpool.Config, error) {
	if strings.TrimSpace(url) == "" {
		return nil, errors.New("open db: empty database URL")
	}
	// Which pool settings the URL gives: pgxpool reports only the result.
	given, err := pgconn.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open db: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open db: %w", err)
	}
	set := func(name string) bool { _, ok := given.RuntimeParams[name]; return ok }
	if !set("pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	if !set("pool_max_conn_idle_time") {
		cfg.MaxConnIdleTime = defaultMaxConnIdle
	}
	if !set("pool_health_check_period") {
		cfg.HealthCheckPeriod = defaultHealthCheck
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = defaultConnectTimeout
	}
	for k, v := range map[string]string{"application_name": "coffer", "synchronous_commit": "on"} {
		if _, ok := cc.RuntimeParams[k]; !ok {
			cc.RuntimeParams[k] = v
		}
	}
	return cfg, nil
}

// migrate applies the embedded migrations that are not yet recorded in the
// migrations table, in name order, each in its own transaction, holding an
// advisory lock on a connection of its own so that servers starting together
// take turns. Closing that connection releases the lock.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	conn := pc.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return fmt.Errorf("lock for migrations: %w", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS migrations (
		name       TEXT COLLATE "C" PRIMARY KEY,
		applied_at BIGINT NOT NULL
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

func migrateFile(ctx context.Context, conn *pgx.Conn, name string) error {
	base := strings.TrimPrefix(name, "migrations/")
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM migrations WHERE name = $1`, base).Scan(&n); err != nil {
		return err
	} else if n > 0 {
		return nil
	}
	buf, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, string(buf)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO migrations (name, applied_at) VALUES ($1, $2)`, base, time.Now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Lock runs f while holding a database-wide advisory lock named name, on a
// connection of its own: servers sharing the database run f one at a time.
// The server takes one around its first-start setup (the sealed pepper, the
// operator account and root key), so that servers starting together on an
// empty database set it up once.
func (db *DB) Lock(ctx context.Context, name string, f func() error) error {
	pc, err := db.pool.Acquire(ctx)
	if err != nil {
		return dbErr("lock "+name, err)
	}
	conn := pc.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, "coffer/"+name); err != nil {
		return dbErr("lock "+name, err)
	}
	return f()
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return dbErr("ping", err)
	}
	return nil
}

// Close stops accepting writes, commits the ones already queued, stops the
// writer and closes the pool. Calling it again does nothing.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	close(db.ops)
	db.mu.Unlock()
	<-db.done
	db.pool.Close()
	return nil
}

// Meta returns a server-wide setting (ENOTFOUND if unset).
func (db *DB) Meta(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := db.queryRow(ctx, `SELECT value FROM meta WHERE key = $1`, []any{key}, &v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "setting %q is not set", key)
	} else if err != nil {
		return nil, dbErr("read meta", err)
	}
	return v, nil
}

// SetMeta stores a server-wide setting once (ECONFLICT if it is set). The
// key audit_head is reserved (EINVALID).
func (db *DB) SetMeta(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return db.do(ctx, nil, func(w *writer) error {
		if key == headKey {
			return coffer.Errorf(coffer.EINVALID, "setting %q is reserved", key)
		}
		_, err := w.exec(`INSERT INTO meta (key, value) VALUES ($1, $2)`, key, value)
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
	h := &coffer.AuditHead{}
	if err := db.queryRow(ctx, `SELECT seq, hash, mac FROM audit_head WHERE id = 1`, nil, &h.Seq, &h.Hash, &h.MAC); err != nil {
		return nil, dbErr("read audit head", err)
	}
	if h.Seq == 0 {
		return nil, nil
	}
	if len(h.MAC) == 0 {
		h.MAC = nil
	}
	return h, nil
}

// queryRow runs a query that returns at most one row and scans it into
// dest (pgx.ErrNoRows when there is none). Reads are idempotent, so a read
// that fails because its pooled connection was broken is tried once more,
// on a new connection: a broken connection usually means that the database
// restarted, which broke every connection of the pool, so the pool is reset
// first (see resetPool).
func (db *DB) queryRow(ctx context.Context, sql string, args []any, dest ...any) error {
	if !validArgs(args) {
		return pgx.ErrNoRows
	}
	for try := 0; ; try++ {
		err := db.pool.QueryRow(ctx, sql, args...).Scan(dest...)
		if err == nil || try > 0 || !retryable(ctx, err) {
			return err
		}
		resetPool(db.pool, err)
	}
}

// query runs a query and calls each for every row, trying once more like
// queryRow when the connection fails before the first row. With an argument
// that no TEXT column can hold it finds no rows, as queryRow.
func (db *DB) query(ctx context.Context, sql string, args []any, each func(pgx.Rows) error) error {
	if !validArgs(args) {
		return nil
	}
	for try := 0; ; try++ {
		rows, err := db.pool.Query(ctx, sql, args...)
		n := 0
		if err == nil {
			for rows.Next() {
				n++
				if err = each(rows); err != nil {
					break
				}
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		if err == nil || try > 0 || n > 0 || !retryable(ctx, err) {
			return err
		}
		resetPool(db.pool, err)
	}
}

// validArgs reports whether every string argument can be compared with a
// TEXT column, which holds only valid UTF-8 without NUL. A read whose
// argument cannot be can match nothing: it finds no rows, without asking
// the database (which would refuse the argument).
func validArgs(args []any) bool {
	for _, a := range args {
		if s, ok := a.(string); ok && !validText(s) {
			return false
		}
	}
	return true
}

func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// resetPool closes every connection of the pool (those in use when they
// come back) after err broke one, unless err says the database could not
// be reached at all, which leaves no connection to close.
func resetPool(pool *pgxpool.Pool, err error) {
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		pool.Reset()
	}
}

// retryable reports whether a read that failed with err may be tried again:
// its connection failed and the caller is still waiting.
func retryable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && isConnErr(err)
}

// Errors.

// errUnavailable is the public face of every error that means the database
// cannot be reached.
var errUnavailable = &coffer.Error{Code: coffer.EUNAVAILABLE, Message: "database is unavailable", RetryAfter: time.Second}

// dbErr wraps an error of a database operation: as EUNAVAILABLE when the
// database cannot be reached, else as is (coffer errors keep their code,
// anything else is internal).
func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var ce *coffer.Error
	if errors.As(err, &ce) {
		return err
	}
	if isConnErr(err) {
		return fmt.Errorf("%s: %w (%w)", what, errUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// isConnErr reports whether err means that the database cannot be reached
// or did not answer: a failed or lost connection, a server that is shutting
// down, starting up or out of connections, or a timeout. The caller's own
// cancellation is not one.
func isConnErr(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"): // connection exception
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // admin or crash shutdown, cannot connect now
			return true
		case pe.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// A connection that fails after a query was sent reports what the
	// socket said.
	var nerr net.Error
	switch {
	case errors.As(err, &nerr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EPIPE):
		return true
	}
	// pgconn's error for a connection that is already closed has no type
	// to test.
	return strings.Contains(err.Error(), "conn closed")
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// constraint returns the name of the constraint that err violated.
func constraint(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ConstraintName
	}
	return ""
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

func fromNullNanos(n *int64) *time.Time {
	if n == nil {
		return nil
	}
	t := fromNanos(*n)
	return &t
}

func nullNanos(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	n := t.UnixNano()
	return &n
}

// pageLimit applies the default page size.
func pageLimit(limit int) int {
	if limit <= 0 {
		return coffer.MaxPageSize
	}
	return limit
}

// text makes s storable in a TEXT column, which holds only valid UTF-8
// without NUL: invalid bytes and NULs become their \x escapes. Audit events
// pass through it before they are hashed, so that the stored event is the
// hashed one; an event field from a request header can hold any byte.
func text(s string) string {
	if validText(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == 0 || r == utf8.RuneError && n == 1 {
			b.WriteString(`\x` + hex.EncodeToString([]byte{s[i]}))
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
