package chutes_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/server"
)

// nginxBin is Debian's nginx, which .ci/run installs.
const nginxBin = "/usr/sbin/nginx"

// nginxRegistryConf is the registry proxy of a Chutes validator, as its
// chart configures it: every pull asks GET /registry/auth first, with the
// puller's headers and no body, and hands the Authorization header of the
// answer on to the registry.
const nginxRegistryConf = `daemon off;
master_process off;
worker_processes 1;
pid DIR/nginx.pid;
error_log DIR/error.log info;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path DIR/body;
	proxy_temp_path DIR/proxy;
	fastcgi_temp_path DIR/fastcgi;
	uwsgi_temp_path DIR/uwsgi;
	scgi_temp_path DIR/scgi;
	server {
		listen unix:DIR/nginx.sock;
		location /v2/ {
			limit_except GET { deny all; }
			auth_request /auth;
			auth_request_set $registry_auth $upstream_http_authorization;
			proxy_set_header Authorization $registry_auth;
			proxy_pass http://REGISTRY;
		}
		location = /auth {
			internal;
			proxy_pass http://COFFER/chutes/registry/auth;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header X-Original-URI $request_uri;
		}
	}
}
`

// TestChutesRegistryNginx runs the registry proxy's nginx in front of the
// Chutes face: the face's answers must let nginx pass allowed pulls, with
// the registry's credentials correctly Basic-encoded, and stop the others.
func TestChutesRegistryNginx(t *testing.T) {
	if _, err := os.Stat(nginxBin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nginx is missing (.ci/run installs it): %v", err)
		}
		t.Skipf("nginx is not installed: %v", err)
	}
	pwFile := filepath.Join(t.TempDir(), "registry.password")
	if err := os.WriteFile(pwFile, []byte("s3cret-registry-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startChutes(t, func(c *server.Config) { c.ChutesRegistryPasswordFile = pwFile })
	puller := a.createKey(map[string]any{"admin": false, "name": "puller", "scopes": []map[string]any{{"object_type": "registry"}}}).SecretKey
	other := a.createKey(map[string]any{"admin": false, "name": "other", "scopes": []map[string]any{{"object_type": "images"}}}).SecretKey

	// The private registry behind the proxy records what it is sent.
	var mu sync.Mutex
	var seen []string
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		io.WriteString(w, `{"schemaVersion":2}`)
	}))
	defer registry.Close()

	dir := t.TempDir()
	conf := strings.NewReplacer("DIR", dir, "REGISTRY", strings.TrimPrefix(registry.URL, "http://"),
		"COFFER", strings.TrimPrefix(a.base, "http://")).Replace(nginxRegistryConf)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginxBin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "error.log")); err == nil {
				t.Logf("nginx error.log:\n%s", b)
			}
		}
	})
	sock := filepath.Join(dir, "nginx.sock")
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal("nginx did not start")
		}
	}

	pull := func(method, auth string) int {
		t.Helper()
		req, err := http.NewRequest(method, "http://registry/v2/user/image/manifests/latest", nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tt := range []struct {
		method, auth string
		status       int
	}{
		{"GET", "Basic " + puller, 200},
		{"HEAD", "Bearer " + puller, 200},
		{"GET", "Bearer " + a.root, 200},
		{"GET", other, 401},
		{"GET", "", 401},
		{"GET", "Bearer cpk_" + strings.Repeat("0", 32) + "." + a.principal + "." + strings.Repeat("x", 32), 401},
	} {
		if got := pull(tt.method, tt.auth); got != tt.status {
			t.Errorf("%s with %.14q: got %d, want %d", tt.method, tt.auth, got, tt.status)
		}
	}
	// Only the allowed pulls reached the registry, each with the registry's
	// own credentials: Basic base64(":" + password).
	want := "Basic OnMzY3JldC1yZWdpc3RyeS1wdw=="
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("the registry saw %q, want the 3 allowed pulls", seen)
	}
	for _, s := range seen {
		if !strings.HasSuffix(s, "/v2/user/image/manifests/latest "+want) {
			t.Errorf("the registry saw %q, want Authorization %s", s, want)
		}
	}
}
