package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// op is one write waiting for the writer: the change to apply (nil for an op
// that only appends audit events) and the events that record it.
type op struct {
	apply func(w *writer) error
	evs   []*coffer.AuditEvent
	// keepOutcome leaves an event's Outcome as the caller set it (Audit);
	// otherwise the writer sets it from the op's result.
	keepOutcome bool

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
// place in the queue: once the writer has the op, it completes (within
// Options.WriteTimeout).
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

// writer applies batches of ops, each batch in one transaction on a
// connection of the pool.
type writer struct {
	pool     *pgxpool.Pool
	headMAC  func([]byte) []byte
	maxBatch int
	timeout  time.Duration

	// Of the batch being applied.
	conn    *pgx.Conn
	ctx     context.Context
	touched []string             // stores whose secrets the batch changes; see touchStore
	events  []*coffer.AuditEvent // in chain order
	saved   []coffer.AuditEvent  // the batch's events as given; see run

	// Savepoint statements wait in pending and go out in the same round
	// trip as the next statement (see send).
	pending []string
	spOpen  bool // the current op's savepoint has been sent
	spHeld  bool // a savepoint named op exists in the transaction
}

// q is one statement of a round trip: row reads the row of a query, or tag
// receives the command tag of a statement that returns none.
type q struct {
	sql  string
	args []any
	row  func(pgx.Row) error
	tag  *pgconn.CommandTag
}

// send runs the pending savepoint statements and then qs, in order, in one
// round trip, and stops at the first failure. A row function that finds no
// row gets pgx.ErrNoRows and may accept it (return nil) to go on.
func (w *writer) send(qs ...q) error {
	if len(w.pending) == 0 && len(qs) == 1 {
		q := qs[0]
		if q.row != nil {
			return q.row(w.conn.QueryRow(w.ctx, q.sql, q.args...))
		}
		tag, err := w.conn.Exec(w.ctx, q.sql, q.args...)
		if q.tag != nil {
			*q.tag = tag
		}
		return err
	}
	b := &pgx.Batch{}
	for _, p := range w.pending {
		b.Queue(p)
	}
	for _, q := range qs {
		b.Queue(q.sql, q.args...)
	}
	n := len(w.pending)
	w.pending, w.spOpen = w.pending[:0], true
	br := w.conn.SendBatch(w.ctx, b)
	err := func() error {
		for range n {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("savepoint: %w", err)
			}
		}
		for _, q := range qs {
			if q.row != nil {
				if err := q.row(br.QueryRow()); err != nil {
					return err
				}
				continue
			}
			tag, err := br.Exec()
			if err != nil {
				return err
			}
			if q.tag != nil {
				*q.tag = tag
			}
		}
		return nil
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// exec runs a statement in the batch's transaction.
func (w *writer) exec(sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := w.send(q{sql: sql, args: args, tag: &tag})
	return tag, err
}

// queryRow runs a query in the batch's transaction when its row is scanned.
func (w *writer) queryRow(sql string, args ...any) pgx.Row {
	return deferredRow{w, sql, args}
}

type deferredRow struct {
	w    *writer
	sql  string
	args []any
}

func (r deferredRow) Scan(dest ...any) error {
	return r.w.send(q{sql: r.sql, args: r.args, row: func(row pgx.Row) error { return row.Scan(dest...) }})
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

// run commits a batch in one transaction. Each op's own error stays with
// it. If the transaction fails before its commit was sent because the
// connection broke (a database restart leaves stale connections in the
// pool, which is then reset) or because PostgreSQL chose it as a deadlock
// victim, it is tried once more from the start: nothing of it was
// committed. Otherwise every op
// fails with the transaction's error.
func (w *writer) run(batch []*op) {
	// The events as their callers gave them: ops fill them in, and a retry
	// starts from scratch.
	w.saved = w.saved[:0]
	for _, o := range batch {
		for _, ev := range o.evs {
			if ev != nil {
				w.saved = append(w.saved, *ev)
			}
		}
	}
	var err error
	for attempt := 1; ; attempt++ {
		var sent bool
		sent, err = w.try(batch)
		if err == nil {
			break
		}
		i := 0
		for _, o := range batch {
			o.err = nil
			for _, ev := range o.evs {
				if ev != nil {
					*ev = w.saved[i]
					i++
				}
			}
		}
		if sent || attempt == 2 || !retryBatch(err) {
			break
		}
		resetPool(w.pool, err)
	}
	clear(w.saved)
	if err == nil {
		return
	}
	err = dbErr("commit write batch", err)
	for _, o := range batch {
		o.err = err
	}
}

// retryBatch reports whether a batch that failed before its commit may run
// again at once.
func retryBatch(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") { // deadlock, serialization failure
		return true
	}
	return isConnErr(err) && !errors.Is(err, context.DeadlineExceeded) && !pgconn.Timeout(err)
}

// try runs the batch in one transaction. sent reports whether the commit
// was sent, after which a failure leaves the outcome unknown.
func (w *writer) try(batch []*op) (sent bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	pc, err := w.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	// A connection left inside a transaction (after a failure) is closed
	// by Release, which rolls the transaction back.
	defer pc.Release()
	w.conn, w.ctx = pc.Conn(), ctx
	defer func() { w.conn, w.ctx = nil, nil }()
	w.events, w.touched = w.events[:0], w.touched[:0]
	w.pending, w.spOpen, w.spHeld = w.pending[:0], false, false

	// Begin and lock the head of the audit chain in one round trip.
	var seq int64
	var hash []byte
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`).QueryRow(func(r pgx.Row) error {
		return r.Scan(&seq, &hash)
	})
	if err := w.conn.SendBatch(ctx, b).Close(); err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}

	for _, o := range batch {
		if o.apply != nil {
			if err := w.applyOp(o); err != nil {
				return false, err
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
			cleanEvent(ev)
			prev := hash
			if n := len(w.events); n > 0 {
				prev = w.events[n-1].Hash
			}
			ev.Chain(seq+int64(len(w.events))+1, prev)
			w.events = append(w.events, ev)
		}
	}

	// The rest goes in one round trip: the last failed op's rollback, the
	// store generations, the events, the head, and the commit (which
	// releases any savepoint).
	b = &pgx.Batch{}
	for _, p := range w.pending {
		b.Queue(p)
	}
	if len(w.touched) > 0 {
		slices.Sort(w.touched)
		b.Queue(`UPDATE stores SET gen = gen + 1 WHERE id = ANY($1)`, slices.Compact(w.touched))
	}
	if len(w.events) > 0 {
		queueEvents(b, w.events)
		last := w.events[len(w.events)-1]
		var mac []byte
		if w.headMAC != nil {
			mac = w.headMAC(headMsg(last.Seq, last.Hash))
		}
		b.Queue(`UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1`, last.Seq, last.Hash, mac)
	}
	b.Queue(`COMMIT`).Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			return fmt.Errorf("transaction rolled back (%s)", ct)
		}
		return nil
	})
	if err := w.conn.SendBatch(ctx, b).Close(); err != nil {
		return true, fmt.Errorf("commit: %w", err)
	}
	return true, nil
}

// applyOp runs one op inside its own savepoint and rolls it back when the op
// fails. The returned error is not the op's: it means the transaction is
// broken. The savepoint statements (release of the previous op's, the new
// one, the rollback of an op refused by its own checks) travel with the
// next statement sent, so they cost no round trip of their own; an op that
// sends nothing needs no savepoint at all.
func (w *writer) applyOp(o *op) error {
	mark := len(w.pending)
	if w.spHeld {
		w.pending = append(w.pending, `RELEASE SAVEPOINT op`)
	}
	w.pending, w.spOpen = append(w.pending, `SAVEPOINT op`), false
	touched := len(w.touched)
	o.err = w.call(o.apply)
	if o.err != nil {
		w.touched = w.touched[:touched]
		if isConnErr(o.err) {
			return o.err // the connection is gone, and the transaction with it
		}
	}
	switch {
	case !w.spOpen: // nothing was sent: no savepoint to keep or roll back
		w.pending = w.pending[:mark]
	case o.err != nil && w.conn.PgConn().TxStatus() == 'E':
		// A statement failed and aborted the transaction: nothing more can
		// be prepared in it (pgx prepares a batch's new statements before
		// sending it) until the rollback, so it goes now.
		w.spHeld = true
		if _, err := w.conn.Exec(w.ctx, `ROLLBACK TO SAVEPOINT op`); err != nil {
			return fmt.Errorf("roll back op: %w (op failed: %w)", err, o.err)
		}
	case o.err != nil:
		w.pending, w.spHeld = append(w.pending, `ROLLBACK TO SAVEPOINT op`), true
	default:
		w.spHeld = true
	}
	return nil
}

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

// touchStore marks a store whose secrets or versions the op changes: if the
// op succeeds, the batch changes the store's generation (once, however many
// of its ops touch the store), in the same transaction.
func (w *writer) touchStore(storeID string) { w.touched = append(w.touched, storeID) }

// queueEvents queues the insert of events as one statement over arrays.
func queueEvents(b *pgx.Batch, evs []*coffer.AuditEvent) {
	n := len(evs)
	var (
		seq, at, version                                     = make([]int64, n), make([]int64, n), make([]int64, n)
		account, principal, key, action, store, secret, name = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		outcome, reason, request, remote, face               = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		prev, hash                                           = make([][]byte, n), make([][]byte, n)
	)
	for i, e := range evs {
		seq[i], at[i], version[i] = e.Seq, e.Time.UnixNano(), int64(e.Version)
		account[i], principal[i], key[i], action[i], store[i], secret[i], name[i] = e.AccountID, e.PrincipalID, e.KeyID, e.Action, e.StoreID, e.SecretID, e.Name
		outcome[i], reason[i], request[i], remote[i], face[i] = e.Outcome, e.Reason, e.RequestID, e.Remote, e.Face
		prev[i], hash[i] = e.PrevHash, e.Hash
	}
	b.Queue(`INSERT INTO audit (`+auditCols+`)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
			$16::bytea[], $17::bytea[])`,
		seq, at, account, principal, key, action, store, secret, name, version, outcome, reason, request, remote, face, prev, hash)
}

// cleanEvent makes the event's text storable (see text) before it is
// hashed.
func cleanEvent(e *coffer.AuditEvent) {
	for _, f := range []*string{&e.AccountID, &e.PrincipalID, &e.KeyID, &e.Action, &e.StoreID, &e.SecretID, &e.Name,
		&e.Outcome, &e.Reason, &e.RequestID, &e.Remote, &e.Face} {
		*f = text(*f)
	}
}

// headMsg is what the head MAC authenticates: the 8-byte big-endian
// sequence number of the newest event, then its hash.
func headMsg(seq int64, hash []byte) []byte {
	b := make([]byte, 8, 8+len(hash))
	for i := range 8 {
		b[i] = byte(uint64(seq) >> (56 - 8*i))
	}
	return append(b, hash...)
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
