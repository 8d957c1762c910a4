package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
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
)

// buildBinary builds cmd/coffer once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "coffer-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "coffer")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProcess runs `coffer server` as a child process on dir and waits
// until it is ready.
func startProcess(t *testing.T, dir string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"server", "--addr", addr, "--data", dir}, args...)...)
	cmd.Stderr = &strings.Builder{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, base
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("server did not become ready: %s", cmd.Stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKill9 runs writers against the real server process (creates, new
// versions and compare-and-set, see writeLoad), kills it with SIGKILL at a
// random moment, restarts it on the same data directory, and checks after
// every restart that every acknowledged write is there with its value and
// version, that every version that exists is whole (no gap in the numbers,
// every value one that was sent for it), and that 'coffer audit verify'
// passes. COFFER_KILLS sets the number of kills (default 5);
// TestSoakKill9 runs many more.
func TestKill9(t *testing.T) {
	t.Parallel() // waits on servers and clusters of its own: runs beside the other waiting tests
	if testing.Short() {
		t.Skip("builds and kills the server binary")
	}
	kills := 5
	if n, err := strconv.Atoi(os.Getenv("COFFER_KILLS")); err == nil && n > 0 {
		kills = n
	}
	killLoop(t, kills)
}

// TestSoakKill9 is the soak tier of TestKill9: 60 kills, or COFFER_KILLS.
// Run it with `make soak` (COFFER_SOAK=1 go test -run Soak ./cmd/coffer/).
func TestSoakKill9(t *testing.T) {
	if os.Getenv("COFFER_SOAK") == "" {
		t.Skip("soak tier: set COFFER_SOAK=1 (make soak)")
	}
	kills := 60
	if n, err := strconv.Atoi(os.Getenv("COFFER_KILLS")); err == nil && n > 0 {
		kills = n
	}
	killLoop(t, kills)
}

func killLoop(t *testing.T, kills int, serverArgs ...string) {
	dir := t.TempDir()
	cmd, base := startProcess(t, dir, serverArgs...)
	defer func() { cmd.Process.Signal(syscall.SIGKILL); cmd.Wait() }()
	token := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dir, "root.token")))))
	a := &rawAPI{t: t, base: base, token: token}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})

	load := newWriteLoad(token, "s")
	verified := 0
	for round := 1; round <= kills; round++ {
		load.SetPhase(int32(round))
		stop := make(chan struct{})
		wait := load.Run(t, base, 8, stop)
		time.Sleep(time.Duration(50+rand.IntN(450)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		close(stop)
		wait()
		if t.Failed() {
			t.FailNow()
		}
		cmd, base = startProcess(t, dir, serverArgs...)
		a.base = base

		// The writes of this round, and the shape of every secret.
		var thisRound []loadAck
		for _, w := range load.Acked() {
			if w.Phase == int32(round) {
				thisRound = append(thisRound, w)
			}
		}
		st := load.readState(t, a, int32(round))
		checkAcked(t, st, thisRound)
		verified += len(thisRound)
		if r := cliExec(t, base, token, "", "audit", "verify"); r.Code != 0 {
			t.Fatalf("coffer audit verify after kill %d: exit %d\n%s%s", round, r.Code, r.Stdout, r.Stderr)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	// At the end, every write acknowledged in any round is still there.
	acked := load.Acked()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	st := load.readState(t, a, 0)
	checkAcked(t, st, acked)
	versions := 0
	for _, vs := range st {
		versions += len(vs)
	}
	t.Logf("%d kills: %d writes acknowledged (%d verified right after their kill, all again at the end); %d secrets with %d versions in all (%d unacknowledged writes found applied); audit chain verified after every restart",
		kills, len(acked), verified, len(st), versions, versions-len(acked))
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// TestGracefulShutdown sends SIGTERM while writes are in flight: the server
// exits 0, and every write it acknowledged is there after a restart.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server binary")
	}
	dir := t.TempDir()
	cmd, base := startProcess(t, dir)
	token := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dir, "root.token")))))
	a := &rawAPI{t: t, base: base, token: token}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})

	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				name := fmt.Sprintf("g%d-%d", w, i)
				req, _ := http.NewRequest("PUT", base+"/v1/stores/s/secrets/"+name, strings.NewReader(`{"value":"v"}`))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 201 {
					return
				}
				mu.Lock()
				acked[name] = true
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("server exit after SIGTERM: %v\n%s", err, cmd.Stderr)
	}
	wg.Wait()
	if log := fmt.Sprint(cmd.Stderr); !strings.Contains(log, `"msg":"stopped"`) {
		t.Errorf("no clean stop in the log:\n%s", log)
	}
	cmd, a.base = startProcess(t, dir)
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	for name := range acked {
		a.must(200, "GET", "/v1/stores/s/secrets/"+name+"/value", nil)
	}
	if len(acked) == 0 {
		t.Fatal("no write acknowledged before SIGTERM")
	}
	t.Logf("%d acknowledged writes survived SIGTERM", len(acked))
}
