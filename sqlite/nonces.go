package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coffer-dev/coffer"
)

// The replay cache.
//
// Every signed request records its nonce once (UseNonce), so it is on the
// hot path of a whole face. One process owns an SQLite database (Open's
// lock), so the authoritative set of uses can live in this process's
// memory: UseNonce decides there, under the lock of one shard, and returns
// without waiting for the writer. A flusher goroutine persists the new uses
// behind it, many per writer op, so that a restart forgets nothing older
// than the last flush; Open loads the live uses back.
//
// The price is a window: a use acknowledged in the last nonceFlushDelay
// before a crash of the process (or the last moments before a crash of the
// machine: the flushes commit with synchronous=NORMAL) is not on disk, and
// that one signed request could be replayed once after the restart, within
// its nonce's validity. Close flushes everything.
//
// Memory is bounded: each use costs one map entry (a 16-byte digest of the
// key and its expiry, about 40 bytes), entries are swept once expired, and
// past Options.MaxNonces live entries UseNonce fails closed with
// EUNAVAILABLE rather than forget a use.

const (
	// nonceShards splits the cache so that concurrent requests rarely
	// share a lock.
	nonceShards = 64
	// nonceFlushDelay is how long the flusher gathers uses before it hands
	// them to the writer: the width of the crash window.
	nonceFlushDelay = 5 * time.Millisecond
	// noncePurgeEvery is how often, by the callers' clock, expired entries
	// are swept from a shard and deleted from the table.
	noncePurgeEvery = 30 * time.Second
	// defaultMaxNonces is Options.MaxNonces' default: about 80 MiB at most,
	// enough for 3,000 signed requests a second whose nonces live the usual
	// ten minutes.
	defaultMaxNonces = 2 << 20
)

type nonceDigest [16]byte

type nonceShard struct {
	mu       sync.Mutex
	m        map[nonceDigest]int64 // digest → expiry (Unix nanoseconds)
	purgedAt int64                 // callers' clock of the last sweep
}

// nonceUse is a use waiting to be persisted.
type nonceUse struct {
	key         string // only for moveLegacyNonces
	digest      nonceDigest
	at, expires int64
}

type nonceCache struct {
	shards   [nonceShards]nonceShard
	maxShard int // live entries a shard may hold

	flushMu sync.Mutex // held by a flush from taking pending to its commit
	mu      sync.Mutex
	pending []nonceUse
	kick    chan struct{} // has a value while pending is not empty
	stop    chan struct{} // closed by Close
	stopped chan struct{} // closed when the flusher returns
}

func digestNonce(key string) nonceDigest { return coffer.NonceDigest(key) }

// add records a use in memory only: one loaded from disk.
func (c *nonceCache) add(d nonceDigest, exp int64) {
	sh := &c.shards[d[0]%nonceShards]
	sh.mu.Lock()
	if exp > sh.m[d] {
		sh.m[d] = exp
	}
	sh.mu.Unlock()
}

// load fills the cache with the uses on disk that have not expired by
// now, first moving those of the table nonces (before migration 0008) into
// nonce_log.
func (c *nonceCache) load(ctx context.Context, conn *sql.Conn, now time.Time, limit int) error {
	if limit <= 0 {
		limit = defaultMaxNonces
	}
	c.maxShard = max(limit/nonceShards, 1)
	for i := range c.shards {
		c.shards[i].m = make(map[nonceDigest]int64)
	}
	c.kick = make(chan struct{}, 1)
	c.stop = make(chan struct{})
	c.stopped = make(chan struct{})
	if err := moveLegacyNonces(ctx, conn, now); err != nil {
		return fmt.Errorf("load nonces: %w", err)
	}
	rows, err := conn.QueryContext(ctx, `SELECT digest, expires FROM nonce_log WHERE expires > ?`, now.UnixNano())
	if err != nil {
		return fmt.Errorf("load nonces: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var digest []byte
		var exp int64
		if err := rows.Scan(&digest, &exp); err != nil {
			return fmt.Errorf("load nonces: %w", err)
		}
		var d nonceDigest
		if copy(d[:], digest) != len(d) {
			return fmt.Errorf("load nonces: a digest of %d bytes", len(digest))
		}
		c.add(d, exp)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load nonces: %w", err)
	}
	return nil
}

// moveLegacyNonces moves the live rows of the table nonces into nonce_log
// and empties it, in one transaction.
func moveLegacyNonces(ctx context.Context, conn *sql.Conn, now time.Time) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT key, expires FROM nonces WHERE expires > ?`, now.UnixNano())
	if err != nil {
		return err
	}
	var uses []nonceUse
	for rows.Next() {
		var u nonceUse
		if err := rows.Scan(&u.key, &u.expires); err != nil {
			rows.Close()
			return err
		}
		uses = append(uses, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, u := range uses {
		d := digestNonce(u.key)
		if _, err := tx.ExecContext(ctx, `INSERT INTO nonce_log (digest, expires) VALUES (?, ?)`, d[:], u.expires); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM nonces`); err != nil {
		return err
	}
	return tx.Commit()
}

// use records a use of key in memory (ECONFLICT if a use of it is live at
// at; EUNAVAILABLE if the shard is full of live uses).
func (c *nonceCache) use(key string, at, exp int64) error {
	d := digestNonce(key)
	sh := &c.shards[d[0]%nonceShards]
	sh.mu.Lock()
	if e, ok := sh.m[d]; ok && e > at {
		sh.mu.Unlock()
		return coffer.Errorf(coffer.ECONFLICT, "nonce already used")
	}
	if at-sh.purgedAt >= int64(noncePurgeEvery) || at < sh.purgedAt || len(sh.m) >= c.maxShard {
		for k, e := range sh.m {
			if e <= at {
				delete(sh.m, k)
			}
		}
		sh.purgedAt = at
	}
	if len(sh.m) >= c.maxShard {
		sh.mu.Unlock()
		return coffer.Errorf(coffer.EUNAVAILABLE, "the replay cache is full; try again later")
	}
	sh.m[d] = exp
	sh.mu.Unlock()

	c.mu.Lock()
	c.pending = append(c.pending, nonceUse{digest: d, at: at, expires: exp})
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return nil
}

// flusher persists pending uses until stop is closed, then flushes what is
// left and returns.
func (db *DB) flusher() {
	c := &db.nonces
	defer close(c.stopped)
	for {
		select {
		case <-c.kick:
			select {
			case <-time.After(nonceFlushDelay):
			case <-c.stop:
			}
			db.flushNonces()
		case <-c.stop:
			db.flushNonces()
			return
		}
	}
}

// flushNonces hands the pending uses to the writer as one lazy op. If the
// write fails they go back to the queue: memory stays authoritative, and the
// next flush tries again.
func (db *DB) flushNonces() {
	c := &db.nonces
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.mu.Lock()
	batch := c.pending
	c.pending = nil
	c.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := db.submit(context.Background(), nonceOp(batch)); err != nil && coffer.ErrorCode(err) != coffer.EUNAVAILABLE {
		c.mu.Lock()
		c.pending = append(batch, c.pending...)
		c.mu.Unlock()
	}
}

// nonceOp is the writer op that persists a batch of uses: lazy, since
// the uses were acknowledged already and the window is documented.
func nonceOp(batch []nonceUse) *op {
	return &op{lazy: true, done: make(chan struct{}), apply: func(w *writer) error {
		return w.persistNonces(batch)
	}}
}

// nonceStmts are the writer's statements of the replay cache, prepared on
// first use, and the callers' clock of the last purge.
type nonceStmts struct {
	put, putMany, purge *sql.Stmt // putMany inserts nonceRows uses
	args                []any
	purgedAt            int64
}

// nonceRows is the number of uses one statement inserts: fewer
// statements, fewer trips through database/sql and the VDBE.
const nonceRows = 32

func (n *nonceStmts) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{n.put, n.putMany, n.purge} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// persistNonces writes uses decided in memory, and every noncePurgeEvery
// deletes the expired ones.
func (w *writer) persistNonces(batch []nonceUse) error {
	n := &w.nonces
	if n.put == nil {
		put, err := w.conn.PrepareContext(w.ctx, `INSERT INTO nonce_log (digest, expires) VALUES (?, ?)`)
		if err != nil {
			return fmt.Errorf("prepare nonce insert: %w", err)
		}
		putMany, err := w.conn.PrepareContext(w.ctx, `INSERT INTO nonce_log (digest, expires) VALUES (?, ?)`+
			strings.Repeat(`, (?, ?)`, nonceRows-1))
		if err != nil {
			put.Close()
			return fmt.Errorf("prepare nonce insert: %w", err)
		}
		purge, err := w.conn.PrepareContext(w.ctx, `DELETE FROM nonce_log WHERE expires <= ?`)
		if err != nil {
			put.Close()
			putMany.Close()
			return fmt.Errorf("prepare nonce purge: %w", err)
		}
		n.put, n.putMany, n.purge = put, putMany, purge
	}
	var now int64
	for _, u := range batch {
		now = max(now, u.at)
	}
	for len(batch) > 0 {
		stmt, k := n.put, 1
		if len(batch) >= nonceRows {
			stmt, k = n.putMany, nonceRows
		}
		n.args = n.args[:0]
		for _, u := range batch[:k] {
			n.args = append(n.args, u.digest[:], u.expires)
		}
		if _, err := stmt.ExecContext(w.ctx, n.args...); err != nil {
			return fmt.Errorf("persist nonces: %w", err)
		}
		batch = batch[k:]
	}
	if now-n.purgedAt >= int64(noncePurgeEvery) || now < n.purgedAt {
		if _, err := n.purge.ExecContext(w.ctx, now); err != nil {
			return fmt.Errorf("purge nonces: %w", err)
		}
		w.afterCommit(func() { n.purgedAt = now })
	}
	return nil
}

// UseNonce records one use of key until expires (ECONFLICT if it was used
// and that use has not expired at time at). It decides in memory and
// returns before the use is on disk; see "The replay cache" above.
func (db *DB) UseNonce(ctx context.Context, key string, at, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("use nonce: %w", err)
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closing {
		return coffer.Errorf(coffer.EUNAVAILABLE, "database is closed")
	}
	return db.nonces.use(key, stamp(at).UnixNano(), stamp(expires).UnixNano())
}
