package sqlite_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/sqlite"
	"github.com/coffer-dev/coffer/storetest"
)

func TestStorage(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) coffer.Storage { return MustOpenDB(tb) })
}

// testMAC is the head MAC of the tests: HMAC-SHA256 under a fixed key.
func testMAC(msg []byte) []byte {
	m := hmac.New(sha256.New, []byte("test master key"))
	m.Write(msg)
	return m.Sum(nil)
}

// MustOpenDB opens a new database in a temporary directory and closes it
// when the test ends.
func MustOpenDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	return MustOpenPath(tb, filepath.Join(tb.TempDir(), "coffer.db"))
}

// MustOpenPath opens the database at path and closes it when the test ends.
func MustOpenPath(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path, sqlite.Options{HeadMAC: testMAC})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

// fixture creates an account and a store.
func fixture(tb testing.TB, db *sqlite.DB) (*coffer.Account, *coffer.Store) {
	tb.Helper()
	ctx := context.Background()
	a := &coffer.Account{Name: "acme"}
	if err := db.CreateAccount(ctx, a, &coffer.AuditEvent{Action: "account.create"}); err != nil {
		tb.Fatalf("CreateAccount: %v", err)
	}
	s := &coffer.Store{AccountID: a.ID, Name: "prod"}
	if err := db.CreateStore(ctx, s, []byte("wrapped"), &coffer.AuditEvent{Action: "store.create"}); err != nil {
		tb.Fatalf("CreateStore: %v", err)
	}
	return a, s
}

func seal(value string) coffer.SealFunc {
	return func(s *coffer.Secret, n int) ([]byte, int, error) {
		return []byte(fmt.Sprintf("%s|%d|%s", s.ID, n, value)), 1, nil
	}
}

// put writes a version of name, creating the secret when missing.
func put(ctx context.Context, db *sqlite.DB, st *coffer.Store, name, value string) (*coffer.Secret, error) {
	return db.WriteSecret(ctx, &coffer.SecretWrite{
		AccountID: st.AccountID,
		StoreID:   st.ID,
		Name:      name,
		Create:    &coffer.Secret{Origin: "native"},
		Seal:      seal(value),
		By:        "p1",
	}, &coffer.AuditEvent{Action: "secret.write", Name: name})
}

// verifyChain checks the whole audit chain and its head MAC.
func verifyChain(tb testing.TB, db *sqlite.DB) *coffer.AuditReport {
	tb.Helper()
	ctx := context.Background()
	var v coffer.ChainVerifier
	var after int64
	for {
		page, err := db.AuditEvents(ctx, "", coffer.AuditQuery{After: after, Limit: 500})
		if err != nil {
			tb.Fatalf("AuditEvents: %v", err)
		}
		if len(page) == 0 {
			break
		}
		for _, ev := range page {
			v.Add(ev)
		}
		after = page[len(page)-1].Seq
	}
	head, err := db.AuditHead(ctx)
	if err != nil {
		tb.Fatalf("AuditHead: %v", err)
	}
	return v.Finish(head, func(h *coffer.AuditHead) bool {
		msg := append(binaryBE(h.Seq), h.Hash...)
		return hmac.Equal(h.MAC, testMAC(msg))
	})
}

func binaryBE(n int64) []byte {
	b := make([]byte, 8)
	for i := range 8 {
		b[i] = byte(uint64(n) >> (56 - 8*i))
	}
	return b
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "coffer.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{HeadMAC: testMAC})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	a, st := fixture(t, db)
	s, err := put(ctx, db, st, "db/password", "v1")
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	if _, err := put(ctx, db, st, "db/password", "v2"); err != nil {
		t.Fatalf("put: %v", err)
	}
	if err := db.SetMeta(ctx, "install_id", []byte("abc")); err != nil {
		t.Fatalf("SetMeta: %v", err)
	}
	head, err := db.AuditHead(ctx)
	if err != nil || head == nil {
		t.Fatalf("AuditHead: got %v, %v", head, err)
	}
	before, err := db.Store(ctx, a.ID, "prod")
	if err != nil {
		t.Fatalf("Store: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db = MustOpenPath(t, path)
	_, v, err := db.ReadVersion(ctx, a.ID, "prod", "db/password", 0)
	if err != nil {
		t.Fatalf("ReadVersion after reopen: %v", err)
	}
	if want := s.ID + "|2|v2"; string(v.Ciphertext) != want {
		t.Fatalf("ReadVersion after reopen: got %q, want %q", v.Ciphertext, want)
	}
	if got, err := db.Store(ctx, a.ID, st.ID); err != nil || got.Name != "prod" || got.Gen != before.Gen {
		t.Fatalf("Store after reopen: got %+v, %v, want %+v", got, err, before)
	}
	if got, err := db.Meta(ctx, "install_id"); err != nil || string(got) != "abc" {
		t.Fatalf("Meta after reopen: got %q, %v, want abc", got, err)
	}
	got, err := db.AuditHead(ctx)
	if err != nil {
		t.Fatalf("AuditHead after reopen: %v", err)
	}
	if got.Seq != head.Seq || !bytes.Equal(got.Hash, head.Hash) || !bytes.Equal(got.MAC, head.MAC) {
		t.Fatalf("AuditHead after reopen: got %+v, want %+v", got, head)
	}

	// The chain continues where it stopped.
	ev := &coffer.AuditEvent{Action: "secret.reveal", AccountID: a.ID}
	if err := db.Audit(ctx, ev); err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if ev.Seq != head.Seq+1 || !bytes.Equal(ev.PrevHash, head.Hash) {
		t.Fatalf("first event after reopen: got seq %d prev %x, want %d %x", ev.Seq, ev.PrevHash, head.Seq+1, head.Hash)
	}
	if rep := verifyChain(t, db); !rep.OK || rep.Events != head.Seq+1 {
		t.Fatalf("chain after reopen: got %+v, want OK with %d events", rep, head.Seq+1)
	}
}

func TestOpenTwiceMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	for range 2 {
		db, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

func TestFileModes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "coffer.db")
	db := MustOpenPath(t, path)
	fixture(t, db) // writes, so the WAL exists
	for _, name := range []string{path, path + "-wal", path + "-shm", path + "-lock"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("mode of %s: got %v, want -rw-------", filepath.Base(name), got)
		}
	}
}

// TestBatchIsolation fires concurrent writes, half of which fail, so that
// failing and succeeding ops share batches: each succeeds or fails on its
// own, and the chain records every one.
func TestBatchIsolation(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	_, st := fixture(t, db)
	if _, err := put(ctx, db, st, "taken", "v1"); err != nil {
		t.Fatalf("put: %v", err)
	}
	const n = 200
	errs := make([]error, n)
	evs := make([]*coffer.AuditEvent, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			w := &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: fmt.Sprint("s", i),
				Create: &coffer.Secret{}, Seal: seal("v"), By: "p1"}
			switch i % 4 {
			case 1: // the name is taken
				w.Name, w.CreateOnly = "taken", true
			case 3: // Seal fails half-way through the op
				w.Seal = func(*coffer.Secret, int) ([]byte, int, error) {
					return nil, 0, coffer.Errorf(coffer.EINVALID, "bad value")
				}
			}
			evs[i] = &coffer.AuditEvent{Action: "secret.create"}
			_, errs[i] = db.WriteSecret(ctx, w, evs[i])
		})
	}
	close(start)
	wg.Wait()

	for i := range n {
		want := ""
		switch i % 4 {
		case 1:
			want = coffer.ECONFLICT
		case 3:
			want = coffer.EINVALID
		}
		if got := coffer.ErrorCode(errs[i]); got != want {
			t.Fatalf("write %d: got code %q (%v), want %q", i, got, errs[i], want)
		}
		wantOutcome := want
		if want == "" {
			wantOutcome = "ok"
		}
		if evs[i].Outcome != wantOutcome || evs[i].Seq == 0 {
			t.Fatalf("write %d: got event outcome %q seq %d, want %q", i, evs[i].Outcome, evs[i].Seq, wantOutcome)
		}
		_, err := db.Secret(ctx, st.AccountID, st.ID, fmt.Sprint("s", i))
		if ok := err == nil; ok != (want == "") {
			t.Fatalf("secret of write %d: got %v, want it to exist only if the write succeeded", i, err)
		}
	}
	if rep := verifyChain(t, db); !rep.OK {
		t.Fatalf("chain: %+v", rep)
	}
}

// TestPanickingSealFailsAlone checks that a Seal that panics fails its own
// write and leaves the writer running.
func TestPanickingSealFailsAlone(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	_, st := fixture(t, db)
	_, err := db.WriteSecret(ctx, &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: "boom",
		Create: &coffer.Secret{}, Seal: func(*coffer.Secret, int) ([]byte, int, error) { panic("boom") }},
		&coffer.AuditEvent{Action: "secret.create"})
	if got := coffer.ErrorCode(err); got != coffer.EINTERNAL {
		t.Fatalf("WriteSecret with a panicking Seal: got %v, want an internal error", err)
	}
	if _, err := put(ctx, db, st, "fine", "v1"); err != nil {
		t.Fatalf("put after the panic: %v", err)
	}
}

func TestWriteContextCanceled(t *testing.T) {
	db := MustOpenDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := db.Audit(ctx, &coffer.AuditEvent{Action: "x"})
	if err == nil {
		t.Fatal("Audit with a canceled context: got nil, want an error")
	}
	if head, _ := db.AuditHead(context.Background()); head != nil {
		t.Fatalf("AuditHead: got %+v, want nil (nothing written)", head)
	}
}

func TestSetMetaReservedKey(t *testing.T) {
	db := MustOpenDB(t)
	err := db.SetMeta(context.Background(), "audit_head", []byte("x"))
	if got := coffer.ErrorCode(err); got != coffer.EINVALID {
		t.Fatalf("SetMeta(audit_head): got %v, want %s", err, coffer.EINVALID)
	}
}

func TestCloseFinishesQueuedWrites(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	const n = 100
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { errs <- db.Audit(ctx, &coffer.AuditEvent{Action: "x", Time: time.Now()}) })
	}
	time.Sleep(time.Millisecond)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		// Every write either made it before Close or was refused cleanly.
		if err != nil && coffer.ErrorCode(err) != coffer.EUNAVAILABLE {
			t.Fatalf("Audit during Close: got %v, want nil or %s", err, coffer.EUNAVAILABLE)
		}
	}
}

func TestOpenTwiceFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	MustOpenPath(t, path)
	if db, err := sqlite.Open(context.Background(), path, sqlite.Options{}); err == nil {
		db.Close()
		t.Fatal("second Open of an open database: got nil, want an error")
	}
}
