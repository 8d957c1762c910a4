package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestBenchVault runs --scenarios vault against the fake API with a fake
// Vault read of the same secret: the vault row runs with the native value
// read c=64 (and no other row), right after it, and the target compares
// the two.
func TestBenchVault(t *testing.T) {
	api := &benchFakeAPI{token: "t0ken", stores: map[string]map[string]int{}}
	native := api.handler()
	var vaultReads, bearer int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/vault/") {
			native.ServeHTTP(w, r)
			return
		}
		api.mu.Lock()
		vaultReads++
		if r.Header.Get("Authorization") != "" {
			bearer++
		}
		v := api.stores["bench"]["read-me"]
		api.mu.Unlock()
		if r.Method != "GET" || r.URL.Path != benchVaultPath || r.Header.Get("X-Vault-Token") != api.token || v != 1 {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"errors":["permission denied"]}`)
			return
		}
		io.WriteString(w, `{"request_id":"0b3f0c5e-3e8d-4f7b-9c39-6c7f5e0e1a2b","data":{"data":{"value":"`+benchValue+
			`"},"metadata":{"created_time":"2026-12-07T23:00:00Z","custom_metadata":null,"deletion_time":"","destroyed":false,"version":1}}}`)
	}))
	defer srv.Close()

	var out bytes.Buffer
	b := &bench{
		cfg:    Config{Duration: 400 * time.Millisecond, Warmup: 50 * time.Millisecond, Scenarios: map[string]bool{"vault": true}},
		out:    &out,
		log:    io.Discard,
		coffer: &benchTarget{Name: "fake", Addr: srv.Listener.Addr().String(), Token: api.token, PID: os.Getpid()},
		bare:   &benchTarget{Name: "bare", Addr: MustServeBenchBare(t), PID: os.Getpid()},
	}
	if err := b.run(context.Background()); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())
	checkBenchOutput(t, out.String(), []string{"value read c=64 ", "vault value read c=64 "})
	for _, line := range strings.Split(out.String(), "\n") {
		for _, other := range []string{"value read c=1 ", "value read c=16 ", "create secret", "list 1,000", "truefoundry", "chutes"} {
			if strings.HasPrefix(line, other) {
				t.Errorf("row %q ran, though not asked for", line)
			}
		}
	}
	if !strings.Contains(out.String(), "vault read c=64 >= 0.90x value read  ") {
		t.Error("output lacks the vault target")
	}
	if vaultReads < 2 || bearer != 0 {
		t.Errorf("%d vault reads, %d with a bearer token: want some, all with X-Vault-Token only", vaultReads, bearer)
	}

	order := benchRunOrder(b.scenarios())
	var names []string
	for _, s := range order {
		names = append(names, s.Name)
	}
	if got, want := strings.Join(names, ", "), "baseline bare c=1, baseline bare c=16, baseline bare c=64, value read c=64, vault value read c=64"; got != want {
		t.Errorf("run order %s, want %s", got, want)
	}
}

// TestBenchCheckVault: the reply check refuses anything but the value
// written at setup, live, at version 1.
func TestBenchCheckVault(t *testing.T) {
	good := `{"data":{"data":{"value":"` + benchValue + `"},"metadata":{"deletion_time":"","destroyed":false,"version":1}}}`
	if err := benchCheckVault([]byte(good)); err != nil {
		t.Errorf("good reply: %v", err)
	}
	for _, bad := range []string{
		`{"errors":[]}`,
		`not json`,
		strings.Replace(good, benchValue, "other", 1),
		strings.Replace(good, `"version":1`, `"version":2`, 1),
		strings.Replace(good, `"destroyed":false`, `"destroyed":true`, 1),
		strings.Replace(good, `"deletion_time":""`, `"deletion_time":"2026-12-07T23:00:00Z"`, 1),
		strings.Replace(good, `{"value":`, `{"extra":"x","value":`, 1),
	} {
		if err := benchCheckVault([]byte(bad)); err == nil {
			t.Errorf("benchCheckVault(%s) accepted it", bad)
		}
	}
}

// TestBenchVaultBinary runs a very short --scenarios vault with the built
// binary: the real Vault face serves the setup's check and every request.
func TestBenchVaultBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out := runBenchBinary(t, mustBuildBenchBinary(t), t.TempDir(), "--scenarios", "vault")
	checkBenchOutput(t, out, []string{"value read c=64 ", "vault value read c=64 "})
	if !strings.Contains(out, "vault read c=64 >= 0.90x value read  ") {
		t.Error("output lacks the vault target")
	}
}
