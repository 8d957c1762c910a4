package sqlite

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// TestPragmas checks the settings the durability promise rests on.
func TestPragmas(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	for _, c := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
	} {
		var got string
		if err := db.conn.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("writer PRAGMA %s: got %s, want %s", c.pragma, got, c.want)
		}
	}
	var got string
	if err := db.read.QueryRowContext(ctx, "PRAGMA query_only").Scan(&got); err != nil {
		t.Fatalf("PRAGMA query_only: %v", err)
	}
	if got != "1" {
		t.Errorf("reader PRAGMA query_only: got %s, want 1", got)
	}
	if _, err := db.read.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('x', 'y')`); err == nil {
		t.Error("write on a read connection: got nil, want an error")
	}
}

// queueBatch runs ops as one batch, in order: a first op holds the writer
// until all of them are queued behind it. It returns each op's error.
func queueBatch(t *testing.T, db *DB, ops []*op) []error {
	t.Helper()
	started, release := make(chan struct{}), make(chan struct{})
	blocker := make(chan error, 1)
	go func() {
		blocker <- db.do(context.Background(), nil, func(*writer) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	for i, o := range ops {
		o.done = make(chan struct{})
		wg.Go(func() { errs[i] = db.submit(context.Background(), o) })
		for len(db.ops) < i+1 { // queued in order
			time.Sleep(100 * time.Microsecond)
		}
	}
	close(release)
	wg.Wait()
	if err := <-blocker; err != nil {
		t.Fatalf("blocker: %v", err)
	}
	return errs
}

// setMeta returns an op that inserts a meta row, marks key in ran once its
// batch commits, and then fails with fail.
func setMeta(key string, fail error, ran *sync.Map) func(*writer) error {
	return func(w *writer) error {
		if _, err := w.conn.ExecContext(w.ctx, `INSERT INTO meta (key, value) VALUES (?, 'x')`, key); err != nil {
			return err
		}
		w.afterCommit(func() { ran.Store(key, true) })
		return fail
	}
}

// TestFailedOpRollsBackAlone checks that an op that fails after changing
// data leaves nothing behind, and that the ops around it in the same batch
// commit with their events.
func TestFailedOpRollsBackAlone(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	evs := []*coffer.AuditEvent{{Action: "a"}, {Action: "b"}, {Action: "c"}}
	var ran sync.Map
	errs := queueBatch(t, db, []*op{
		{apply: setMeta("a", nil, &ran), evs: evs[:1]},
		{apply: setMeta("b", coffer.Errorf(coffer.EINVALID, "refused after a change"), &ran), evs: evs[1:2]},
		{apply: setMeta("c", nil, &ran), evs: evs[2:]},
	})
	for i, want := range []string{"", coffer.EINVALID, ""} {
		if got := coffer.ErrorCode(errs[i]); got != want {
			t.Fatalf("op %d: got %v, want code %q", i, errs[i], want)
		}
		if wantOutcome := map[string]string{"": "ok"}[want] + want; evs[i].Outcome != wantOutcome {
			t.Fatalf("op %d: got outcome %q, want %q", i, evs[i].Outcome, wantOutcome)
		}
		if i > 0 && evs[i].Seq != evs[i-1].Seq+1 {
			t.Fatalf("op %d: got seq %d after %d, want consecutive", i, evs[i].Seq, evs[i-1].Seq)
		}
	}
	for key, want := range map[string]string{"a": "", "b": coffer.ENOTFOUND, "c": ""} {
		if _, err := db.Meta(ctx, key); coffer.ErrorCode(err) != want {
			t.Fatalf("Meta(%s): got %v, want code %q", key, err, want)
		}
		if _, ok := ran.Load(key); ok != (want == "") {
			t.Fatalf("after-commit work of op %s: ran %v, want %v", key, ok, want == "")
		}
	}
}

// TestFailedCommitFailsBatch checks that when the transaction itself cannot
// commit, every op of the batch fails, none of their events is kept, and the
// chain goes on from the last committed event.
func TestFailedCommitFailsBatch(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if err := db.Audit(ctx, &coffer.AuditEvent{Action: "first"}); err != nil {
		t.Fatalf("Audit: %v", err)
	}
	head, err := db.AuditHead(ctx)
	if err != nil {
		t.Fatalf("AuditHead: %v", err)
	}
	// A deferred foreign key violation is only found by COMMIT.
	breakCommit := func(w *writer) error {
		if _, err := w.conn.ExecContext(w.ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
			return err
		}
		_, err := w.conn.ExecContext(w.ctx, `INSERT INTO principals (id, account_id, name, kind, created_at)
			VALUES ('p', 'no such account', 'n', 'user', 0)`)
		return err
	}
	evs := []*coffer.AuditEvent{{Action: "a"}, {Action: "b"}}
	var ran sync.Map
	errs := queueBatch(t, db, []*op{
		{apply: setMeta("a", nil, &ran), evs: evs[:1]},
		{apply: breakCommit, evs: evs[1:]},
	})
	if _, ok := ran.Load("a"); ok {
		t.Fatal("after-commit work of a batch that did not commit: ran")
	}
	for i, err := range errs {
		if coffer.ErrorCode(err) != coffer.EINTERNAL {
			t.Fatalf("op %d: got %v, want an internal error", i, err)
		}
		if evs[i].Seq != 0 || evs[i].Hash != nil {
			t.Fatalf("op %d: got event seq %d, want it unset", i, evs[i].Seq)
		}
	}
	if _, err := db.Meta(ctx, "a"); coffer.ErrorCode(err) != coffer.ENOTFOUND {
		t.Fatalf("Meta(a): got %v, want %s", err, coffer.ENOTFOUND)
	}
	ev := &coffer.AuditEvent{Action: "after"}
	if err := db.Audit(ctx, ev); err != nil {
		t.Fatalf("Audit after the failed batch: %v", err)
	}
	if ev.Seq != head.Seq+1 || !bytes.Equal(ev.PrevHash, head.Hash) {
		t.Fatalf("event after the failed batch: got seq %d, want %d linked to the last committed event", ev.Seq, head.Seq+1)
	}
}

// TestWriteThenDeleteStoreInOneBatch checks that a store deleted after a
// write to it, in the same batch, does not fail the batch when the batch
// changes the generations of the stores it wrote to.
func TestWriteThenDeleteStoreInOneBatch(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	a := &coffer.Account{Name: "a"}
	st := &coffer.Store{Name: "prod"}
	if err := db.CreateAccount(ctx, a, nil); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	st.AccountID = a.ID
	if err := db.CreateStore(ctx, st, []byte("k"), nil); err != nil {
		t.Fatalf("CreateStore: %v", err)
	}
	seal := func(*coffer.Secret, int) ([]byte, int, error) { return []byte("ct"), 1, nil }
	errs := queueBatch(t, db, []*op{
		{apply: func(w *writer) error {
			_, err := w.writeSecret(&coffer.SecretWrite{AccountID: a.ID, StoreID: st.ID, Name: "s",
				Create: &coffer.Secret{}, Seal: seal}, time.Now(), nil)
			return err
		}},
		{apply: func(w *writer) error { return w.deleteStore(a.ID, st.ID, true) }},
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	if _, err := db.Store(ctx, a.ID, st.ID); coffer.ErrorCode(err) != coffer.ENOTFOUND {
		t.Fatalf("Store after delete: got %v, want %s", err, coffer.ENOTFOUND)
	}
}

// TestLazyBatchSync checks that a batch of nothing but lazy ops (nonce uses)
// commits with synchronous=NORMAL, and that any other op in the batch, or
// the next batch, brings FULL back.
func TestLazyBatchSync(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "coffer.db"), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	// probe reads the writer connection's setting inside its batch.
	probe := func(lazy bool, got *string) *op {
		return &op{lazy: lazy, done: make(chan struct{}), apply: func(w *writer) error {
			return w.conn.QueryRowContext(w.ctx, "PRAGMA synchronous").Scan(got)
		}}
	}
	var lazyOnly, mixedLazy, mixedFull, after string
	for _, e := range queueBatch(t, db, []*op{probe(true, &lazyOnly)}) {
		if e != nil {
			t.Fatal(e)
		}
	}
	if lazyOnly != "1" {
		t.Errorf("batch of lazy ops: synchronous %s, want 1 (NORMAL)", lazyOnly)
	}
	// queueBatch puts its own (not lazy) blocker in a batch of its own, so
	// the two probes share the next one.
	for _, e := range queueBatch(t, db, []*op{probe(true, &mixedLazy), probe(false, &mixedFull)}) {
		if e != nil {
			t.Fatal(e)
		}
	}
	if mixedLazy != "2" || mixedFull != "2" {
		t.Errorf("batch with an op that is not lazy: synchronous %s, %s, want 2 (FULL)", mixedLazy, mixedFull)
	}
	if err := db.submit(context.Background(), probe(false, &after)); err != nil {
		t.Fatal(err)
	}
	if after != "2" {
		t.Errorf("after lazy batches: synchronous %s, want 2 (FULL)", after)
	}
	// The replay cache persists with lazy ops.
	if !nonceOp(nil).lazy {
		t.Errorf("the replay cache's op is not lazy")
	}
}
