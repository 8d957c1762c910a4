package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/coffer-dev/coffer"
)

// op is one write waiting for the writer: the change to apply (nil for an op
// that only appends audit events) and the events that record it.
type op struct {
	apply func(w *writer) error
	evs   []*coffer.AuditEvent
	// keepOutcome leaves an event's Outcome as the caller set it (Audit);
	// otherwise the writer sets it from the op's result.
	keepOutcome bool
	// lazy marks an op whose commit need not wait for the disk (a nonce
	// use): a batch of nothing but lazy ops commits with
	// synchronous=NORMAL, which survives a crash of the process but not
	// of the machine. Any other op in the batch makes it FULL.
	lazy bool

	err  error
	done chan struct{} // closed by the writer once err is final
}

// do runs apply on the writer and appends ev (when not nil) with the outcome.
func (db *DB) do(ctx context.Context, ev *coffer.AuditEvent, apply func(w *writer) error) error {
	o := &op{apply: apply, done: make(chan struct{})}
	if ev != nil {
		o.evs = []*coffer.AuditEvent{ev}
	}
	return db.submit(ctx, o)
}

// Audit appends events that record no change. Each event keeps the Outcome
// its caller set ("ok" when empty).
func (db *DB) Audit(ctx context.Context, evs ...*coffer.AuditEvent) error {
	if len(evs) == 0 {
		return nil
	}
	return db.submit(ctx, &op{evs: evs, keepOutcome: true, done: make(chan struct{})})
}

// submit queues o and waits for its result. ctx bounds only the wait for a
// place in the queue: once the writer has the op, it completes.
func (db *DB) submit(ctx context.Context, o *op) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return coffer.Errorf(coffer.EUNAVAILABLE, "database is closed")
	}
	select {
	case db.ops <- o:
		db.mu.RUnlock()
	case <-ctx.Done():
		db.mu.RUnlock()
		return fmt.Errorf("write: %w", ctx.Err())
	}
	<-o.done
	return o.err
}

// writer owns the write connection and the in-memory tail of the audit chain.
type writer struct {
	conn     *sql.Conn
	ctx      context.Context // never done: an accepted op always completes
	headMAC  func([]byte) []byte
	maxBatch int
	// normal is set while the connection runs with synchronous=NORMAL.
	normal bool

	// seq and hash are the newest committed link of the audit chain.
	seq  int64
	hash []byte

	stores  *storeIndex
	touched []string // stores whose secrets the batch changes; see touchStore
	after   []func() // what the batch changes in memory once it commits

	begin, commit, rollback *sql.Stmt
	savepoint, release      *sql.Stmt
	rollbackTo              *sql.Stmt
	putHead                 *sql.Stmt
	insertAudit             [auditRows + 1]*sql.Stmt // of n events, prepared on first use
	events                  []*coffer.AuditEvent     // of the batch, in chain order
	args                    []any                    // reused by insertEvents

	// Statements of the hot write paths.
	storeExists, liveSecret, secretByID *sql.Stmt
	insertSecret, saveSecret            *sql.Stmt
	bumpVersion, insertVersion, bumpGen *sql.Stmt
	nonces                              nonceStmts  // of the replay cache's flushes
	nonceCache                          *nonceCache // the DB's, which Load fills
}

func newWriter(ctx context.Context, conn *sql.Conn, stores *storeIndex, opts Options) (*writer, error) {
	w := &writer{conn: conn, ctx: context.Background(), headMAC: opts.HeadMAC, maxBatch: opts.MaxBatch, stores: stores}
	var err error
	if w.seq, w.hash, err = loadTail(ctx, conn); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&w.begin, `BEGIN IMMEDIATE`},
		{&w.commit, `COMMIT`},
		{&w.rollback, `ROLLBACK`},
		{&w.savepoint, `SAVEPOINT op`},
		{&w.release, `RELEASE op`},
		{&w.rollbackTo, `ROLLBACK TO op`},
		{&w.putHead, `INSERT INTO meta (key, value) VALUES ('` + headKey + `', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`},
		{&w.storeExists, `SELECT count(*) FROM stores WHERE id = ? AND account_id = ?`},
		{&w.bumpGen, `UPDATE stores SET gen = gen + 1 WHERE id = ? RETURNING gen`},
		{&w.liveSecret, `SELECT ` + secretCols + ` FROM secrets WHERE store_id = ? AND name = ? AND status <> 'deleted'`},
		{&w.secretByID, `SELECT ` + secretCols + ` FROM secrets WHERE id = ? AND account_id = ?`},
		{&w.insertSecret, insertSecretSQL},
		{&w.saveSecret, saveSecretSQL},
		{&w.bumpVersion, `UPDATE secrets SET version = ?, updated_at = ? WHERE id = ?`},
		{&w.insertVersion, `INSERT INTO versions (secret_id, number, key_id, ciphertext, created_at, created_by, deleted_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`},
	} {
		s, err := conn.PrepareContext(ctx, p.query)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.stmt = s
	}
	return w, nil
}

// loadTail returns the newest link of the audit chain: the recorded head or
// the last event, whichever is further, so that a sequence number is never
// reused and events cut off the end of the log stay detectable.
func loadTail(ctx context.Context, conn *sql.Conn) (seq int64, hash []byte, err error) {
	err = conn.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, nil, fmt.Errorf("load audit tail: %w", err)
	}
	var v []byte
	err = conn.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, headKey).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return seq, hash, nil
	} else if err != nil {
		return 0, nil, fmt.Errorf("load audit head: %w", err)
	}
	head, err := decodeHead(v)
	if err != nil {
		return 0, nil, err
	}
	if head.Seq > seq {
		seq, hash = head.Seq, head.Hash
	}
	return seq, hash, nil
}

// auditRows is the largest number of events one audit insert adds.
const auditRows = 16

// insertAuditStmt returns the statement that inserts n audit events.
func (w *writer) insertAuditStmt(n int) (*sql.Stmt, error) {
	if s := w.insertAudit[n]; s != nil {
		return s, nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO audit (seq, time, account_id, principal_id, key_id, action, store_id, secret_id,
		name, version, outcome, reason, request_id, remote, face, prev_hash, hash) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	s, err := w.conn.PrepareContext(w.ctx, b.String())
	if err != nil {
		return nil, fmt.Errorf("prepare audit insert: %w", err)
	}
	w.insertAudit[n] = s
	return s, nil
}

func (w *writer) close() error {
	var errs []error
	stmts := []*sql.Stmt{w.begin, w.commit, w.rollback, w.savepoint, w.release, w.rollbackTo, w.putHead,
		w.storeExists, w.liveSecret, w.secretByID, w.insertSecret, w.saveSecret, w.bumpVersion, w.insertVersion,
		w.bumpGen}
	for _, s := range append(stmts, w.insertAudit[:]...) {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	errs = append(errs, w.nonces.close())
	return errors.Join(errs...)
}

// loop runs batches until ops is closed and drained, then closes done.
func (w *writer) loop(ops <-chan *op, done chan<- struct{}) {
	defer close(done)
	batch := make([]*op, 0, w.maxBatch)
	for o := range ops {
		batch = append(batch, o)
	fill:
		for len(batch) < w.maxBatch {
			select {
			case o, ok := <-ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		w.run(batch)
		for _, o := range batch {
			close(o.done)
		}
		clear(batch)
		batch = batch[:0]
	}
}

// run commits a batch in one transaction. Each op's own error stays with it;
// if the transaction itself fails, every op fails and the chain tail goes
// back to what it was.
func (w *writer) run(batch []*op) {
	seq, hash := w.seq, w.hash
	lazy := true
	for _, o := range batch {
		lazy = lazy && o.lazy
	}
	err := w.setSync(lazy)
	if err == nil {
		err = w.apply(batch)
	}
	if err == nil {
		_, err = w.commit.ExecContext(w.ctx)
	}
	if err == nil {
		for _, f := range w.after {
			f()
		}
	}
	clear(w.after)
	w.after = w.after[:0]
	if err == nil {
		return
	}
	w.rollback.ExecContext(w.ctx) // fails when SQLite already rolled back
	w.seq, w.hash = seq, hash
	err = fmt.Errorf("commit write batch: %w", err)
	for _, o := range batch {
		o.err = err
		for _, ev := range o.evs {
			if ev != nil {
				ev.Seq, ev.PrevHash, ev.Hash = 0, nil, nil
			}
		}
	}
}

// setSync switches the connection to synchronous=NORMAL for a batch of lazy
// ops, and back to FULL for any other.
func (w *writer) setSync(normal bool) error {
	if normal == w.normal {
		return nil
	}
	mode := "FULL"
	if normal {
		mode = "NORMAL"
	}
	if _, err := w.conn.ExecContext(w.ctx, "PRAGMA synchronous = "+mode); err != nil {
		return fmt.Errorf("synchronous %s: %w", mode, err)
	}
	w.normal = normal
	return nil
}

// apply runs the batch inside an open transaction: each op, then the
// batch's audit events, chained in op order, then the head. It returns an
// error only when the transaction cannot go on.
func (w *writer) apply(batch []*op) error {
	if _, err := w.begin.ExecContext(w.ctx); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	w.events, w.touched, w.after = w.events[:0], w.touched[:0], w.after[:0]
	for _, o := range batch {
		if o.apply != nil {
			if err := w.applyOp(o); err != nil {
				return err
			}
		}
		outcome := "ok"
		if o.err != nil {
			outcome = coffer.ErrorCode(o.err)
		}
		for _, ev := range o.evs {
			if ev == nil {
				continue
			}
			if !o.keepOutcome || ev.Outcome == "" {
				ev.Outcome = outcome
			}
			ev.Time = stamp(ev.Time)
			prev := w.hash
			if n := len(w.events); n > 0 {
				prev = w.events[n-1].Hash
			}
			ev.Chain(w.seq+int64(len(w.events))+1, prev)
			w.events = append(w.events, ev)
		}
	}
	if err := w.bumpGens(); err != nil {
		return err
	}
	if len(w.events) == 0 {
		return nil
	}
	if err := w.insertEvents(w.events); err != nil {
		return err
	}
	last := w.events[len(w.events)-1]
	if _, err := w.putHead.ExecContext(w.ctx, encodeHead(last.Seq, last.Hash, w.headMAC)); err != nil {
		return fmt.Errorf("record audit head: %w", err)
	}
	w.seq, w.hash = last.Seq, last.Hash
	return nil
}

// insertEvents inserts events, auditRows at a time.
func (w *writer) insertEvents(evs []*coffer.AuditEvent) error {
	for len(evs) > 0 {
		n := min(len(evs), auditRows)
		stmt, err := w.insertAuditStmt(n)
		if err != nil {
			return err
		}
		w.args = w.args[:0]
		for _, ev := range evs[:n] {
			w.args = append(w.args, ev.Seq, ev.Time.UnixNano(), ev.AccountID, ev.PrincipalID, ev.KeyID, ev.Action,
				ev.StoreID, ev.SecretID, ev.Name, ev.Version, ev.Outcome, ev.Reason, ev.RequestID, ev.Remote,
				ev.Face, ev.PrevHash, ev.Hash)
		}
		if _, err := stmt.ExecContext(w.ctx, w.args...); err != nil {
			return fmt.Errorf("append audit events: %w", err)
		}
		evs = evs[n:]
	}
	clear(w.args)
	return nil
}

// applyOp runs one op inside its own savepoint and rolls it back when the op
// fails. The returned error is not the op's: it means the transaction is
// broken.
func (w *writer) applyOp(o *op) error {
	if _, err := w.savepoint.ExecContext(w.ctx); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	touched, after := len(w.touched), len(w.after)
	o.err = w.call(o.apply)
	if o.err != nil {
		w.touched = w.touched[:touched]
		clear(w.after[after:])
		w.after = w.after[:after]
		if _, err := w.rollbackTo.ExecContext(w.ctx); err != nil {
			return fmt.Errorf("roll back op: %w (op failed: %w)", err, o.err)
		}
	}
	if _, err := w.release.ExecContext(w.ctx); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// afterCommit has f run once the op's batch commits, if the op succeeds.
func (w *writer) afterCommit(f func()) { w.after = append(w.after, f) }

// call runs apply and turns a panic (in a caller's Seal, say) into an error,
// so that the writer survives it.
func (w *writer) call(apply func(*writer) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("write op panicked: %v", r)
		}
	}()
	return apply(w)
}

// fillEvent sets the ids of ev that the caller left empty.
func fillEvent(ev *coffer.AuditEvent, accountID, storeID, secretID string) {
	if ev == nil {
		return
	}
	if ev.AccountID == "" {
		ev.AccountID = accountID
	}
	if ev.StoreID == "" {
		ev.StoreID = storeID
	}
	if ev.SecretID == "" {
		ev.SecretID = secretID
	}
}
