// Package bench is 'coffer bench': it measures a coffer server against a
// bare net/http server in the same run, on the same machine, and prints one
// table row per scenario (see the command's usage in cmd/coffer).
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coffer-dev/coffer/internal/loadgen"
)

// ScenarioKeys are the scenarios that Config.Scenarios may name.
var ScenarioKeys = []string{"read", "create", "version", "list", "cloudflare", "truefoundry", "chutes", "bytenite", "vault", "login"}

// Config is what a run measures, and how.
type Config struct {
	Duration  time.Duration
	Warmup    time.Duration
	Scenarios map[string]bool // keys of ScenarioKeys
	Keep      bool
	DebugAddr string // the server's --debug-addr (pprof), for profiling a run
	Database  string // the server's --database: an empty PostgreSQL database; "" for SQLite
	Servers   int    // servers on the database (more than 1 only with Database)
}

// Run starts the two servers as children of the binary exe (its commands
// server and bench-bare), then measures them and prints the table to out,
// progress and problems to log. It returns ErrFailed when more than 1% of
// the requests of a scenario failed.
func Run(ctx context.Context, cfg Config, exe string, out, log io.Writer) error {
	dir, err := os.MkdirTemp("", "coffer-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if cfg.Keep {
			fmt.Fprintf(out, "kept %s (data/, server.log, bare.log)\n", dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(log, "coffer bench: %v\n", err)
		}
	}()
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		return err
	}

	printBenchHeader(out, exe, cfg)

	bareAddr, err := benchFreePort()
	if err != nil {
		return err
	}
	bare, err := startBenchChild(dir, "bare", exe, "bench-bare", "--addr", bareAddr)
	if err != nil {
		return err
	}
	defer bare.stop(log)

	srvAddr, err := benchFreePort()
	if err != nil {
		return err
	}
	srvArgs := []string{"server", "--addr", srvAddr, "--data", dataDir}
	if cfg.DebugAddr != "" {
		srvArgs = append(srvArgs, "--debug-addr", cfg.DebugAddr)
	}
	if cfg.Database != "" {
		srvArgs = append(srvArgs, "--database", cfg.Database)
	}
	srv, err := startBenchChild(dir, "server", exe, srvArgs...)
	if err != nil {
		return err
	}
	defer srv.stop(log)

	deadline := time.Now().Add(20 * time.Second)
	if err := benchWaitReady(ctx, bare, "http://"+bareAddr+"/", deadline); err != nil {
		return err
	}
	if err := benchWaitReady(ctx, srv, "http://"+srvAddr+"/readyz", deadline); err != nil {
		return err
	}
	token, err := benchReadToken(ctx, srv, filepath.Join(dataDir, "root.token"), deadline)
	if err != nil {
		return err
	}

	b := &bench{
		cfg:    cfg,
		out:    out,
		log:    log,
		coffer: &benchTarget{Name: "server", Addr: srvAddr, Token: token, PID: srv.cmd.Process.Pid, Alive: srv.alive},
		bare:   &benchTarget{Name: "bare", Addr: bareAddr, PID: bare.cmd.Process.Pid, Alive: bare.alive},
	}
	// More servers on the same database, with the first one's master key.
	for i := 2; i <= cfg.Servers; i++ {
		addr, err := benchFreePort()
		if err != nil {
			return err
		}
		name := "server" + strconv.Itoa(i)
		data := filepath.Join(dir, "data"+strconv.Itoa(i))
		c, err := startBenchChild(dir, name, exe, "server", "--addr", addr, "--data", data, "--database", cfg.Database,
			"--master-key-file", filepath.Join(dataDir, "master.key"))
		if err != nil {
			return err
		}
		defer c.stop(log)
		if err := benchWaitReady(ctx, c, "http://"+addr+"/readyz", time.Now().Add(20*time.Second)); err != nil {
			return err
		}
		b.more = append(b.more, &benchTarget{Name: name, Addr: addr, Token: token, PID: c.cmd.Process.Pid, Alive: c.alive})
	}
	return b.run(ctx)
}

func printBenchHeader(w io.Writer, exe string, cfg Config) {
	fmt.Fprintf(w, "coffer bench  %s\n", time.Now().Format(time.RFC3339))
	fmt.Fprintf(w, "%s %s/%s, GOMAXPROCS=%d, CPUs=%d", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU())
	if m := benchCPUModel(); m != "" {
		fmt.Fprintf(w, ", %s", m)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "binary %s%s\n", exe, benchRevision())
	if cfg.Database != "" {
		fmt.Fprintln(w, "storage: PostgreSQL (--database)")
	} else {
		fmt.Fprintln(w, "storage: SQLite")
	}
	fmt.Fprintf(w, "each scenario: %v warmup, %v measured; load generator and servers share the CPUs\n\n", cfg.Warmup, cfg.Duration)
}

// benchCPUModel returns the CPU's model name on Linux, or "".
func benchCPUModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// benchRevision returns " (rev X[, modified])" from the build info, or "".
func benchRevision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev == "" {
		return ""
	}
	return fmt.Sprintf(" (rev %.12s%s)", rev, modified)
}

// benchFreePort returns a loopback address whose port was free a moment ago.
func benchFreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// benchChild is a server process started by bench.
type benchChild struct {
	name string
	log  string // path of its combined stdout and stderr
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited; err is then set
	err  error
}

// startBenchChild starts exe with args, its output going to DIR/NAME.log.
func startBenchChild(dir, name, exe string, args ...string) (*benchChild, error) {
	c := &benchChild{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(c.log)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own descriptor
	c.cmd = exec.Command(exe, args...)
	c.cmd.Stdout, c.cmd.Stderr = f, f
	c.cmd.Env = benchChildEnv(os.Environ())
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// benchChildEnv returns env without COFFER_* variables.
func benchChildEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "COFFER_") {
			out = append(out, kv)
		}
	}
	return out
}

// alive returns an error, with the end of the child's log, if it has exited.
func (c *benchChild) alive() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited (%v); end of %s:\n%s", c.name, c.err, c.log, benchLogTail(c.log, 20))
	default:
		return nil
	}
}

// stop ends the child with SIGTERM, or SIGKILL after 10 seconds, and
// reports on w if it did not then exit cleanly. A child that had exited
// already is left to alive to report.
func (c *benchChild) stop(w io.Writer) {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		fmt.Fprintf(w, "coffer bench: %s did not stop within 10s of SIGTERM: killing it\n", c.name)
		c.cmd.Process.Kill()
		<-c.done
		return
	}
	if c.err != nil {
		fmt.Fprintf(w, "coffer bench: %s exited with %v; end of %s:\n%s\n", c.name, c.err, c.log, benchLogTail(c.log, 20))
	}
}

// benchLogTail returns the last n lines of the file at path.
func benchLogTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// benchWaitReady polls url until it answers 200, the child exits, or the deadline
// passes.
func benchWaitReady(ctx context.Context, c *benchChild, url string, deadline time.Time) error {
	client := &http.Client{Timeout: time.Second}
	var last error
	for {
		if err := c.alive(); err != nil {
			return err
		}
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within 20s: GET %s: %v; end of %s:\n%s", c.name, url, last, c.log, benchLogTail(c.log, 20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// benchReadToken waits for the server's admin token file and returns its content.
func benchReadToken(ctx context.Context, c *benchChild, path string, deadline time.Time) (string, error) {
	for {
		b, err := os.ReadFile(path)
		if tok := strings.TrimSpace(string(b)); err == nil && tok != "" {
			return tok, nil
		}
		if err := c.alive(); err != nil {
			return "", err
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no admin token in %s within 20s of start (%v)", path, err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// benchTarget is a running server to measure.
type benchTarget struct {
	Name  string
	Addr  string       // host:port
	Token string       // sent as a bearer token if not empty
	PID   int          // whose /proc/PID/status is read
	Alive func() error // reports whether the process still runs; may be nil

	header http.Header // shared by every request: only read, never changed
}

// init prepares t's header; call it before t's first request.
func (t *benchTarget) init() {
	t.header = http.Header{"Content-Type": {"application/json"}}
	if t.Token != "" {
		t.header.Set("Authorization", "Bearer "+t.Token)
	}
}

// request returns a request to path (which may hold a query) on t.
func (t *benchTarget) request(method, path string, body []byte) *http.Request {
	u := &url.URL{Scheme: "http", Host: t.Addr, Path: path}
	if p, q, ok := strings.Cut(path, "?"); ok {
		u.Path, u.RawQuery = p, q
	}
	req := &http.Request{Method: method, URL: u, Host: t.Addr, Header: t.header}
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req
}

// benchValue is the 64-byte value of every secret bench writes.
const benchValue = "coffer-bench-value-0123456789abcdef0123456789abcdef0123456789abc"

var benchPutBody = []byte(`{"value":"` + benchValue + `"}`)

// benchBareBody is the bare server's reply: 64 bytes of JSON.
var benchBareBody = []byte(`{"name":"read-me","version":1,"value":"0123456789abcdef0123456"}`)

// bench measures one coffer server and one bare server.
type bench struct {
	cfg    Config
	out    io.Writer // the report
	log    io.Writer // progress
	coffer *benchTarget
	more   []*benchTarget // further servers on the same PostgreSQL database (--servers)
	bare   *benchTarget

	client  *http.Client // for setup
	readLen int          // length of the value read's reply
	listLen int          // length of the 1,000-secret list's reply
	cfPath  string       // the Cloudflare face's listing of store list1k
	cfLen   int          // length of its reply
	tfPath  string       // the TrueFoundry face's read of secret read-me
	tfLen   int          // length of its reply
	chPath  string       // the Chutes face's read of a secret
	chLen   int          // length of its reply
	chSigs  *benchSigs   // signed headers for the Chutes face, one per request
	vaLen   int          // length of the Vault face's read of secret read-me

	approleBody []byte // the AppRole login's body (login.go)
	jwtBody     []byte // the JWT login's body (login_jwt.go)

	rows   map[string]benchRow // by scenario name
	peakKB int64               // highest VmHWM of the coffer server seen
	failed []string            // scenarios with more than 1% errors
}

type benchRow struct {
	Result loadgen.Result
	RSSKB  int64 // VmRSS after the scenario; -1 if unknown
	HWMKB  int64 // VmHWM after the scenario; -1 if unknown
	// CPUPerReq is the server's CPU time (user and system) per request
	// while replies were counted; 0 if unknown.
	CPUPerReq time.Duration
	// HostBusy is the share of the whole machine's CPU time that was busy
	// (everything: servers, load generator, PostgreSQL, other work) while
	// replies were counted; 0 if unknown.
	HostBusy float64
	VsBare   float64
	HasBare  bool
}

// benchScenario is one row of the table.
type benchScenario struct {
	Name        string
	Key         string // the --scenarios key; "" for the always-run baseline
	AlsoKey     string // another key that runs the row: one compared with it (vault: value read c=64)
	Target      *benchTarget
	Concurrency int
	Expect      int
	Request     func(worker, i int) *http.Request
	Check       func(resp *http.Response, body []byte) error
	BareRow     string // for value reads: the row to compare against
	// Servers are the processes whose CPU time the row counts, when more
	// than Target's: the servers that share a multi-server row's load.
	Servers []*benchTarget
}

// cpu returns the CPU time used so far by the scenario's servers, or -1.
func (s *benchScenario) cpu() time.Duration {
	if len(s.Servers) == 0 {
		return benchProcCPU(s.Target.PID)
	}
	var sum time.Duration
	for _, t := range s.Servers {
		c := benchProcCPU(t.PID)
		if c < 0 {
			return -1
		}
		sum += c
	}
	return sum
}

// run sets up the server, runs the scenarios, and prints the table and the
// targets.
func (b *bench) run(ctx context.Context) error {
	b.rows = map[string]benchRow{}
	b.coffer.init()
	b.bare.init()
	for _, t := range b.more {
		t.init()
	}
	tr := loadgen.NewTransport(32, 30*time.Second)
	defer tr.CloseIdleConnections()
	b.client = &http.Client{Transport: tr, Timeout: time.Minute}

	start := time.Now()
	if err := b.setup(ctx); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	what := `store "bench" with secrets "read-me" and "hot"`
	if b.cfg.Scenarios["list"] {
		what += `, store "list1k" with 1,000 secrets`
	}
	fmt.Fprintf(b.out, "setup: %s, in %v\n\n", what, time.Since(start).Round(time.Millisecond))

	table := b.scenarios()
	order := benchRunOrder(table)
	for i, s := range order {
		fmt.Fprintf(b.log, "[%d/%d] %-31s ", i+1, len(order), s.Name)
		if err := b.runScenario(ctx, s); err != nil {
			fmt.Fprintln(b.log)
			return err
		}
		fmt.Fprintf(b.log, "%s/s\n", benchFmtRate(b.rows[s.Name].Result.RPS))
	}
	b.printTable(table)
	b.report()
	if len(b.failed) > 0 {
		fmt.Fprintf(b.out, "\nFAILED: more than 1%% of requests failed in: %s\n", strings.Join(b.failed, "; "))
		return ErrFailed
	}
	return nil
}

// ErrFailed is Run's error when more than 1% of the requests of a
// scenario failed; the table says which.
var ErrFailed = errors.New("requests failed")

// setup creates the stores and secrets the scenarios use.
func (b *bench) setup(ctx context.Context) error {
	c := b.coffer
	if _, err := b.call(ctx, c, "POST", "/v1/stores", []byte(`{"name":"bench"}`), http.StatusCreated); err != nil {
		return err
	}
	var readMe struct {
		ID string `json:"id"`
	}
	for _, name := range []string{"read-me", "hot"} {
		body, err := b.call(ctx, c, "PUT", "/v1/stores/bench/secrets/"+name, benchPutBody, http.StatusCreated)
		if err != nil {
			return err
		}
		if name == "read-me" && b.cfg.Scenarios["truefoundry"] {
			if err := json.Unmarshal(body, &readMe); err != nil || readMe.ID == "" {
				return fmt.Errorf("setup: secret reply without an id: %s", body)
			}
		}
	}
	body, err := b.call(ctx, c, "GET", "/v1/stores/bench/secrets/read-me/value", nil, http.StatusOK)
	if err != nil {
		return err
	}
	if err := benchCheckValue(body); err != nil {
		return err
	}
	b.readLen = len(body)

	if b.cfg.Scenarios["truefoundry"] {
		b.tfPath = "/truefoundry/api/svc/v1/secrets/" + readMe.ID
		if body, err = b.call(ctx, c, "GET", b.tfPath, nil, http.StatusOK); err != nil {
			return err
		}
		if err := benchCheckTrueFoundry(body); err != nil {
			return err
		}
		b.tfLen = len(body)
	}

	if b.cfg.Scenarios["chutes"] {
		if err := b.setupChutes(ctx); err != nil {
			return err
		}
	}

	if b.cfg.Scenarios["vault"] {
		// The same secret through the Vault face: KV v2 mount "bench".
		if body, err = b.send(b.vaultRead().WithContext(ctx), http.StatusOK); err != nil {
			return err
		}
		if err := benchCheckVault(body); err != nil {
			return err
		}
		b.vaLen = len(body)
	}

	if b.cfg.Scenarios["login"] {
		if err := b.setupAppRole(ctx); err != nil {
			return err
		}
		if err := b.setupJWT(ctx); err != nil {
			return err
		}
	}

	if !b.cfg.Scenarios["list"] && !b.cfg.Scenarios["cloudflare"] {
		return nil
	}
	created, err := b.call(ctx, c, "POST", "/v1/stores", []byte(`{"name":"list1k"}`), http.StatusCreated)
	if err != nil {
		return err
	}
	if err := b.createMany(ctx, c, "/v1/stores/list1k/secrets/s", 1000, 32); err != nil {
		return err
	}
	body, err = b.call(ctx, c, "GET", "/v1/stores/list1k/secrets?limit=1000", nil, http.StatusOK)
	if err != nil {
		return err
	}
	if err := benchCheckList(body, 1000); err != nil {
		return err
	}
	b.listLen = len(body)

	// The same store through the Cloudflare face, a page of 100 as its
	// clients ask for.
	var st struct {
		ID        string `json:"id"`
		AccountID string `json:"account_id"`
	}
	if err := json.Unmarshal(created, &st); err != nil {
		return fmt.Errorf("setup: store reply: %w", err)
	}
	b.cfPath = "/cloudflare/client/v4/accounts/" + st.AccountID + "/secrets_store/stores/" + st.ID + "/secrets?per_page=100"
	if body, err = b.call(ctx, c, "GET", b.cfPath, nil, http.StatusOK); err != nil {
		return err
	}
	if err := benchCheckCloudflare(body, 100); err != nil {
		return err
	}
	b.cfLen = len(body)
	return nil
}

// benchCheckCloudflare checks a Cloudflare list envelope of n results.
func benchCheckCloudflare(body []byte, n int) error {
	var env struct {
		Success bool              `json:"success"`
		Result  []json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("cloudflare reply: %w", err)
	}
	if !env.Success || len(env.Result) != n {
		return fmt.Errorf("cloudflare reply: success=%v with %d results, want true with %d", env.Success, len(env.Result), n)
	}
	return nil
}

// benchCheckTrueFoundry checks the TrueFoundry face's reply to a read of
// secret read-me: its value and its one version.
func benchCheckTrueFoundry(body []byte) error {
	var r struct {
		Data struct {
			Name           string            `json:"name"`
			Value          string            `json:"value"`
			SecretVersions []json.RawMessage `json:"secretVersions"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("truefoundry reply: %w", err)
	}
	if d := r.Data; d.Name != "read-me" || d.Value != benchValue || len(d.SecretVersions) != 1 {
		return fmt.Errorf("truefoundry reply: got name %q, value %q, %d versions; want read-me, %q, 1", d.Name, d.Value, len(d.SecretVersions), benchValue)
	}
	return nil
}

// benchJSONHeader is the header of requests that carry no credential.
var benchJSONHeader = http.Header{"Content-Type": {"application/json"}}

// benchCheckByteNite checks a ByteNite access-token reply.
func benchCheckByteNite(body []byte) error {
	var r struct {
		Token     string `json:"token"`
		ExpiresIn string `json:"expiresIn"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("bytenite reply: %w", err)
	}
	if !strings.HasPrefix(r.Token, "cat_") || r.ExpiresIn != "3600" {
		return fmt.Errorf("bytenite reply: got a token of %d bytes expiring in %q, want a cat_ token and 3600", len(r.Token), r.ExpiresIn)
	}
	return nil
}

// createMany creates n secrets named prefix0000 to prefix(n-1), c at a time.
func (b *bench) createMany(ctx context.Context, t *benchTarget, prefix string, n, c int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range c {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				path := fmt.Sprintf("%s%04d", prefix, i)
				if _, err := b.call(ctx, t, "PUT", path, benchPutBody, http.StatusCreated); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// call sends one request and returns the reply's body if its status is want.
func (b *bench) call(ctx context.Context, t *benchTarget, method, path string, body []byte, want int) ([]byte, error) {
	return b.send(t.request(method, path, body).WithContext(ctx), want)
}

// send sends req and returns the reply's body if its status is want.
func (b *bench) send(req *http.Request, want int) ([]byte, error) {
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, resp.StatusCode, want, bytes.TrimSpace(rb))
	}
	return rb, nil
}

// benchCheckValue checks a value read's reply.
func benchCheckValue(body []byte) error {
	var v struct {
		Name    string `json:"name"`
		Version int    `json:"version"`
		Value   string `json:"value"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("value reply: %w", err)
	}
	if v.Name != "read-me" || v.Version != 1 || v.Value != benchValue {
		return fmt.Errorf("value reply: got name %q version %d value %q, want %q 1 %q", v.Name, v.Version, v.Value, "read-me", benchValue)
	}
	return nil
}

// benchCheckList checks that a list reply holds n secrets and no next page.
func benchCheckList(body []byte, n int) error {
	var l struct {
		Secrets    []json.RawMessage `json:"secrets"`
		NextCursor string            `json:"next_cursor"`
	}
	if err := json.Unmarshal(body, &l); err != nil {
		return fmt.Errorf("list reply: %w", err)
	}
	if len(l.Secrets) != n || l.NextCursor != "" {
		return fmt.Errorf("list reply: got %d secrets and next_cursor %q, want %d and none", len(l.Secrets), l.NextCursor, n)
	}
	return nil
}

// benchSameLenOr returns a Check that accepts replies of length n at once (the
// reply that setup verified), and verifies any other reply with full.
// Decoding a 1,000-secret list on every reply would cost the load generator
// more than the server.
func benchSameLenOr(n int, full func([]byte) error) func(*http.Response, []byte) error {
	return func(_ *http.Response, body []byte) error {
		if len(body) == n {
			return nil
		}
		return full(body)
	}
}

// scenarios returns the rows to run, in table order.
func (b *bench) scenarios() []benchScenario {
	var list []benchScenario
	bareGet := b.bare.request("GET", "/", nil)
	for _, c := range []int{1, 16, 64} {
		list = append(list, benchScenario{
			Name:        fmt.Sprintf("baseline bare c=%d", c),
			Target:      b.bare,
			Concurrency: c,
			Request:     func(int, int) *http.Request { return bareGet },
			Check: func(_ *http.Response, body []byte) error {
				if len(body) != len(benchBareBody) {
					return fmt.Errorf("got %d bytes, want %d", len(body), len(benchBareBody))
				}
				return nil
			},
		})
	}
	cf := b.coffer
	read := cf.request("GET", "/v1/stores/bench/secrets/read-me/value", nil)
	for _, c := range []int{1, 16, 64} {
		s := benchScenario{
			Name:        fmt.Sprintf("value read c=%d", c),
			Key:         "read",
			Target:      cf,
			Concurrency: c,
			Request:     func(int, int) *http.Request { return read },
			Check:       benchSameLenOr(b.readLen, benchCheckValue),
			BareRow:     fmt.Sprintf("baseline bare c=%d", c),
		}
		if c == 64 {
			s.AlsoKey = "vault"
		}
		list = append(list, s)
	}
	// The Vault face's read of the same secret, run right after the native
	// one (both follow baseline bare c=64) and compared with it.
	vaultRead := b.vaultRead()
	list = append(list, benchScenario{
		Name:        "vault value read c=64",
		Key:         "vault",
		Target:      cf,
		Concurrency: 64,
		Request:     func(int, int) *http.Request { return vaultRead },
		Check:       benchSameLenOr(b.vaLen, benchCheckVault),
		BareRow:     "baseline bare c=64",
	})
	list = append(list,
		benchScenario{
			Name:        "create secret c=64",
			Key:         "create",
			Target:      cf,
			Concurrency: 64,
			Expect:      http.StatusCreated,
			Request: func(w, i int) *http.Request {
				return cf.request("PUT", "/v1/stores/bench/secrets/new-"+strconv.Itoa(w)+"-"+strconv.Itoa(i), benchPutBody)
			},
		},
		benchScenario{
			Name:        "new version of one secret c=64",
			Key:         "version",
			Target:      cf,
			Concurrency: 64,
			Request: func(int, int) *http.Request {
				return cf.request("PUT", "/v1/stores/bench/secrets/hot", benchPutBody)
			},
		},
	)
	if n := 1 + len(b.more); n > 1 {
		all := append([]*benchTarget{cf}, b.more...)
		reads := make([]*http.Request, n)
		for i, t := range all {
			reads[i] = t.request("GET", "/v1/stores/bench/secrets/read-me/value", nil)
		}
		list = append(list,
			benchScenario{
				Name:        fmt.Sprintf("value read c=64, %d servers", n),
				Key:         "read",
				Target:      cf,
				Concurrency: 64,
				Request:     func(w, _ int) *http.Request { return reads[w%n] },
				Check:       benchSameLenOr(b.readLen, benchCheckValue),
				BareRow:     "baseline bare c=64",
				Servers:     all,
			},
			benchScenario{
				Name:        fmt.Sprintf("create secret c=64, %d servers", n),
				Key:         "create",
				Target:      cf,
				Concurrency: 64,
				Expect:      http.StatusCreated,
				Request: func(w, i int) *http.Request {
					return all[w%n].request("PUT", "/v1/stores/bench/secrets/spread-"+strconv.Itoa(w)+"-"+strconv.Itoa(i), benchPutBody)
				},
				Servers: all,
			})
	}
	list = append(list, benchScenario{
		Name:        "approle login c=16",
		Key:         "login",
		Target:      cf,
		Concurrency: 16,
		Request:     func(int, int) *http.Request { return b.appRoleLogin() },
		Check:       benchCheckLogin,
	})
	list = append(list, benchScenario{
		Name:        "jwt login c=16",
		Key:         "login",
		Target:      cf,
		Concurrency: 16,
		Request:     func(int, int) *http.Request { return b.jwtLogin() },
		Check:       benchCheckLogin,
	})
	listReq := cf.request("GET", "/v1/stores/list1k/secrets?limit=1000", nil)
	list = append(list, benchScenario{
		Name:        "list 1,000 secrets c=16",
		Key:         "list",
		Target:      cf,
		Concurrency: 16,
		Request:     func(int, int) *http.Request { return listReq },
		Check:       benchSameLenOr(b.listLen, func(body []byte) error { return benchCheckList(body, 1000) }),
	})

	cfReq := cf.request("GET", b.cfPath, nil)
	list = append(list, benchScenario{
		Name:        "cloudflare list 100 c=16",
		Key:         "cloudflare",
		Target:      cf,
		Concurrency: 16,
		Request:     func(int, int) *http.Request { return cfReq },
		Check:       benchSameLenOr(b.cfLen, func(body []byte) error { return benchCheckCloudflare(body, 100) }),
	})

	tfReq := cf.request("GET", b.tfPath, nil)
	list = append(list, benchScenario{
		Name:        "truefoundry value read c=64",
		Key:         "truefoundry",
		Target:      cf,
		Concurrency: 64,
		Request:     func(int, int) *http.Request { return tfReq },
		Check:       benchSameLenOr(b.tfLen, benchCheckTrueFoundry),
		BareRow:     "baseline bare c=64",
	})

	chKey := cf.request("GET", b.chPath, nil)
	chCheck := benchSameLenOr(b.chLen, benchCheckChutes)
	list = append(list,
		benchScenario{
			Name:        "chutes read, API key c=64",
			Key:         "chutes",
			Target:      cf,
			Concurrency: 64,
			Request:     func(int, int) *http.Request { return chKey },
			Check:       chCheck,
			BareRow:     "baseline bare c=64",
		},
		benchScenario{
			Name:        "chutes read, signed c=64",
			Key:         "chutes",
			Target:      cf,
			Concurrency: 64,
			Request: func(int, int) *http.Request {
				req := cf.request("GET", b.chPath, nil)
				req.Header = b.chSigs.next()
				return req
			},
			Check:   chCheck,
			BareRow: "baseline bare c=64",
		})

	exchange := []byte(`{"apiKey":"` + cf.Token + `"}`)
	list = append(list, benchScenario{
		Name:        "bytenite token exchange c=16",
		Key:         "bytenite",
		Target:      cf,
		Concurrency: 16,
		Request: func(int, int) *http.Request {
			req := cf.request("POST", "/bytenite/v1/auth/access_token", exchange)
			req.Header = benchJSONHeader
			return req
		},
		Check: func(_ *http.Response, body []byte) error { return benchCheckByteNite(body) },
	})

	var run []benchScenario
	for _, s := range list {
		if s.Key == "" || b.cfg.Scenarios[s.Key] || b.cfg.Scenarios[s.AlsoKey] {
			run = append(run, s)
		}
	}
	return run
}

// benchRunOrder returns the order in which to run the scenarios of a table:
// each value read right after the baseline it is compared with, so that the
// two see the same machine as nearly as can be.
func benchRunOrder(table []benchScenario) []benchScenario {
	var order []benchScenario
	for _, s := range table {
		if s.Key != "" {
			continue
		}
		order = append(order, s)
		for _, t := range table {
			if t.BareRow == s.Name {
				order = append(order, t)
			}
		}
	}
	for _, s := range table {
		if s.Key != "" && s.BareRow == "" {
			order = append(order, s)
		}
	}
	return order
}

// runScenario runs s and records its row.
func (b *bench) runScenario(ctx context.Context, s benchScenario) error {
	// The server's CPU time is sampled when counting starts and again when
	// the run ends: CPU per request holds steadier than throughput on a
	// machine that other work shares.
	type cpuSample struct {
		cpu       time.Duration
		wall      time.Time
		busy, all int64 // the host's CPU ticks
	}
	first := make(chan cpuSample, 1)
	timer := time.AfterFunc(b.cfg.Warmup, func() {
		busy, all := benchHostCPU()
		first <- cpuSample{s.cpu(), time.Now(), busy, all}
	})
	res, err := loadgen.Run(ctx, loadgen.Config{
		Concurrency: s.Concurrency,
		Duration:    b.cfg.Duration,
		Warmup:      b.cfg.Warmup,
		Request:     s.Request,
		Expect:      s.Expect,
		Check:       s.Check,
	})
	if err != nil {
		return err
	}
	if s.Target.Alive != nil {
		if err := s.Target.Alive(); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	row := benchRow{Result: res, RSSKB: -1, HWMKB: -1}
	if timer.Stop() {
		first <- cpuSample{cpu: -1, wall: time.Now()}
	}
	if c0 := <-first; c0.cpu >= 0 && res.RPS > 0 {
		if c1 := s.cpu(); c1 >= 0 {
			row.CPUPerReq = time.Duration(float64(c1-c0.cpu) / (res.RPS * time.Since(c0.wall).Seconds()))
		}
		if busy, all := benchHostCPU(); all > c0.all {
			row.HostBusy = float64(busy-c0.busy) / float64(all-c0.all)
		}
	}
	row.RSSKB, row.HWMKB = benchProcMem(s.Target.PID)
	if s.Target == b.coffer && row.HWMKB > b.peakKB {
		b.peakKB = row.HWMKB
	}
	if bare, ok := b.rows[s.BareRow]; ok && bare.Result.RPS > 0 {
		row.VsBare, row.HasBare = res.RPS/bare.Result.RPS, true
	}
	b.rows[s.Name] = row
	if res.Requests == 0 || res.Errors*100 > res.Requests {
		b.failed = append(b.failed, s.Name)
	}
	return nil
}

// printTable prints the rows of table that ran, in its order.
func (b *bench) printTable(table []benchScenario) {
	fmt.Fprintf(b.out, "%-31s %11s %9s %9s %7s %9s %5s %11s %11s %8s\n", "scenario", "requests/s", "p50", "p99", "errors", "CPU/req", "host", "server RSS", "peak RSS", "vs bare")
	for _, s := range table {
		row, ok := b.rows[s.Name]
		if !ok {
			continue
		}
		res := row.Result
		vs := ""
		if row.HasBare {
			vs = fmt.Sprintf("%.2fx", row.VsBare)
		}
		cpu := "-"
		if row.CPUPerReq > 0 {
			cpu = benchFmtLatency(row.CPUPerReq)
		}
		host := "-"
		if row.HostBusy > 0 {
			host = fmt.Sprintf("%.0f%%", 100*row.HostBusy)
		}
		line := fmt.Sprintf("%-31s %11s %9s %9s %7d %9s %5s %11s %11s %8s",
			s.Name, benchFmtRate(res.RPS), benchFmtLatency(res.P50), benchFmtLatency(res.P99), res.Errors,
			cpu, host, benchFmtKB(row.RSSKB), benchFmtKB(row.HWMKB), vs)
		fmt.Fprintln(b.out, strings.TrimRight(line, " "))
		if res.FirstError != "" {
			fmt.Fprintf(b.out, "    first error: %s\n", res.FirstError)
		}
	}
}

// report prints the peak memory and the targets.
func (b *bench) report() {
	if _, hwm := benchProcMem(b.coffer.PID); hwm > b.peakKB {
		b.peakKB = hwm
	}
	fmt.Fprintf(b.out, "\nserver peak RSS (VmHWM): %s\n\ntargets:\n", benchFmtKB(b.peakKB))
	target := func(name, row string, got func(benchRow) (float64, string), ok func(float64) bool) {
		r, ran := b.rows[row]
		if !ran {
			fmt.Fprintf(b.out, "  %-4s  %-38s  not run\n", "-", name)
			return
		}
		v, shown := got(r)
		verdict := "FAIL"
		if ok(v) {
			verdict = "PASS"
		}
		fmt.Fprintf(b.out, "  %-4s  %-38s  %s\n", verdict, name, shown)
	}
	rps := func(r benchRow) (float64, string) { return r.Result.RPS, benchFmtRate(r.Result.RPS) + "/s" }
	target("value read c=64 >= 0.40x bare c=64", "value read c=64",
		func(r benchRow) (float64, string) {
			if !r.HasBare {
				return 0, "no baseline"
			}
			return r.VsBare, fmt.Sprintf("%.2fx", r.VsBare)
		},
		func(v float64) bool { return v >= 0.40 })
	if key, ok := b.rows["chutes read, API key c=64"]; ok && key.Result.RPS > 0 {
		target("chutes signed read >= 0.50x API key", "chutes read, signed c=64",
			func(r benchRow) (float64, string) {
				v := r.Result.RPS / key.Result.RPS
				return v, fmt.Sprintf("%.2fx", v)
			},
			func(v float64) bool { return v >= 0.50 })
		if sig, ok := b.rows["chutes read, signed c=64"]; ok && key.CPUPerReq > 0 && sig.CPUPerReq > 0 {
			fmt.Fprintf(b.out, "  %-4s  %-38s  %.2fx (%s vs %s)\n", "info", "chutes CPU/req, API key / signed",
				float64(key.CPUPerReq)/float64(sig.CPUPerReq), benchFmtLatency(key.CPUPerReq), benchFmtLatency(sig.CPUPerReq))
		}
	}
	if native, ok := b.rows["value read c=64"]; ok && native.Result.RPS > 0 {
		target("vault read c=64 >= 0.90x value read", "vault value read c=64",
			func(r benchRow) (float64, string) {
				v := r.Result.RPS / native.Result.RPS
				return v, fmt.Sprintf("%.2fx", v)
			},
			func(v float64) bool { return v >= 0.90 })
	}
	target("create secret c=64 >= 5,000/s", "create secret c=64", rps, func(v float64) bool { return v >= 5000 })
	if n := 1 + len(b.more); n > 1 {
		if one, ok := b.rows["value read c=64"]; ok && one.Result.RPS > 0 {
			target(fmt.Sprintf("value read c=64, %d servers >= 1.6x one", n), fmt.Sprintf("value read c=64, %d servers", n),
				func(r benchRow) (float64, string) {
					v := r.Result.RPS / one.Result.RPS
					return v, fmt.Sprintf("%.2fx", v)
				},
				func(v float64) bool { return v >= 1.6 })
		}
	}
	target("list 1,000 secrets c=16 >= 3,000/s", "list 1,000 secrets c=16", rps, func(v float64) bool { return v >= 3000 })
	if b.peakKB <= 0 {
		fmt.Fprintf(b.out, "  %-4s  %-38s  unknown (no /proc/%d/status)\n", "-", "server peak RSS < 100 MiB", b.coffer.PID)
		return
	}
	verdict := "FAIL"
	if b.peakKB < 100*1024 {
		verdict = "PASS"
	}
	fmt.Fprintf(b.out, "  %-4s  %-38s  %s\n", verdict, "server peak RSS < 100 MiB", benchFmtKB(b.peakKB))
}

// benchProcCPU returns the CPU time, user and system, that process pid has
// used, or -1 where unknown (not Linux, or the process is gone). /proc
// counts it in clock ticks, which Linux fixes at 100 a second for user
// space.
func benchProcCPU(pid int) time.Duration {
	buf, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name, field 2, may hold spaces: count fields after it.
	_, rest, ok := strings.Cut(string(buf), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(utime+stime) * (time.Second / 100)
}

// benchHostCPU returns the machine's busy and total CPU ticks so far, from
// the first line of /proc/stat (busy is all but idle and iowait), or zeros
// where unknown.
func benchHostCPU() (busy, all int64) {
	buf, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(buf), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0
		}
		if i >= 8 { // guest and guest_nice are counted in user and nice already
			break
		}
		all += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, all
}

// benchProcMem returns VmRSS and VmHWM of process pid in KiB, or -1 each where
// unknown (not Linux, or the process is gone).
func benchProcMem(pid int) (rss, hwm int64) {
	rss, hwm = -1, -1
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return rss, hwm
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			continue
		}
		if k == "VmRSS" {
			rss = n
		} else {
			hwm = n
		}
	}
	return rss, hwm
}

// benchFmtRate formats a rate as a whole number with thousands separators.
func benchFmtRate(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// benchFmtLatency formats d with three significant digits or so.
func benchFmtLatency(d time.Duration) string {
	us := float64(d) / float64(time.Microsecond)
	switch {
	case d == 0:
		return "-"
	case us < 10:
		return fmt.Sprintf("%.1fµs", us)
	case us < 1000:
		return fmt.Sprintf("%.0fµs", us)
	case us < 10000:
		return fmt.Sprintf("%.2fms", us/1000)
	case us < 100000:
		return fmt.Sprintf("%.1fms", us/1000)
	case us < 10000000:
		return fmt.Sprintf("%.0fms", us/1000)
	default:
		return fmt.Sprintf("%.1fs", us/1e6)
	}
}

func benchFmtKB(kb int64) string {
	if kb < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
}

// ServeBare serves the bare handler, the baseline of every
// measurement, on ln until ctx ends.
func ServeBare(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(benchBareBody)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return nil
}
