package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/jwttest"
	"github.com/coffer-dev/coffer/server"
)

// TestCLIE2E_JWT makes a trust configuration and a Kubernetes role with the
// CLI, logs in with a service-account token from a file and from stdin,
// reads the role's secret with the login's token and deletes the role.
func TestCLIE2E_JWT(t *testing.T) {
	e := newCLIE2E(t)
	key := jwttest.RSA(t, "k1", 0)
	dir := t.TempDir()
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, []byte(jwttest.JWKS(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	const iss = "https://kubernetes.default.svc.cluster.local"
	e.OK("", "store", "create", "prod")
	e.OK("v1", "secret", "put", "prod", "app/db")
	e.OK("", "jwt", "config", "create", "kubernetes", "--issuer", iss, "--keys-file", jwks)
	e.OK("", "jwt", "role", "create", "kubernetes", "app", "--kind", "kubernetes", "--audience", "vault",
		"--service-account", "app", "--namespace", "prod", "--scope", "prod:app/*:read,reveal", "--ttl", "10m")
	if out := e.OK("", "jwt", "config", "list"); !strings.Contains(out, "kubernetes") || !strings.Contains(out, iss) {
		t.Fatalf("config list: %q", out)
	}
	if out := e.OK("", "jwt", "role", "get", "kubernetes", "app"); !strings.Contains(out, "prod:app/*:read,reveal") {
		t.Fatalf("role get: %q", out)
	}
	now := time.Now().Unix()
	tok := key.Sign(t, map[string]any{"iss": iss, "aud": "vault", "sub": "system:serviceaccount:prod:app", "iat": now, "exp": now + 600,
		"kubernetes.io": map[string]any{"namespace": "prod", "serviceaccount": map[string]any{"name": "app", "uid": "1"}}})
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--jwt-file", file}, {"--jwt-file", "-"}} {
		stdin := ""
		if args[1] == "-" {
			stdin = tok
		}
		r := e.RunAs("unused-token", stdin, append([]string{"jwt", "login", "kubernetes", "app"}, args...)...)
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, "cat_") || strings.Contains(r.Stderr, tok) {
			t.Fatalf("jwt login %v: %d %q %q", args, r.Code, r.Stdout, r.Stderr)
		}
		got := e.RunAs(strings.TrimSpace(r.Stdout), "", "secret", "get", "prod", "app/db")
		if got.Code != 0 || strings.TrimSpace(got.Stdout) != "v1" {
			t.Fatalf("secret get with the login's token: %d %q %q", got.Code, got.Stdout, got.Stderr)
		}
	}
	e.FailAs("unused-token", "unauthorized", tok[:len(tok)-2]+"xx", "jwt", "login", "kubernetes", "app", "--jwt-file", "-")
	e.OK("", "jwt", "role", "delete", "kubernetes", "app")
	e.OK("", "jwt", "config", "delete", "kubernetes")
}

// TestJWTFetchFlag checks that --jwt-fetch=false forbids URL key sources.
func TestJWTFetchFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{{nil, false}, {[]string{"--jwt-fetch=false"}, true}, {[]string{"--jwt-fetch"}, false}, {[]string{"--jwt-fetch=off"}, true}} {
		cfg := server.DefaultConfig()
		if err := parseServerFlags(&cfg, tc.args, func(string) string { return "" }, io.Discard); err != nil {
			t.Fatal(err)
		}
		if cfg.JWTNoFetch != tc.want {
			t.Errorf("%v: JWTNoFetch got %v, want %v", tc.args, cfg.JWTNoFetch, tc.want)
		}
	}
}
