package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/coffer-dev/coffer/server"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestShedFormats holds the one in-flight slot of a server with a request
// whose body never ends, and checks that every face then refuses requests
// at once with 503, Retry-After: 1 and its own error format, that the
// operational endpoints still answer, that the refusals are counted, and
// that requests pass again once the slot is free.
func TestShedFormats(t *testing.T) {
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	cfg.MaxInflight, cfg.QueueTimeout = 1, 0
	s := &Server{Config: cfg, Log: testLogger(t)}
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "http://" + s.Addr
	a := &rawAPI{t: t, base: base, token: s.RootToken}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})

	// A PUT whose body is still coming holds the slot while its handler
	// reads the body.
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"value":"v"}`
	fmt.Fprintf(conn, "PUT /v1/stores/s/secrets/held HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		s.RootToken, len(body), body[:5])
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r := a.do("GET", "/v1/stores", nil)
		if r.Status == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server never shed: last answer %d %s", r.Status, r.Body)
		}
	}

	check := func(name, path string, ok func(m map[string]any) bool) {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			r := a.do("GET", path, nil)
			m := r.JSON(t)
			if r.Status != 503 || r.Header.Get("Retry-After") != "1" || !ok(m) {
				t.Fatalf("got %d Retry-After=%q %s, want 503 with Retry-After: 1 in the face's format", r.Status, r.Header.Get("Retry-After"), r.Body)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refused after %v, want at once", d)
			}
		})
	}
	check("Native", "/v1/stores", func(m map[string]any) bool {
		e, _ := m["error"].(map[string]any)
		return e["code"] == "unavailable"
	})
	check("Cloudflare", "/cloudflare/client/v4/accounts/x/secrets_store/stores", func(m map[string]any) bool {
		errs, _ := m["errors"].([]any)
		if m["success"] != false || len(errs) != 1 {
			return false
		}
		e, _ := errs[0].(map[string]any)
		return e["code"] == float64(1009)
	})
	check("TrueFoundry", "/truefoundry/api/svc/v1/secret-groups", func(m map[string]any) bool {
		return m["statusCode"] == float64(503) && m["code"] == "SERVICE_UNAVAILABLE"
	})
	for _, path := range []string{"/chutes/secrets/", "/secrets/", "/secrets", "/api_keys/x", "/ping", "/registry/auth/"} {
		check("Chutes"+path, path, func(m map[string]any) bool {
			d, _ := m["detail"].(string)
			return d != ""
		})
	}
	check("ByteNite", "/bytenite/v1/auth/secrets", func(m map[string]any) bool {
		e, _ := m["error"].(map[string]any)
		return m["ok"] == false && e["code"] == float64(503)
	})
	t.Run("Operational", func(t *testing.T) {
		a.must(200, "GET", "/healthz", nil)
		a.must(200, "GET", "/readyz", nil)
		r := a.must(200, "GET", "/metrics", nil)
		for _, face := range []string{"native", "cloudflare", "truefoundry", "chutes", "bytenite"} {
			if !strings.Contains(string(r.Body), `coffer_http_shed_total{face="`+face+`"}`) {
				t.Errorf("/metrics has no coffer_http_shed_total for %s", face)
			}
		}
		if !strings.Contains(string(r.Body), "coffer_http_inflight_requests 1") {
			t.Errorf("/metrics does not show the one request in flight")
		}
	})

	io.WriteString(conn, body[5:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 && resp.StatusCode != 200 {
		t.Fatalf("the held request: got %d, want it to succeed", resp.StatusCode)
	}
	a.must(200, "GET", "/v1/stores", nil)
}

// TestOverload runs the real server binary with a small in-flight limit,
// measures the rate of audited value reads it sustains, then offers four
// times that rate open-loop (requests sent on a schedule, whether or not
// earlier ones were answered) and checks that the server sheds the excess
// with 503 and Retry-After, fails no admitted request, answers the
// admitted ones within a bound, keeps its memory bounded, and serves
// normally again once the load drops.
func TestOverload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server binary and loads it for several seconds")
	}
	const (
		inflight     = 2
		queueTimeout = 100 * time.Millisecond
		maxRSS       = 200 << 20
	)
	dir := t.TempDir()
	cmd, base := startServerProcess(t, dir, "--max-inflight", strconv.Itoa(inflight), "--queue-timeout", queueTimeout.String())

	token := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dir, "root.token")))))
	a := &rawAPI{t: t, base: base, token: token}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})
	a.must(201, "PUT", "/v1/stores/s/secrets/x", map[string]any{"value": "overload-test-value"})

	gen := buildLoadgen(t)
	url := base + "/v1/stores/s/secrets/x/value"
	run := func(args ...string) loadSummary {
		t.Helper()
		out, err := exec.Command(gen, append([]string{"-url", url, "-token", token}, args...)...).Output()
		if err != nil {
			t.Fatalf("loadgen %v: %v", args, err)
		}
		var s loadSummary
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatalf("loadgen output %q: %v", out, err)
		}
		if s.BadShed+s.Other+s.Errors > 0 {
			t.Errorf("loadgen %v: %d bad shed answers, %d other statuses, %d errors; first: %s", args, s.BadShed, s.Other, s.Errors, s.Sample)
		}
		return s
	}
	// Unloaded latency, one request at a time; then the sustainable rate,
	// with as many closed-loop clients as the limit admits.
	unloaded := run("-c", "1", "-d", "1s")
	closed := run("-c", strconv.Itoa(inflight), "-d", "2s")

	if unloaded.Shed+closed.Shed > 0 || t.Failed() {
		t.Fatalf("requests were shed or failed below the limit: %+v %+v", unloaded, closed)
	}
	sustainable := float64(closed.OK) / closed.Seconds
	unloadedP99 := time.Duration(unloaded.P99 * float64(time.Second))

	// Overload: four times that rate, open loop, for a few seconds.
	offered := 4 * sustainable
	over := run("-rate", strconv.FormatFloat(offered, 'f', 0, 64), "-d", "4s", "-healthz", base+"/healthz")
	rss := vmHWM(t, cmd.Process.Pid)
	p50, p99 := time.Duration(over.P50*float64(time.Second)), time.Duration(over.P99*float64(time.Second))
	// The bounds on admitted latency: the longest wait in the queue plus a
	// few times the unloaded tail for the median, and for p99 more slack
	// for a shared 2-core machine, where the generator competes with the
	// server for the CPUs (and a busy CI machine stalls both for hundreds
	// of milliseconds). Without the limit (--max-inflight 0) the same load
	// measured a p50 of 685ms and a p99 of 2.3s here, against 4-8ms and
	// 0.5-0.9s with it. The p99 bound adds the longest stall of the
	// generator itself (its schedule lag): requests in flight then are
	// timed across the stall. So the median is what tells a shedding
	// server from one that lets every request queue.
	// When the generator itself stalled (other test packages run beside
	// this one in go test ./...), its worst stall is added to the median's
	// bound too: requests timed across a stall are not the server's.
	lag := time.Duration(over.MaxLag * float64(time.Second))
	medianBound := queueTimeout + 5*unloadedP99 + lag
	bound := queueTimeout + 10*unloadedP99 + time.Second + lag
	t.Logf("unloaded p99 %v; sustainable %.0f req/s at %d in flight (closed-loop p99 %v); offered %.0f req/s for 4s: sent %d (schedule lag at worst %v), admitted %d (%.0f req/s), shed %d (%.1f%%); admitted p50 %v (bound %v) p99 %v (bound %v); /healthz %v; server VmHWM %.1f MiB",
		unloadedP99, sustainable, inflight, time.Duration(closed.P99*float64(time.Second)), offered, over.Sent, time.Duration(over.MaxLag*float64(time.Second)),
		over.OK, float64(over.OK)/over.Seconds, over.Shed, 100*float64(over.Shed)/float64(max(1, over.Sent)), p50, medianBound, p99, bound,
		time.Duration(over.Healthz*float64(time.Second)), float64(rss)/(1<<20))
	switch {
	case over.Shed == 0:
		t.Errorf("nothing was shed at %.0f req/s, four times the sustainable rate", offered)
	case over.OK == 0:
		t.Errorf("nothing was admitted")
	case p50 > medianBound || p99 > bound:
		t.Errorf("admitted p50 %v p99 %v, want at most %v and %v", p50, p99, medianBound, bound)
	}
	if over.Healthz < 0 || over.Healthz > 2 {
		t.Errorf("/healthz during the overload: took %.2fs (-1: failed), want an answer within 2s", over.Healthz)
	}
	if rss > maxRSS {
		t.Errorf("server peak RSS %d MiB, want at most %d MiB", rss>>20, maxRSS>>20)
	}
	if got := shedMetric(t, a); got != float64(over.Shed) {
		t.Errorf("coffer_http_shed_total{face=\"native\"}: got %v, want the %d 503s answered", got, over.Shed)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	read := func() (int, []byte, error) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, body, err
	}
	// Recovery: once the load drops, requests pass again within seconds.
	deadline := time.Now().Add(5 * time.Second)
	for ok := 0; ok < 20; {
		st, body, err := read()
		if err == nil && st == 200 {
			ok++
			continue
		}
		ok = 0
		if time.Now().After(deadline) {
			t.Fatalf("no recovery 5s after the load dropped: %d %s %v", st, body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loadSummary is testdata/loadgen's output.
type loadSummary struct {
	Sent, OK, Shed, BadShed, Other, Errors int
	Sample                                 string
	Seconds, P50, P99, MaxLag, Healthz     float64
}

// buildLoadgen builds testdata/loadgen without the race detector.
func buildLoadgen(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "loadgen")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/loadgen").CombinedOutput(); err != nil {
		t.Fatalf("go build loadgen: %v\n%s", err, out)
	}
	return bin
}

// startServerProcess runs `coffer server` with extra flags as a child
// process on dir, waits until it is ready, and stops it when the test ends.
func startServerProcess(t *testing.T, dir string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"server", "--addr", addr, "--data", dir}, args...)...)
	stderr := &lockedBuilder{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become ready: %s", stderr)
		}
	}
}

// lockedBuilder is a strings.Builder that a child process's output may
// fill while a test reads it.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// vmHWM returns the peak resident set size of process pid in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the server's memory use: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM: %v", err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}

// shedMetric returns coffer_http_shed_total{face="native"} from /metrics.
func shedMetric(t *testing.T, a *rawAPI) float64 {
	t.Helper()
	r := a.must(200, "GET", "/metrics", nil)
	for line := range strings.Lines(string(r.Body)) {
		if v, ok := strings.CutPrefix(line, `coffer_http_shed_total{face="native"} `); ok {
			x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("coffer_http_shed_total: %v", err)
			}
			return x
		}
	}
	return 0
}
