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
func startProcess(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "server", "--addr", addr, "--data", dir)
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

// TestKill9 runs writers against the real server process, kills it with
// SIGKILL at a random moment, restarts it, and checks that every
// acknowledged write is there with its value and that nothing else is half
// visible. COFFER_KILLS sets the number of rounds (default 3).
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the server binary")
	}
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("COFFER_KILLS")); err == nil && n > 0 {
		rounds = n
	}
	dir := t.TempDir()
	cmd, base := startProcess(t, dir)
	token := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dir, "root.token")))))
	a := &rawAPI{t: t, base: base, token: token}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})

	type ack struct {
		name    string
		version int
		value   string
	}
	var mu sync.Mutex
	var acked []ack
	tried := map[string]map[string]bool{} // secret → values ever sent

	for round := 0; round < rounds; round++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Timeout: 5 * time.Second}
				name := fmt.Sprintf("w%d", w%4) // two writers share each secret
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					val := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					mu.Lock()
					if tried[name] == nil {
						tried[name] = map[string]bool{}
					}
					tried[name][val] = true
					mu.Unlock()
					req, _ := http.NewRequest("PUT", base+"/v1/stores/s/secrets/"+name, strings.NewReader(`{"value":"`+val+`"}`))
					req.Header.Set("Authorization", "Bearer "+token)
					resp, err := client.Do(req)
					if err != nil {
						return // the server died
					}
					var body struct{ Version int }
					err = jsonDecode(resp, &body)
					if err == nil && (resp.StatusCode == 200 || resp.StatusCode == 201) {
						mu.Lock()
						acked = append(acked, ack{name, body.Version, val})
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		close(stop)
		wg.Wait()
		cmd, base = startProcess(t, dir)
		a.base = base
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()

	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
	seen := map[string]bool{}
	for _, w := range acked {
		if seen[w.name+"/"+strconv.Itoa(w.version)] {
			t.Errorf("version %d of %s acknowledged twice", w.version, w.name)
		}
		seen[w.name+"/"+strconv.Itoa(w.version)] = true
		r := a.do("GET", fmt.Sprintf("/v1/stores/s/secrets/%s/value?version=%d", w.name, w.version), nil)
		if r.Status != 200 {
			t.Errorf("acknowledged %s v%d: got %d %s", w.name, w.version, r.Status, r.Body)
			continue
		}
		if v, _ := value(t, r); v != w.value {
			t.Errorf("acknowledged %s v%d: got %q, want %q", w.name, w.version, v, w.value)
		}
	}
	// Every version that exists, acknowledged or not, is whole: it decrypts
	// to a value that was sent for that secret.
	for name, vals := range tried {
		vs := a.must(200, "GET", "/v1/stores/s/secrets/"+name+"/versions", nil).JSON(t)["versions"].([]any)
		for _, v := range vs {
			n := int(v.(map[string]any)["version"].(float64))
			got, _ := value(t, a.must(200, "GET", fmt.Sprintf("/v1/stores/s/secrets/%s/value?version=%d", name, n), nil))
			if !vals[got] {
				t.Errorf("%s v%d holds %q, which was never sent", name, n, got)
			}
		}
	}
	if m := a.must(200, "GET", "/v1/audit/verify", nil).JSON(t); m["ok"] != true {
		t.Errorf("audit chain after %d kills: %v", rounds, m)
	}
	t.Logf("%d rounds, %d acknowledged writes, all present", rounds, len(acked))
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
