package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/internal/pgtest"
	"github.com/coffer-dev/coffer/server"
)

// startPostgres starts a throwaway PostgreSQL cluster for the test
// (pgtest.StartDB) and returns it with the URL of a new, empty database.
func startPostgres(t *testing.T) (*pgtest.Cluster, string) {
	t.Helper()
	return pgtest.StartDB(t)
}

// openPGServer opens an in-process server on the PostgreSQL database url
// with data directory dir and, unless empty, the master key masterKey (as
// COFFER_MASTER_KEY gives it). A server it opens is closed when the test
// ends.
func openPGServer(t *testing.T, url, dir, masterKey string) (*Server, error) {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir, cfg.Database, cfg.MasterKey = "127.0.0.1:0", dir, url, masterKey
	s := &Server{Config: cfg, Log: testLogger(t)}
	if err := s.Open(context.Background()); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return s, nil
}

func mustOpenPGServer(t *testing.T, url, dir, masterKey string) *Server {
	t.Helper()
	s, err := openPGServer(t, url, dir, masterKey)
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	return s
}

// TestPostgresServers runs two servers on one database, each with a data
// directory of its own holding the same master key: what one writes the
// other serves at once, a key revoked on one stops working on the other
// within a second, and a server with another master key, or none, is
// refused.
func TestPostgresServers(t *testing.T) {
	t.Parallel() // on a PostgreSQL cluster of its own
	_, url := startPostgres(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	srvA := mustOpenPGServer(t, url, dirA, "")
	if srvA.RootToken == "" {
		t.Fatal("first server on an empty database: no root token")
	}
	key := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dirA, "master.key")))))
	srvB := mustOpenPGServer(t, url, dirB, key)
	if srvB.RootToken != "" {
		t.Fatal("second server made a root key of its own")
	}
	for _, f := range []string{"root.token", "master.key", "coffer.db"} {
		if _, err := os.Stat(filepath.Join(dirB, f)); !os.IsNotExist(err) {
			t.Errorf("second server's data directory: got %s (%v), want none", f, err)
		}
	}
	a := &rawAPI{t: t, base: "http://" + srvA.Addr, token: srvA.RootToken}
	b := &rawAPI{t: t, base: "http://" + srvB.Addr, token: srvA.RootToken}

	a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})
	a.must(201, "PUT", "/v1/stores/s/secrets/db", map[string]any{"value": "v1"})
	if v, n := value(t, b.must(200, "GET", "/v1/stores/s/secrets/db/value", nil)); v != "v1" || n != 1 {
		t.Fatalf("value on the other server: got %q v%v, want v1 v1", v, n)
	}
	b.must(200, "PUT", "/v1/stores/s/secrets/db", map[string]any{"value": "v2"})
	if v, n := value(t, a.must(200, "GET", "/v1/stores/s/secrets/db/value", nil)); v != "v2" || n != 2 {
		t.Fatalf("value after the other server's write: got %q v%v, want v2 v2", v, n)
	}

	t.Run("RevokedEverywhereWithinASecond", func(t *testing.T) {
		a := &rawAPI{t: t, base: a.base, token: a.token}
		var made struct {
			Key   struct{ ID string }
			Token string
		}
		if err := json.Unmarshal(a.must(201, "POST", "/v1/keys", map[string]any{"name": "ci", "admin": true}).Body, &made); err != nil {
			t.Fatal(err)
		}
		onB := &rawAPI{t: t, base: b.base, token: made.Token}
		onB.must(200, "GET", "/v1/stores", nil) // cached on B from now on
		a.must(204, "DELETE", "/v1/keys/"+made.Key.ID, nil)
		revoked := time.Now()
		// A request sent more than a second after the revocation must be
		// refused, however long it then takes on a loaded machine.
		for {
			sent := time.Now()
			r := onB.do("GET", "/v1/stores", nil)
			if r.Status == 401 {
				t.Logf("revocation effective on the other server after %v", sent.Sub(revoked).Round(time.Millisecond))
				break
			}
			if r.Status != 200 {
				t.Fatalf("revoked key on the other server: got %d %s", r.Status, r.Body)
			}
			if sent.Sub(revoked) > time.Second {
				t.Fatalf("revoked key still works on the other server %v after the revocation", sent.Sub(revoked))
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("ErrWrongMasterKey", func(t *testing.T) {
		dir := t.TempDir()
		_, err := openPGServer(t, url, dir, envelope.EncodeKey(envelope.GenerateKey()))
		if err == nil || !strings.Contains(err.Error(), "master key does not match") {
			t.Fatalf("server with another master key: got %v, want a refusal naming the master key", err)
		}
	})

	t.Run("ErrNoMasterKey", func(t *testing.T) {
		dir := t.TempDir()
		_, err := openPGServer(t, url, dir, "")
		if err == nil || !strings.Contains(err.Error(), "no master key") {
			t.Fatalf("server without the master key: got %v, want a refusal naming the master key", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "master.key")); !os.IsNotExist(err) {
			t.Fatalf("a refused server made a master key: %v", err)
		}
	})

	if m := b.must(200, "GET", "/v1/audit/verify", nil).JSON(t); m["ok"] != true {
		t.Fatalf("audit chain: %v", m)
	}
}

// TestPostgresStartTogether starts three servers at once on an empty
// database with one master key: one of them sets it up, and all serve.
func TestPostgresStartTogether(t *testing.T) {
	t.Parallel() // on a PostgreSQL cluster of its own
	_, url := startPostgres(t)
	key := envelope.EncodeKey(envelope.GenerateKey())
	const n = 3
	srvs := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { srvs[i], errs[i] = openPGServer(t, url, t.TempDir(), key) })
	}
	wg.Wait()
	var token string
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("server %d: %v", i, errs[i])
		}
		if tok := srvs[i].RootToken; tok != "" {
			if token != "" {
				t.Fatal("two servers made a root key")
			}
			token = tok
		}
	}
	if token == "" {
		t.Fatal("no server made a root key")
	}
	for _, s := range srvs {
		(&rawAPI{t: t, base: "http://" + s.Addr, token: token}).must(200, "GET", "/v1/stores", nil)
	}
}

// startPGProcess runs `coffer server` as a child process on the PostgreSQL
// database url (given as COFFER_DATABASE_URL) and waits until it is ready.
func startPGProcess(t *testing.T, dir, url string) (*exec.Cmd, string) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "server", "--addr", addr, "--data", dir)
	cmd.Env = append(os.Environ(), "COFFER_DATABASE_URL="+url)
	cmd.Stderr = &strings.Builder{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, base
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("server did not become ready: %s", cmd.Stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pgWrites runs writers of new versions of a few secrets until stop is
// closed, recording every value sent and every write acknowledged.
type pgWrites struct {
	mu    sync.Mutex
	acked []ackedWrite
	tried map[string]map[string]bool // secret → values ever sent
}

type ackedWrite struct {
	name    string
	version int
	value   string
}

func (p *pgWrites) run(base, token, tag string, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			name := fmt.Sprintf("w%d", w%4) // two writers share each secret
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				val := fmt.Sprintf("%s-w%d-%d", tag, w, i)
				p.mu.Lock()
				if p.tried[name] == nil {
					p.tried[name] = map[string]bool{}
				}
				p.tried[name][val] = true
				p.mu.Unlock()
				req, _ := http.NewRequest("PUT", base+"/v1/stores/s/secrets/"+name, strings.NewReader(`{"value":"`+val+`"}`))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					time.Sleep(10 * time.Millisecond) // the server is down
					continue
				}
				var body struct{ Version int }
				err = jsonDecode(resp, &body)
				if err == nil && (resp.StatusCode == 200 || resp.StatusCode == 201) {
					p.mu.Lock()
					p.acked = append(p.acked, ackedWrite{name, body.Version, val})
					p.mu.Unlock()
				} else if resp.StatusCode == 503 {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	return &wg
}

// check verifies that every acknowledged write is there with its value,
// and that every version that exists holds a value that was sent.
func (p *pgWrites) check(t *testing.T, a *rawAPI) {
	t.Helper()
	if len(p.acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	seen := map[string]bool{}
	for _, w := range p.acked {
		k := w.name + "/" + strconv.Itoa(w.version)
		if seen[k] {
			t.Errorf("version %d of %s acknowledged twice", w.version, w.name)
		}
		seen[k] = true
		r := a.do("GET", fmt.Sprintf("/v1/stores/s/secrets/%s/value?version=%d", w.name, w.version), nil)
		if r.Status != 200 {
			t.Errorf("acknowledged %s v%d: got %d %s", w.name, w.version, r.Status, r.Body)
			continue
		}
		if v, _ := value(t, r); v != w.value {
			t.Errorf("acknowledged %s v%d: got %q, want %q", w.name, w.version, v, w.value)
		}
	}
	ackedNames := map[string]bool{}
	for _, w := range p.acked {
		ackedNames[w.name] = true
	}
	for name, vals := range p.tried {
		r := a.do("GET", "/v1/stores/s/secrets/"+name+"/versions", nil)
		if r.Status == 404 && !ackedNames[name] {
			continue // its create was sent, never acknowledged, and lost with the crash: allowed
		}
		if r.Status != 200 {
			t.Errorf("versions of %s: got %d %s", name, r.Status, r.Body)
			continue
		}
		vs := r.JSON(t)["versions"].([]any)
		for _, v := range vs {
			n := int(v.(map[string]any)["version"].(float64))
			got, _ := value(t, a.must(200, "GET", fmt.Sprintf("/v1/stores/s/secrets/%s/value?version=%d", name, n), nil))
			if !vals[got] {
				t.Errorf("%s v%d holds %q, which was never sent", name, n, got)
			}
		}
	}
}

// TestPostgresDurability runs the real server on PostgreSQL under writes
// and crashes each side in turn: kill -9 of the server, then an immediate
// stop of PostgreSQL (as a crash: no checkpoint, recovery from the WAL).
// Every acknowledged write survives both. While the database is down the
// server stays up, answers 503 with each face's error body and fails
// /readyz; when the database returns it recovers by itself.
func TestPostgresDurability(t *testing.T) {
	t.Parallel() // waits on servers and clusters of its own: runs beside the other waiting tests
	c, url := startPostgres(t)
	dir := t.TempDir()
	cmd, base := startPGProcess(t, dir, url)
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	token := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dir, "root.token")))))
	a := &rawAPI{t: t, base: base, token: token}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})
	writes := &pgWrites{tried: map[string]map[string]bool{}}

	// kill -9 of the server.
	stop := make(chan struct{})
	wg := writes.run(base, token, "kill", stop)
	time.Sleep(time.Duration(300+rand.IntN(300)) * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	close(stop)
	wg.Wait()
	cmd, base = startPGProcess(t, dir, url)
	a.base = base
	killed := len(writes.acked)
	writes.check(t, a)

	// An immediate stop of PostgreSQL under writes.
	stop = make(chan struct{})
	wg = writes.run(base, token, "crash", stop)
	time.Sleep(time.Duration(300+rand.IntN(300)) * time.Millisecond)
	if err := c.Stop("immediate"); err != nil {
		t.Fatalf("stop PostgreSQL: %v", err)
	}
	stopped := time.Now()
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(writes.acked) == killed {
		t.Fatal("no write was acknowledged before PostgreSQL stopped")
	}

	// Down: the server is up and says so in each face's way. The key
	// cache lasts a second; past it, authentication needs the database too.
	for time.Since(stopped) < 1100*time.Millisecond {
		time.Sleep(50 * time.Millisecond)
	}
	if r := a.do("GET", "/readyz", nil); r.Status != 503 {
		t.Errorf("/readyz while PostgreSQL is down: got %d %s, want 503", r.Status, r.Body)
	}
	if r := a.do("GET", "/v1/stores/s/secrets/w0/value", nil); r.Status != 503 || r.Code(t) != "unavailable" {
		t.Errorf("value read while PostgreSQL is down: got %d %s, want 503 unavailable", r.Status, r.Body)
	}
	if r := a.do("PUT", "/v1/stores/s/secrets/w0", map[string]any{"value": "down"}); r.Status != 503 || r.Code(t) != "unavailable" {
		t.Errorf("write while PostgreSQL is down: got %d %s, want 503 unavailable", r.Status, r.Body)
	}
	if r := a.do("GET", "/cloudflare/client/v4/accounts/"+strings.Repeat("0", 32)+"/secrets_store/stores", nil); r.Status != 503 {
		t.Errorf("Cloudflare face while PostgreSQL is down: got %d %s, want 503", r.Status, r.Body)
	} else if e := decodeCF(t, r); e.Success || len(e.Errors) == 0 {
		t.Errorf("Cloudflare face while PostgreSQL is down: got %s, want Cloudflare's error envelope", r.Body)
	}
	if cmd.ProcessState != nil {
		t.Fatalf("the server exited while PostgreSQL was down: %s", cmd.Stderr)
	}

	// Back: the same process recovers by itself.
	if err := c.Restart(); err != nil {
		t.Fatalf("restart PostgreSQL: %v", err)
	}
	back := time.Now()
	for {
		if r := a.do("GET", "/readyz", nil); r.Status == 200 {
			break
		}
		if time.Since(back) > 15*time.Second {
			t.Fatalf("/readyz still failing %v after PostgreSQL returned", time.Since(back))
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := a.do("PUT", "/v1/stores/s/secrets/after", map[string]any{"value": "back"})
	if r.Status != 201 {
		t.Fatalf("first write after PostgreSQL returned: got %d %s, want 201", r.Status, r.Body)
	}
	t.Logf("ready %v after PostgreSQL returned; %d writes acknowledged across a kill -9 and a PostgreSQL crash",
		time.Since(back).Round(time.Millisecond), len(writes.acked))
	writes.check(t, a)
	if m := a.must(200, "GET", "/v1/audit/verify", nil).JSON(t); m["ok"] != true {
		t.Errorf("audit chain after the crashes: %v", m)
	}
}

// hit sends one request and returns its status and the version in its
// body; it is safe to call from any goroutine.
func hit(method, url, token, body string, hdr ...string) (status, version int, err error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	var b struct{ Version int }
	jsonDecode(resp, &b)
	return resp.StatusCode, b.Version, nil
}

// TestPostgresHammer runs three servers on one database and has them race
// through the native API: version numbers never repeat or skip, a
// compare-and-set has exactly one winner, a name is created once, and the
// audit log is one chain that `coffer audit verify` accepts.
func TestPostgresHammer(t *testing.T) {
	t.Parallel() // on a PostgreSQL cluster of its own
	_, url := startPostgres(t)
	key := envelope.EncodeKey(envelope.GenerateKey())
	var bases []string
	var token string
	for range 3 {
		s := mustOpenPGServer(t, url, t.TempDir(), key)
		if s.RootToken != "" {
			token = s.RootToken
		}
		bases = append(bases, "http://"+s.Addr)
	}
	(&rawAPI{t: t, base: bases[0], token: token}).must(201, "POST", "/v1/stores", map[string]any{"name": "s"})
	secret := func(base, name string) string { return base + "/v1/stores/s/secrets/" + name }

	t.Run("VersionsNeverRepeat", func(t *testing.T) {
		const writers, writes = 4, 20
		var mu sync.Mutex
		got := map[string][]int{}
		var wg sync.WaitGroup
		for _, base := range bases {
			for w := range writers {
				wg.Go(func() {
					name := fmt.Sprint("v", w%2)
					for i := range writes {
						status, v, err := hit("PUT", secret(base, name), token, fmt.Sprintf(`{"value":"%d"}`, i))
						if err != nil || status != 200 && status != 201 {
							t.Errorf("PUT %s: %d %v", name, status, err)
							return
						}
						mu.Lock()
						got[name] = append(got[name], v)
						mu.Unlock()
						if status, _, err := hit("GET", secret(base, name)+"/value", token, ""); err != nil || status != 200 {
							t.Errorf("GET %s: %d %v", name, status, err)
							return
						}
					}
				})
			}
		}
		wg.Wait()
		for name, vs := range got {
			seen := map[int]bool{}
			for _, v := range vs {
				if seen[v] || v < 1 || v > len(vs) {
					t.Fatalf("%s: version %d given twice or out of 1..%d", name, v, len(vs))
				}
				seen[v] = true
			}
		}
	})

	t.Run("CompareAndSetOneWinner", func(t *testing.T) {
		status, v, err := hit("PUT", secret(bases[0], "cas"), token, `{"value":"0"}`)
		if err != nil || status != 201 {
			t.Fatalf("create: %d %v", status, err)
		}
		for round := range 10 {
			statuses := make([]int, len(bases))
			var wg sync.WaitGroup
			for i, base := range bases {
				wg.Go(func() {
					statuses[i], _, _ = hit("PUT", secret(base, "cas"), token, fmt.Sprintf(`{"value":"%d-%d"}`, round, i),
						"If-Match", fmt.Sprintf(`"%d"`, v))
				})
			}
			wg.Wait()
			won := 0
			for _, s := range statuses {
				switch s {
				case 200:
					won++
				case 412:
				default:
					t.Fatalf("round %d: got statuses %v, want one 200 and 412s", round, statuses)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: got statuses %v, want exactly one 200", round, statuses)
			}
			v++
		}
	})

	t.Run("NameCreatedOnce", func(t *testing.T) {
		for round := range 10 {
			statuses := make([]int, len(bases))
			var wg sync.WaitGroup
			for i, base := range bases {
				wg.Go(func() {
					statuses[i], _, _ = hit("PUT", secret(base, fmt.Sprint("new", round)), token, `{"value":"x"}`, "If-None-Match", "*")
				})
			}
			wg.Wait()
			created := 0
			for _, s := range statuses {
				switch s {
				case 201:
					created++
				case 412:
				default:
					t.Fatalf("round %d: got statuses %v, want one 201 and 412s", round, statuses)
				}
			}
			if created != 1 {
				t.Fatalf("round %d: got statuses %v, want exactly one 201", round, statuses)
			}
		}
	})

	for _, base := range bases {
		if r := cliExec(t, base, token, "", "audit", "verify"); r.Code != 0 {
			t.Fatalf("coffer audit verify on %s: exit %d: %s%s", base, r.Code, r.Stdout, r.Stderr)
		}
	}
}
