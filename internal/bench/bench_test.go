package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/loadgen"
	"github.com/coffer-dev/coffer/internal/pgtest"
)

// MustServeBenchBare serves the bench-bare handler on a free port until the test
// ends, and returns its address.
func MustServeBenchBare(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeBare(ctx, ln) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("ServeBare: %v", err)
		}
	})
	return ln.Addr().String()
}

// TestBenchLoadgenBare runs the load generator briefly against the bare handler:
// a check of the plumbing, not a measurement.
func TestBenchLoadgenBare(t *testing.T) {
	addr := MustServeBenchBare(t)
	bare := &benchTarget{Addr: addr}
	bare.init()
	req := bare.request("GET", "/", nil)
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		Concurrency: 4,
		Duration:    100 * time.Millisecond,
		Warmup:      20 * time.Millisecond,
		Request:     func(int, int) *http.Request { return req },
		Check: func(_ *http.Response, body []byte) error {
			if !bytes.Equal(body, benchBareBody) {
				return fmt.Errorf("body %q, want %q", body, benchBareBody)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 {
		t.Fatalf("got %d requests, %d errors (%s), want some and none", res.Requests, res.Errors, res.FirstError)
	}
}

func TestBenchFormat(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{benchFmtRate(0), "0"},
		{benchFmtRate(999.4), "999"},
		{benchFmtRate(1000), "1,000"},
		{benchFmtRate(67123.6), "67,124"},
		{benchFmtRate(1234567), "1,234,567"},
		{benchFmtLatency(0), "-"},
		{benchFmtLatency(5500 * time.Nanosecond), "5.5µs"},
		{benchFmtLatency(56 * time.Microsecond), "56µs"},
		{benchFmtLatency(1234 * time.Microsecond), "1.23ms"},
		{benchFmtLatency(23456 * time.Microsecond), "23.5ms"},
		{benchFmtLatency(234 * time.Millisecond), "234ms"},
		{benchFmtLatency(12 * time.Second), "12.0s"},
		{benchFmtKB(-1), "n/a"},
		{benchFmtKB(24 * 1024), "24.0 MiB"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// benchFakeAPI is just enough of the native API for bench to run against.
type benchFakeAPI struct {
	token  string
	mu     sync.Mutex
	stores map[string]map[string]int // store -> secret -> latest version
}

func (f *benchFakeAPI) handler() http.Handler {
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("POST /v1/stores", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Name string }
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.stores[req.Name]; ok {
			reply(w, http.StatusConflict, map[string]any{"error": map[string]string{"code": "conflict"}})
			return
		}
		f.stores[req.Name] = map[string]int{}
		reply(w, http.StatusCreated, map[string]string{"name": req.Name, "id": req.Name, "account_id": "acct"})
	})
	mux.HandleFunc("PUT /v1/stores/{store}/secrets/{name}", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Value string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Value) != 64 {
			reply(w, http.StatusBadRequest, nil)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		s, ok := f.stores[r.PathValue("store")]
		if !ok {
			reply(w, http.StatusNotFound, nil)
			return
		}
		name := r.PathValue("name")
		s[name]++
		status := http.StatusOK
		if s[name] == 1 {
			status = http.StatusCreated
		}
		reply(w, status, map[string]any{"name": name, "version": s[name]})
	})
	mux.HandleFunc("GET /v1/stores/{store}/secrets/{name}/value", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		v := f.stores[r.PathValue("store")][r.PathValue("name")]
		f.mu.Unlock()
		if v == 0 {
			reply(w, http.StatusNotFound, nil)
			return
		}
		reply(w, http.StatusOK, map[string]any{"name": r.PathValue("name"), "version": v, "value": benchValue})
	})
	mux.HandleFunc("GET /v1/stores/{store}/secrets", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		var names []string
		for n := range f.stores[r.PathValue("store")] {
			names = append(names, n)
		}
		f.mu.Unlock()
		slices.Sort(names)
		secrets := make([]map[string]string, 0, len(names))
		for _, n := range names {
			secrets = append(secrets, map[string]string{"id": n, "name": n})
		}
		reply(w, http.StatusOK, map[string]any{"secrets": secrets})
	})
	mux.HandleFunc("GET /cloudflare/client/v4/accounts/acct/secrets_store/stores/{store}/secrets", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		var names []string
		for n := range f.stores[r.PathValue("store")] {
			names = append(names, n)
		}
		f.mu.Unlock()
		slices.Sort(names)
		result := []map[string]string{}
		for _, n := range names[:min(100, len(names))] {
			result = append(result, map[string]string{"id": n, "name": n})
		}
		reply(w, http.StatusOK, map[string]any{"success": true, "result": result})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			reply(w, http.StatusUnauthorized, nil)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// TestBenchFake runs every scenario, very briefly, against a fake API in
// this process: it checks the setup, the table and the targets, not speed.
func TestBenchFake(t *testing.T) {
	api := &benchFakeAPI{token: "t0ken", stores: map[string]map[string]int{}}
	srv := httptest.NewServer(api.handler())
	defer srv.Close()

	var out bytes.Buffer
	b := &bench{
		cfg: Config{
			// Long enough that every scenario completes requests on a
			// loaded machine under -race (100ms once saw none finish).
			Duration:  400 * time.Millisecond,
			Warmup:    50 * time.Millisecond,
			Scenarios: map[string]bool{"read": true, "create": true, "version": true, "list": true},
		},
		out:    &out,
		log:    io.Discard,
		coffer: &benchTarget{Name: "fake", Addr: srv.Listener.Addr().String(), Token: api.token, PID: os.Getpid()},
		bare:   &benchTarget{Name: "bare", Addr: MustServeBenchBare(t), PID: os.Getpid()},
	}
	if err := b.run(context.Background()); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())
	checkBenchOutput(t, out.String(), []string{
		"baseline bare c=1 ", "baseline bare c=16 ", "baseline bare c=64 ",
		"value read c=1 ", "value read c=16 ", "value read c=64 ",
		"create secret c=64 ", "new version of one secret c=64 ", "list 1,000 secrets c=16 ",
	})
	for _, want := range []string{"value read c=64 >= 0.40x bare c=64", "create secret c=64 >= 5,000/s", "list 1,000 secrets c=16 >= 3,000/s", "server peak RSS < 100 MiB"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks target %q", want)
		}
	}
	if got := len(api.stores["list1k"]); got != 1000 {
		t.Errorf("list1k holds %d secrets, want 1000", got)
	}
	if api.stores["bench"]["hot"] < 2 {
		t.Errorf("hot has %d versions, want new ones", api.stores["bench"]["hot"])
	}

	t.Run("ErrUnauthorized", func(t *testing.T) {
		var out bytes.Buffer
		bad := *b
		bad.out = &out
		bad.coffer = &benchTarget{Addr: b.coffer.Addr, Token: "wrong"}
		err := bad.run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "status 401") {
			t.Errorf("err = %v, want a setup error with status 401", err)
		}
	})
}

// checkBenchOutput checks that out has a table row, with no errors, for each
// of rows (names followed by a space) and one PASS or FAIL for each target.
func checkBenchOutput(t *testing.T, out string, rows []string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	for _, row := range rows {
		i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, row) })
		if i < 0 {
			t.Errorf("no row %q in output", row)
			continue
		}
		f := strings.Fields(strings.TrimPrefix(lines[i], row))
		// requests/s p50 p99 errors CPU/req host RSS MiB peak MiB [ratio]
		if len(f) < 10 {
			t.Errorf("row %q has fields %q, want at least 10", row, f)
			continue
		}
		if f[0] == "0" || f[3] != "0" {
			t.Errorf("row %q: requests/s %s, errors %s: want some and none", row, f[0], f[3])
		}
		if f[4] == "-" || f[4] == "0s" {
			t.Errorf("row %q: CPU/req %s, want a time", row, f[4])
		}
		if !strings.HasSuffix(f[5], "%") {
			t.Errorf("row %q: host %s, want a percentage", row, f[5])
		}
		if strings.HasPrefix(row, "value read") && (len(f) != 11 || !strings.HasSuffix(f[10], "x")) {
			t.Errorf("row %q lacks the ratio to bare: %q", row, f)
		}
	}
	if n := strings.Count(out, "  PASS  ") + strings.Count(out, "  FAIL  "); n < 2 {
		t.Errorf("%d targets with PASS or FAIL, want at least 2", n)
	}
}

// mustBuildBenchBinary builds cmd/coffer into a temporary directory and
// returns the binary's path.
func mustBuildBenchBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "coffer")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/coffer-dev/coffer/cmd/coffer").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBenchBinary runs a very short `bin bench` (300ms per scenario after
// 100ms of warmup) with args and TMPDIR=tmp, and returns its output.
func runBenchBinary(t *testing.T, bin, tmp string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"bench", "--duration", "300ms", "--warmup", "100ms"}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("coffer bench: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("output:\n%s", stdout.String())
	return stdout.String()
}

// TestBenchBinary runs the built binary the way people do.
func TestBenchBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := mustBuildBenchBinary(t)

	// BareChild starts bench-bare as a child process the way bench does, and
	// stops it.
	t.Run("BareChild", func(t *testing.T) {
		dir := t.TempDir()
		addr, err := benchFreePort()
		if err != nil {
			t.Fatal(err)
		}
		c, err := startBenchChild(dir, "bare", bin, "bench-bare", "--addr", addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := benchWaitReady(context.Background(), c, "http://"+addr+"/", time.Now().Add(20*time.Second)); err != nil {
			c.stop(io.Discard)
			t.Fatal(err)
		}
		if rss, hwm := benchProcMem(c.cmd.Process.Pid); rss == 0 || hwm < rss {
			t.Errorf("VmRSS, VmHWM = %d, %d KiB: want 0 < rss <= hwm, or -1 off Linux", rss, hwm)
		}
		var stderr bytes.Buffer
		c.stop(&stderr)
		if stderr.Len() != 0 {
			t.Errorf("stop: %s", stderr.String())
		}
		if err := c.alive(); err == nil {
			t.Error("alive after stop")
		}
		if _, err := os.Stat(filepath.Join(dir, "bare.log")); err != nil {
			t.Error(err)
		}
	})

	// Smoke runs a very short bench against the real server: it checks that
	// every part works together, not how fast they are.
	t.Run("Smoke", func(t *testing.T) {
		tmp := t.TempDir()
		out := runBenchBinary(t, bin, tmp, "--scenarios", "read")
		checkBenchOutput(t, out, []string{
			"baseline bare c=1 ", "baseline bare c=16 ", "baseline bare c=64 ",
			"value read c=1 ", "value read c=16 ", "value read c=64 ",
		})
		for _, want := range []string{runtime.Version(), "GOMAXPROCS=", "CPUs=", "server peak RSS (VmHWM): ", "PASS  server peak RSS < 100 MiB"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "create secret") || strings.HasPrefix(line, "list 1,000") {
				t.Errorf("row %q ran, though not asked for", line)
			}
			if strings.Contains(line, "create secret c=64 >= 5,000/s") && !strings.HasSuffix(line, "not run") {
				t.Errorf("target line %q, want it not run", line)
			}
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("bench left %s in TMPDIR", left[0].Name())
		}
	})

	// PostgreSQL runs a very short bench on two servers sharing a
	// throwaway PostgreSQL database.
	t.Run("PostgreSQL", func(t *testing.T) {
		_, url := startPostgres(t)
		out := runBenchBinary(t, bin, t.TempDir(), "--scenarios", "read,create", "--database", url, "--servers", "2")
		checkBenchOutput(t, out, []string{"value read c=64 ", "create secret c=64 ", "value read c=64, 2 servers ", "create secret c=64, 2 servers "})
		for _, want := range []string{"storage: PostgreSQL", "value read c=64, 2 servers >= 1.6x one"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q", want)
			}
		}
	})
}

// startPostgres starts a throwaway PostgreSQL cluster for the test
// (pgtest.StartDB) and returns it with the URL of a new, empty database.
func startPostgres(t *testing.T) (*pgtest.Cluster, string) {
	t.Helper()
	return pgtest.StartDB(t)
}
