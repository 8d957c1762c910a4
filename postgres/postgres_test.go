package postgres_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/pgtest"
	"github.com/coffer-dev/coffer/postgres"
	"github.com/coffer-dev/coffer/storetest"
	"github.com/jackc/pgx/v5"
)

// The tests share one cluster, started on first use: a throwaway one, or the
// server that COFFER_TEST_POSTGRES_URL names. Each test gets a database of
// its own, copied from a template that has the migrations applied.
//
// A copy costs more than most tests (about a tenth of a second), so one
// database is created ahead of the test that takes it, and databases are
// dropped in the background.
var (
	clusterOnce sync.Once
	cluster     *pgtest.Cluster
	clusterErr  error
	dbSeq       atomic.Int64

	ahead     = make(chan created, 1) // the next test's database
	stopAhead = make(chan struct{})
	aheadDone = make(chan struct{}) // closed when the creator stops
	drops     sync.WaitGroup
)

type created struct {
	name string
	err  error
}

// template is the database every test database is copied from.
const template = "coffer_template"

func TestMain(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		ctx := context.Background()
		close(stopAhead)
		<-aheadDone
		drops.Wait()
		if cluster.Dir == "" { // an external server: leave it as it was
			cluster.DropDB(ctx, template)
		}
		if err := cluster.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "stop postgres:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testCluster returns the shared cluster, starting it on first use. It never
// skips: without PostgreSQL the tests fail and say how to get it.
func testCluster(tb testing.TB) *pgtest.Cluster {
	tb.Helper()
	clusterOnce.Do(func() {
		ctx := context.Background()
		if cluster = pgtest.External(); cluster == nil {
			if cluster, clusterErr = pgtest.Start(); clusterErr != nil {
				return
			}
		}
		cluster.DropDB(ctx, template)
		if clusterErr = cluster.CreateDB(ctx, template, ""); clusterErr != nil {
			return
		}
		var db *postgres.DB
		if db, clusterErr = postgres.Open(ctx, cluster.URL(template), postgres.Options{}); clusterErr == nil {
			clusterErr = db.Close()
		}
		go createAhead(cluster)
	})
	if clusterErr != nil {
		tb.Fatalf("PostgreSQL for the tests: %v", clusterErr)
	}
	return cluster
}

// createAhead creates databases from the template, one ahead of the tests
// that take them, until stopAhead is closed.
func createAhead(c *pgtest.Cluster) {
	defer close(aheadDone)
	ctx := context.Background()
	for {
		name := fmt.Sprintf("coffer_test_%d_%d", os.Getpid(), dbSeq.Add(1))
		err := c.CreateDB(ctx, name, template)
		select {
		case ahead <- created{name, err}:
		case <-stopAhead:
			if err == nil {
				c.DropDB(ctx, name)
			}
			return
		}
	}
}

// NewDatabase returns the URL of an empty, migrated database of its own. It
// is dropped when the test ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	c := testCluster(tb)
	db := <-ahead
	if db.err != nil {
		tb.Fatalf("create database: %v", db.err)
	}
	tb.Cleanup(func() {
		drops.Add(1)
		go func() {
			defer drops.Done()
			if err := c.DropDB(context.Background(), db.name); err != nil {
				fmt.Fprintln(os.Stderr, "drop test database:", err)
			}
		}()
	})
	return c.URL(db.name)
}

// testMAC is the head MAC of the tests: HMAC-SHA256 under a fixed key.
func testMAC(msg []byte) []byte {
	m := hmac.New(sha256.New, []byte("test master key"))
	m.Write(msg)
	return m.Sum(nil)
}

// MustOpenDB opens a new database and closes it when the test ends.
func MustOpenDB(tb testing.TB) *postgres.DB {
	tb.Helper()
	return MustOpenURL(tb, NewDatabase(tb))
}

// MustOpenURL opens the database at url and closes it when the test ends.
func MustOpenURL(tb testing.TB, url string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.Options{HeadMAC: testMAC})
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

func TestStorage(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) coffer.Storage { return MustOpenDB(tb) })
}

// fixture creates an account and a store.
func fixture(tb testing.TB, db *postgres.DB) (*coffer.Account, *coffer.Store) {
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
func put(ctx context.Context, db *postgres.DB, st *coffer.Store, name, value string) (*coffer.Secret, error) {
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
func verifyChain(tb testing.TB, db coffer.Storage) *coffer.AuditReport {
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
		msg := binary.BigEndian.AppendUint64(nil, uint64(h.Seq))
		return hmac.Equal(h.MAC, testMAC(append(msg, h.Hash...)))
	})
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	url := NewDatabase(t)
	db, err := postgres.Open(ctx, url, postgres.Options{HeadMAC: testMAC})
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

	db = MustOpenURL(t, url)
	_, v, err := db.ReadVersion(ctx, a.ID, "prod", "db/password", 0)
	if err != nil {
		t.Fatalf("ReadVersion after reopen: %v", err)
	}
	if want := s.ID + "|2|v2"; string(v.Ciphertext) != want {
		t.Fatalf("ReadVersion after reopen: got %q, want %q", v.Ciphertext, want)
	}
	if got, err := db.Store(ctx, a.ID, st.ID); err != nil || got.Name != "prod" || got.Gen != before.Gen || got.Gen == 0 {
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

// TestOpenConcurrently starts several Opens at once on a database without
// tables, as servers starting together would: the advisory lock makes each
// migration run once, and every Open succeeds.
func TestOpenConcurrently(t *testing.T) {
	c := testCluster(t)
	ctx := context.Background()
	name := fmt.Sprintf("coffer_fresh_%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := c.CreateDB(ctx, name, ""); err != nil {
		t.Fatalf("CreateDB: %v", err)
	}
	t.Cleanup(func() { c.DropDB(ctx, name) })
	const n = 4
	dbs := make([]*postgres.DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = postgres.Open(ctx, c.URL(name), postgres.Options{HeadMAC: testMAC}) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		defer dbs[i].Close()
	}
	conn, err := pgx.Connect(ctx, c.URL(name))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var total, distinct int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT name) FROM migrations`).Scan(&total, &distinct); err != nil {
		t.Fatalf("count migrations: %v", err)
	}
	files, _ := filepath.Glob("migrations/*.sql")
	if total != len(files) || distinct != len(files) {
		t.Fatalf("migrations recorded: got %d (%d distinct), want %d", total, distinct, len(files))
	}
	fixture(t, dbs[n-1]) // the schema works
}

// TestBatchIsolation fires concurrent writes, some of which fail, before or
// after they have sent statements, so that failing and succeeding ops share
// batches: each succeeds or fails on its
// own, and the chain records every one.
func TestBatchIsolation(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	_, st := fixture(t, db)
	taken, err := put(ctx, db, st, "taken", "v1")
	if err != nil {
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
			switch i % 5 {
			case 1: // the name is taken
				w.Name, w.CreateOnly = "taken", true
			case 3: // Seal fails half-way through the op
				w.Seal = func(*coffer.Secret, int) ([]byte, int, error) {
					return nil, 0, coffer.Errorf(coffer.EINVALID, "bad value")
				}
			case 4: // the id is taken: PostgreSQL refuses the insert, which aborts the transaction up to the op's savepoint
				w.Create.ID = taken.ID
			}
			evs[i] = &coffer.AuditEvent{Action: "secret.create"}
			_, errs[i] = db.WriteSecret(ctx, w, evs[i])
		})
	}
	close(start)
	wg.Wait()

	for i := range n {
		want := ""
		switch i % 5 {
		case 1, 4:
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

func TestSetMetaReservedKey(t *testing.T) {
	db := MustOpenDB(t)
	err := db.SetMeta(context.Background(), "audit_head", []byte("x"))
	if got := coffer.ErrorCode(err); got != coffer.EINVALID {
		t.Fatalf("SetMeta(audit_head): got %v, want %s", err, coffer.EINVALID)
	}
}

func TestWriteContextCanceled(t *testing.T) {
	db := MustOpenDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.Audit(ctx, &coffer.AuditEvent{Action: "x"}); err == nil {
		t.Fatal("Audit with a canceled context: got nil, want an error")
	}
	if head, _ := db.AuditHead(context.Background()); head != nil {
		t.Fatalf("AuditHead: got %+v, want nil (nothing written)", head)
	}
}

// TestUnstorableText checks text that PostgreSQL's TEXT cannot hold (invalid UTF-8,
// NUL): in an audit event (from a request header, say) it is stored
// escaped and the chain still verifies; as a lookup key it finds nothing.
func TestUnstorableText(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	a, st := fixture(t, db)
	ev := &coffer.AuditEvent{Action: "secret.reveal", AccountID: a.ID, RequestID: "r\xff\x00x", Remote: "ok"}
	if err := db.Audit(ctx, ev, &coffer.AuditEvent{Action: "secret.reveal", AccountID: a.ID}); err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if want := `r\xff\x00x`; ev.RequestID != want {
		t.Fatalf("RequestID as stored: got %q, want %q", ev.RequestID, want)
	}
	if rep := verifyChain(t, db); !rep.OK {
		t.Fatalf("chain: %+v", rep)
	}
	for _, ref := range []string{"a\x00b", "\xff"} {
		if _, err := db.Secret(ctx, a.ID, st.ID, ref); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Errorf("Secret(%q): got %v, want %s", ref, err, coffer.ENOTFOUND)
		}
		if _, _, err := db.ReadVersion(ctx, a.ID, st.ID, ref, 0); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Errorf("ReadVersion(%q): got %v, want %s", ref, err, coffer.ENOTFOUND)
		}
		if _, err := db.Store(ctx, a.ID, ref); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Errorf("Store(%q): got %v, want %s", ref, err, coffer.ENOTFOUND)
		}
		if got, err := db.Secrets(ctx, a.ID, st.ID, coffer.SecretQuery{Prefix: ref}); err != nil || len(got) != 0 {
			t.Errorf("Secrets(prefix %q): got %d, %v, want none", ref, len(got), err)
		}
	}
}

// TestPrefixRunes lists by prefixes whose last byte cannot simply be
// incremented into valid UTF-8.
func TestPrefixRunes(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	a, st := fixture(t, db)
	names := []string{"a¿", "a¿b", "aÀ", "a\u007f", "a\u0080", "a\ud7ffz", "a\ue000", "a\U0010ffff", "a\U0010ffffx", "b"}
	for _, n := range names {
		if _, err := put(ctx, db, st, n, "v"); err != nil {
			t.Fatalf("put(%q): %v", n, err)
		}
	}
	for _, c := range []struct {
		prefix string
		want   int
	}{{"a¿", 2}, {"a\u007f", 1}, {"a\ud7ff", 1}, {"a\U0010ffff", 2}, {"a", 9}, {"", 10}} {
		got, err := db.Secrets(ctx, a.ID, st.ID, coffer.SecretQuery{Prefix: c.prefix})
		if err != nil {
			t.Fatalf("Secrets(prefix %q): %v", c.prefix, err)
		}
		if len(got) != c.want {
			t.Errorf("Secrets(prefix %q): got %d secrets, want %d", c.prefix, len(got), c.want)
		}
		for _, s := range got {
			if !strings.HasPrefix(s.Name, c.prefix) {
				t.Errorf("Secrets(prefix %q): got %q", c.prefix, s.Name)
			}
		}
	}
}

// TestSharedDatabase opens one database three times, as three servers
// would, and has them race: every rule must hold across them.
func TestSharedDatabase(t *testing.T) {
	ctx := context.Background()
	url := NewDatabase(t)
	dbs := []*postgres.DB{MustOpenURL(t, url), MustOpenURL(t, url), MustOpenURL(t, url)}
	a, st := fixture(t, dbs[0])
	if _, err := put(ctx, dbs[0], st, "shared", "v0"); err != nil {
		t.Fatalf("put: %v", err)
	}

	t.Run("VersionsNeverRepeat", func(t *testing.T) {
		const per = 30
		got := make(chan int, 3*per)
		var wg sync.WaitGroup
		for i, db := range dbs {
			wg.Go(func() {
				for j := range per {
					s, err := put(ctx, db, st, "shared", fmt.Sprintf("s%d-%d", i, j))
					if err != nil {
						t.Errorf("put on server %d: %v", i, err)
						return
					}
					got <- s.Version
				}
			})
		}
		wg.Wait()
		close(got)
		seen := map[int]bool{}
		for v := range got {
			if seen[v] {
				t.Fatalf("version %d given twice", v)
			}
			seen[v] = true
		}
		vs, err := dbs[2].Versions(ctx, a.ID, mustSecret(t, dbs[2], st, "shared").ID)
		if err != nil {
			t.Fatalf("Versions: %v", err)
		}
		if len(vs) != 3*per+1 || vs[0].Number != 3*per+1 || vs[len(vs)-1].Number != 1 {
			t.Fatalf("versions: got %d, newest %d, want 1..%d", len(vs), vs[0].Number, 3*per+1)
		}
	})

	t.Run("CompareAndSetOneWinner", func(t *testing.T) {
		for round := range 10 {
			cur := mustSecret(t, dbs[0], st, "shared").Version
			errs := make([]error, len(dbs))
			var wg sync.WaitGroup
			for i, db := range dbs {
				wg.Go(func() {
					_, errs[i] = db.WriteSecret(ctx, &coffer.SecretWrite{AccountID: a.ID, StoreID: st.ID, Name: "shared",
						IfVersion: cur, Seal: seal(fmt.Sprintf("cas%d-%d", round, i))}, &coffer.AuditEvent{Action: "secret.write"})
				})
			}
			wg.Wait()
			won := 0
			for i, err := range errs {
				switch coffer.ErrorCode(err) {
				case "":
					won++
				case coffer.EPRECONDITION:
				default:
					t.Fatalf("round %d, server %d: %v", round, i, err)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d writers won the compare-and-set, want 1", round, won)
			}
			if got := mustSecret(t, dbs[1], st, "shared").Version; got != cur+1 {
				t.Fatalf("round %d: version %d after the race, want %d", round, got, cur+1)
			}
		}
	})

	t.Run("LiveNamesUnique", func(t *testing.T) {
		for round := range 10 {
			name := fmt.Sprint("race", round)
			errs := make([]error, len(dbs))
			var wg sync.WaitGroup
			for i, db := range dbs {
				wg.Go(func() {
					w := &coffer.SecretWrite{AccountID: a.ID, StoreID: st.ID, Name: name, Create: &coffer.Secret{},
						CreateOnly: true, Seal: seal("v")}
					_, errs[i] = db.WriteSecret(ctx, w, &coffer.AuditEvent{Action: "secret.create"})
				})
			}
			wg.Wait()
			won := 0
			for i, err := range errs {
				switch coffer.ErrorCode(err) {
				case "":
					won++
				case coffer.ECONFLICT:
				default:
					t.Fatalf("round %d, server %d: %v", round, i, err)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d creates of one name won, want 1", round, won)
			}
		}
	})

	t.Run("StoreGenSeenEverywhere", func(t *testing.T) {
		before, err := dbs[1].Store(ctx, a.ID, st.ID)
		if err != nil {
			t.Fatalf("Store: %v", err)
		}
		if _, err := put(ctx, dbs[0], st, "shared", "gen"); err != nil {
			t.Fatalf("put: %v", err)
		}
		after, err := dbs[1].Store(ctx, a.ID, st.ID)
		if err != nil {
			t.Fatalf("Store: %v", err)
		}
		if after.Gen == before.Gen {
			t.Fatalf("Gen on another server after a write: got %d, want a change", after.Gen)
		}
	})

	t.Run("OneChain", func(t *testing.T) {
		var wg sync.WaitGroup
		for _, db := range dbs {
			wg.Go(func() {
				for range 50 {
					if err := db.Audit(ctx, &coffer.AuditEvent{Action: "secret.reveal", AccountID: a.ID}); err != nil {
						t.Errorf("Audit: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		for i, db := range dbs {
			if rep := verifyChain(t, db); !rep.OK {
				t.Fatalf("chain seen from server %d: %+v", i, rep)
			}
		}
	})
}

func mustSecret(tb testing.TB, db *postgres.DB, st *coffer.Store, ref string) *coffer.Secret {
	tb.Helper()
	s, err := db.Secret(context.Background(), st.AccountID, st.ID, ref)
	if err != nil {
		tb.Fatalf("Secret(%q): %v", ref, err)
	}
	return s
}

// TestOutage stops PostgreSQL the way a crash would, on a cluster of the
// test's own: every call fails with EUNAVAILABLE while it is down, the
// acknowledged writes are there when it returns, and the same DB works
// again without being reopened.
func TestOutage(t *testing.T) {
	if pgtest.External() != nil {
		t.Log("uses a cluster of its own, not " + pgtest.EnvURL)
	}
	c, err := pgtest.Start()
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.CreateDB(ctx, "coffer", ""); err != nil {
		t.Fatalf("CreateDB: %v", err)
	}
	db := MustOpenURL(t, c.URL("coffer"))
	a, st := fixture(t, db)
	s, err := put(ctx, db, st, "acked", "v1")
	if err != nil {
		t.Fatalf("put: %v", err)
	}

	if err := c.Stop("immediate"); err != nil {
		t.Fatalf("stop: %v", err)
	}
	down := func(what string, err error) {
		t.Helper()
		if got := coffer.ErrorCode(err); got != coffer.EUNAVAILABLE {
			t.Errorf("%s while the database is down: got %q (%v), want %s", what, got, err, coffer.EUNAVAILABLE)
		}
	}
	down("Ping", db.Ping(ctx))
	_, err = db.Store(ctx, a.ID, st.ID)
	down("Store", err)
	_, _, err = db.ReadVersion(ctx, a.ID, st.ID, "acked", 0)
	down("ReadVersion", err)
	_, err = db.APIKey(ctx, "k1")
	down("APIKey", err)
	_, err = put(ctx, db, st, "lost", "v1")
	down("WriteSecret", err)
	down("Audit", db.Audit(ctx, &coffer.AuditEvent{Action: "secret.reveal"}))

	if err := c.Restart(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	_, v, err := db.ReadVersion(ctx, a.ID, st.ID, "acked", 0)
	if err != nil {
		t.Fatalf("ReadVersion after the restart: %v", err)
	}
	if want := s.ID + "|1|v1"; string(v.Ciphertext) != want {
		t.Fatalf("ReadVersion after the restart: got %q, want %q", v.Ciphertext, want)
	}
	if _, err := put(ctx, db, st, "after", "v1"); err != nil {
		t.Fatalf("put after the restart: %v", err)
	}
	if _, err := db.Secret(ctx, a.ID, st.ID, "lost"); coffer.ErrorCode(err) != coffer.ENOTFOUND {
		t.Fatalf("the write refused while down: got %v, want %s", err, coffer.ENOTFOUND)
	}
	if rep := verifyChain(t, db); !rep.OK {
		t.Fatalf("chain: %+v", rep)
	}
}

// TestNonceCommitStaysLocal checks that the relaxed commit of nonce uses
// applies to their own transactions only: every connection of the pool
// still commits synchronously afterwards.
func TestNonceCommitStaysLocal(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := db.UseNonce(ctx, fmt.Sprint("n", i), time.Now(), time.Now().Add(time.Minute)); err != nil {
				t.Errorf("UseNonce: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := postgres.SessionSettings(ctx, db, "synchronous_commit")
	if err != nil {
		t.Fatalf("SessionSettings: %v", err)
	}
	if len(got) == 0 {
		t.Fatal("no idle connection to look at")
	}
	for _, v := range got {
		if v != "on" {
			t.Fatalf("synchronous_commit after nonce uses: got %v, want on everywhere", got)
		}
	}
}

// TestStaleConnections ends every connection of the pool from the server
// side, as a restart of PostgreSQL does, and uses the DB at once, before the
// pool's idle check could notice: reads and writes are tried again on fresh
// connections and succeed, and the events of a write tried twice are those
// of the write that committed.
func TestStaleConnections(t *testing.T) {
	ctx := context.Background()
	url := NewDatabase(t)
	db := MustOpenURL(t, url)
	a, st := fixture(t, db)
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for round := range 3 {
		// Warm several connections, then end them all.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { db.Store(ctx, a.ID, st.ID) })
		}
		wg.Wait()
		var ended int
		if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'coffer'`).Scan(&ended); err != nil {
			t.Fatalf("terminate: %v", err)
		}
		if ended == 0 {
			t.Fatal("no connection of the pool to end")
		}
		// Even rounds meet the stale pool with a write, odd ones with a read.
		read := func() {
			if _, err := db.Store(ctx, a.ID, st.ID); err != nil {
				t.Fatalf("round %d: Store on a stale pool: %v", round, err)
			}
		}
		if round%2 == 1 {
			read()
		}
		ev := &coffer.AuditEvent{Action: "secret.create"}
		s, err := db.WriteSecret(ctx, &coffer.SecretWrite{AccountID: a.ID, StoreID: st.ID, Name: fmt.Sprint("s", round),
			Create: &coffer.Secret{}, Seal: seal("v")}, ev)
		if err != nil {
			t.Fatalf("round %d: WriteSecret on a stale pool: %v", round, err)
		}
		if ev.SecretID != s.ID || ev.Outcome != "ok" || ev.Seq == 0 {
			t.Fatalf("round %d: event %+v does not record secret %s", round, ev, s.ID)
		}
		read()
	}
	if rep := verifyChain(t, db); !rep.OK {
		t.Fatalf("chain: %+v", rep)
	}
}
