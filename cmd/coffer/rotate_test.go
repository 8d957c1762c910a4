package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/client"
	"github.com/coffer-dev/coffer/server"
	"github.com/coffer-dev/coffer/sqlite"
)

// rotLoad runs readers, writers and a store creator against a server until
// stopped, and remembers every value it wrote by store, secret and version.
type rotLoad struct {
	t  *testing.T
	cl *client.Client

	mu      sync.Mutex
	stores  []string
	written map[string]map[int]string // "store\x00name" -> version -> value

	ops, fails atomic.Int64
	errMu      sync.Mutex
	errs       []string

	stop chan struct{}
	wg   sync.WaitGroup
}

func newRotLoad(t *testing.T, addr, token string, stores int) *rotLoad {
	t.Helper()
	cl, err := client.New(addr, token)
	if err != nil {
		t.Fatal(err)
	}
	l := &rotLoad{t: t, cl: cl, written: map[string]map[int]string{}, stop: make(chan struct{})}
	ctx := context.Background()
	for i := range stores {
		name := fmt.Sprintf("s%02d", i)
		if _, err := cl.CreateStore(ctx, &coffer.StoreCreate{Name: name}); err != nil {
			t.Fatal(err)
		}
		l.stores = append(l.stores, name)
		for j := range 2 {
			if err := l.put(ctx, name, fmt.Sprintf("seed%d", j), fmt.Sprintf("seed-%d-%d", i, j)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return l
}

func (l *rotLoad) put(ctx context.Context, store, name, value string) error {
	sec, err := l.cl.PutSecret(ctx, store, &coffer.SecretPut{Name: name, Value: []byte(value)})
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := store + "\x00" + name
	if l.written[k] == nil {
		l.written[k] = map[int]string{}
	}
	l.written[k][sec.Version] = value
	return nil
}

func (l *rotLoad) fail(what string, err error) {
	l.fails.Add(1)
	l.errMu.Lock()
	if len(l.errs) < 10 {
		l.errs = append(l.errs, fmt.Sprintf("%s: %v", what, err))
	}
	l.errMu.Unlock()
}

// start runs writers writer goroutines, readers readers and one store
// creator.
func (l *rotLoad) start(writers, readers int) {
	ctx := context.Background()
	run := func(f func(n int)) {
		l.wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				f(n)
				l.ops.Add(1)
			}
		})
	}
	for w := range writers {
		run(func(n int) {
			l.mu.Lock()
			store := l.stores[rand.IntN(len(l.stores))]
			l.mu.Unlock()
			name := fmt.Sprintf("w%d-%d", w, n%5)
			if err := l.put(ctx, store, name, fmt.Sprintf("value-%d-%d", w, n)); err != nil {
				l.fail("put "+store+"/"+name, err)
			}
		})
	}
	for range readers {
		run(func(int) {
			l.mu.Lock()
			var key string
			var version int
			var want string
			for k, vs := range l.written { // map order is random enough
				key = k
				for v, val := range vs {
					version, want = v, val
					break
				}
				break
			}
			l.mu.Unlock()
			store, name, _ := strings.Cut(key, "\x00")
			v, err := l.cl.Reveal(ctx, store, name, version)
			if err != nil {
				l.fail("reveal "+store+"/"+name, err)
			} else if string(v.Data) != want {
				l.fail("reveal "+store+"/"+name, fmt.Errorf("version %d: wrong value", version))
			}
		})
	}
	run(func(n int) {
		store := fmt.Sprintf("new%03d", n)
		if _, err := l.cl.CreateStore(ctx, &coffer.StoreCreate{Name: store}); err != nil {
			l.fail("create store "+store, err)
			return
		}
		if err := l.put(ctx, store, "first", "first-"+store); err != nil {
			l.fail("put "+store+"/first", err)
			return
		}
		l.mu.Lock()
		l.stores = append(l.stores, store)
		l.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	})
}

// waitOps waits until at least n more operations have completed.
func (l *rotLoad) waitOps(n int64) {
	l.t.Helper()
	target := l.ops.Load() + n
	deadline := time.Now().Add(2 * time.Minute)
	for l.ops.Load() < target {
		if time.Now().After(deadline) {
			l.t.Fatalf("load made no progress: %d ops", l.ops.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// finish stops the load and fails the test if any request failed.
func (l *rotLoad) finish() {
	l.t.Helper()
	close(l.stop)
	l.wg.Wait()
	if n := l.fails.Load(); n > 0 {
		l.t.Fatalf("%d of %d requests failed under rotation; first: %v", n, l.ops.Load(), l.errs)
	}
	l.t.Logf("%d requests under load, none failed", l.ops.Load())
}

// checkAll reads every version ever written from the server at addr.
func (l *rotLoad) checkAll(addr, token string) {
	l.t.Helper()
	cl, err := client.New(addr, token)
	if err != nil {
		l.t.Fatal(err)
	}
	n := 0
	for k, vs := range l.written {
		store, name, _ := strings.Cut(k, "\x00")
		for version, want := range vs {
			v, err := cl.Reveal(context.Background(), store, name, version)
			if err != nil {
				l.t.Fatalf("reveal %s/%s version %d: %v", store, name, version, err)
			}
			if string(v.Data) != want {
				l.t.Fatalf("reveal %s/%s version %d: wrong value", store, name, version)
			}
			n++
		}
	}
	l.t.Logf("%d versions of %d secrets decrypt", n, len(l.written))
}

// openServerConfig opens a server with cfg; the test closes it at the end.
func openServerConfig(t *testing.T, cfg server.Config) (*Server, error) {
	t.Helper()
	s := &Server{Config: cfg, Log: testLogger(t)}
	if err := s.Open(context.Background()); err != nil {
		return nil, err
	}
	t.Cleanup(func() { s.Close() })
	return s, nil
}

// rotStores is how many stores exist before a master-key rotation.
const rotStores = 60

// TestMasterKeyRotationUnderLoad rotates the master key with the operator
// flow (new key, restart with new and old key, rotate, status) while
// readers, writers and a store creator run, then retires the old key.
func TestMasterKeyRotationUnderLoad(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey := filepath.Join(dir, "master.key"), filepath.Join(dir, "master-2.key")
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", dir
	s1, err := openServerConfig(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	token := s1.RootToken
	l := newRotLoad(t, "http://"+s1.Addr, token, rotStores)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	r := cliExec(t, "", "", "", "master-key", "new", newKey)
	if r.Code != 0 || !strings.Contains(r.Stdout, "new master key ") {
		t.Fatalf("master-key new: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	newID := strings.Fields(r.Stdout)[3]
	if r = cliExec(t, "", "", "", "master-key", "new", newKey); r.Code == 0 {
		t.Fatal("master-key new overwrote an existing file")
	}

	t.Run("NewKeyAloneBeforeRotation", func(t *testing.T) {
		cfg := cfg
		cfg.MasterKeyFile = newKey
		if _, err := openServerConfig(t, cfg); err == nil || !strings.Contains(err.Error(), "--old-master-key-file") {
			t.Fatalf("start with only the new key before rotation: got %v, want a refusal naming --old-master-key-file", err)
		}
	})

	both := cfg
	both.MasterKeyFile, both.OldMasterKeyFiles = newKey, []string{oldKey}
	s2, err := openServerConfig(t, both)
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + s2.Addr
	l.cl, _ = client.New(addr, token)
	r = cliExec(t, addr, token, "", "master-key", "status")
	if r.Code != 0 || !strings.Contains(r.Stdout, "old, still needed") {
		t.Fatalf("master-key status before rotation: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}

	l.start(3, 3)
	l.waitOps(100)
	// Two rotations race (as two operators, or a rerun, might): each key
	// is rewrapped exactly once, by one of them.
	var rep *coffer.MasterKeyReport
	var repErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		rep, repErr = l.cl.RotateMasterKey(context.Background(), false)
	}()
	r = cliExec(t, addr, token, "", "master-key", "rotate")
	<-done
	if r.Code != 0 || !strings.Contains(r.Stdout, "active master key "+newID) {
		t.Fatalf("master-key rotate: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if repErr != nil {
		t.Fatalf("concurrent RotateMasterKey: %v", repErr)
	}
	t.Logf("rotate: %s; concurrent run: %+v", r.Stdout, *rep)
	var cliRewrapped, cliSettings int
	if _, err := fmt.Sscanf(r.Stdout, "active master key "+newID+": rewrapped %d store keys and %d settings", &cliRewrapped, &cliSettings); err != nil {
		t.Fatalf("parse %q: %v", r.Stdout, err)
	}
	if got := cliRewrapped + rep.Rewrapped; got != rotStores {
		t.Fatalf("store keys rewrapped by both runs: got %d, want %d (each once)", got, rotStores)
	}
	// The pepper is rewrapped once; the auth secret is replaced by each
	// run that did not meet the other replacing it.
	if got := cliSettings + rep.Settings; got < 2 || got > 3 {
		t.Fatalf("settings rewrapped by both runs: got %d, want 2 or 3", got)
	}
	l.waitOps(100)
	l.finish()

	// Everything was rewrapped, including stores created during the run.
	st, err := l.cl.MasterKeyStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Keys) != 1 || st.Keys[0].ID != newID || len(st.Loaded) != 2 || !st.Retired(st.Loaded[1]) {
		t.Fatalf("status after rotation: got %+v, want only %s in use", st, newID)
	}
	r = cliExec(t, addr, token, "", "master-key", "status")
	if r.Code != 0 || !strings.Contains(r.Stdout, "can be retired") {
		t.Fatalf("master-key status after rotation: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	l.checkAll(addr, token)
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}

	// The old key retired: a server with only the new key serves it all.
	onlyNew := cfg
	onlyNew.MasterKeyFile = newKey
	s3, err := openServerConfig(t, onlyNew)
	if err != nil {
		t.Fatalf("start with only the new key after rotation: %v", err)
	}
	l.checkAll("http://"+s3.Addr, token)
	cl3, _ := client.New("http://"+s3.Addr, token)
	if rep, err := cl3.VerifyAudit(context.Background()); err != nil || !rep.OK {
		t.Fatalf("audit verify with only the new key: %+v, %v", rep, err)
	}
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}

	// Only the retired key: refused, clearly.
	onlyOld := cfg
	onlyOld.MasterKeyFile = oldKey
	if _, err := openServerConfig(t, onlyOld); err == nil || !strings.Contains(err.Error(), "master key does not match") {
		t.Fatalf("start with only the retired key: got %v, want a master key mismatch", err)
	}
}

// TestStoreKeyRotationUnderLoad rotates store data keys, with and without
// re-encryption, while readers, writers and a store creator run.
func TestStoreKeyRotationUnderLoad(t *testing.T) {
	dir := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", dir
	s, err := openServerConfig(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, token := "http://"+s.Addr, s.RootToken
	l := newRotLoad(t, addr, token, 6)
	l.start(3, 3)
	l.waitOps(100)
	for round := range 2 {
		for i := range 6 {
			args := []string{"store", "rotate-key", fmt.Sprintf("s%02d", i)}
			if round == 1 {
				args = append(args, "--reencrypt")
			}
			r := cliExec(t, addr, token, "", args...)
			if want := fmt.Sprintf("data key %d", round+2); r.Code != 0 || !strings.Contains(r.Stdout, want) {
				t.Fatalf("coffer %s: %d %q %q; want %q", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr, want)
			}
		}
		l.waitOps(50)
	}
	l.finish()
	l.checkAll(addr, token)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The seed versions, written before any rotation, were re-sealed with
	// data key 3 by the --reencrypt round.
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "coffer.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	op, err := db.Meta(context.Background(), "operator_account")
	if err != nil {
		t.Fatal(err)
	}
	acct := string(op)
	for i := range 6 {
		st, err := db.Store(context.Background(), acct, fmt.Sprintf("s%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		if st.KeyID != 3 {
			t.Fatalf("store s%02d: key %d, want 3", i, st.KeyID)
		}
		_, v, err := db.ReadVersion(context.Background(), acct, st.ID, "seed0", 1)
		if err != nil {
			t.Fatal(err)
		}
		if v.KeyID != 3 {
			t.Fatalf("s%02d/seed0 version 1: sealed with key %d, want 3 after --reencrypt", i, v.KeyID)
		}
	}
}

// TestPostgresMasterKeyRotationUnderLoad rotates the master key of a
// PostgreSQL database shared by two servers: load runs on one, and both
// rotate at once; then a server with only the new key serves everything
// and one with only the old key is refused.
func TestPostgresMasterKeyRotationUnderLoad(t *testing.T) {
	_, url := startPostgres(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	s0 := mustOpenPGServer(t, url, dirA, "")
	token := s0.RootToken
	const stores = 20
	l := newRotLoad(t, "http://"+s0.Addr, token, stores)
	if err := s0.Close(); err != nil {
		t.Fatal(err)
	}
	oldKey, newKey := filepath.Join(dirA, "master.key"), filepath.Join(dirA, "master-2.key")
	if r := cliExec(t, "", "", "", "master-key", "new", newKey); r.Code != 0 {
		t.Fatalf("master-key new: %d %q", r.Code, r.Stderr)
	}
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.Database, cfg.MasterKeyFile, cfg.OldMasterKeyFiles = "127.0.0.1:0", url, newKey, []string{oldKey}
	cfgA, cfgB := cfg, cfg
	cfgA.DataDir, cfgB.DataDir = dirA, dirB
	sA, err := openServerConfig(t, cfgA)
	if err != nil {
		t.Fatal(err)
	}
	sB, err := openServerConfig(t, cfgB)
	if err != nil {
		t.Fatal(err)
	}
	l.cl, _ = client.New("http://"+sA.Addr, token)
	clB, _ := client.New("http://"+sB.Addr, token)

	l.start(2, 2)
	l.waitOps(50)
	var repA, repB *coffer.MasterKeyReport
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { repA, errA = l.cl.RotateMasterKey(context.Background(), false) })
	wg.Go(func() { repB, errB = clB.RotateMasterKey(context.Background(), false) })
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("RotateMasterKey on A: %v; on B: %v", errA, errB)
	}
	if got := repA.Rewrapped + repB.Rewrapped; got != stores {
		t.Fatalf("store keys rewrapped by both servers: got %d (%d+%d), want %d", got, repA.Rewrapped, repB.Rewrapped, stores)
	}
	l.waitOps(50)
	l.finish()
	l.checkAll("http://"+sB.Addr, token)
	if err := sA.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sB.Close(); err != nil {
		t.Fatal(err)
	}

	onlyNew := cfgB
	onlyNew.OldMasterKeyFiles = nil
	sC, err := openServerConfig(t, onlyNew)
	if err != nil {
		t.Fatalf("start with only the new key after rotation: %v", err)
	}
	l.checkAll("http://"+sC.Addr, token)
	clC, _ := client.New("http://"+sC.Addr, token)
	if rep, err := clC.VerifyAudit(context.Background()); err != nil || !rep.OK {
		t.Fatalf("audit verify with only the new key: %+v, %v", rep, err)
	}
	if err := sC.Close(); err != nil {
		t.Fatal(err)
	}
	onlyOld := onlyNew
	onlyOld.MasterKeyFile = oldKey
	if _, err := openServerConfig(t, onlyOld); err == nil || !strings.Contains(err.Error(), "master key does not match") {
		t.Fatalf("start with only the retired key: got %v, want a master key mismatch", err)
	}
}
