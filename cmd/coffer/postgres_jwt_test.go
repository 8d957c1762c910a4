package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/jwttest"
)

// TestPostgresJWTSingleUse runs two servers on one database: a trust
// configuration made on one logs in on the other, and a single_use token
// accepted by one is refused as a replay by the other.
func TestPostgresJWTSingleUse(t *testing.T) {
	t.Parallel() // on a PostgreSQL cluster of its own
	_, url := startPostgres(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	srvA := mustOpenPGServer(t, url, dirA, "")
	key := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dirA, "master.key")))))
	srvB := mustOpenPGServer(t, url, dirB, key)
	a := &rawAPI{t: t, base: "http://" + srvA.Addr, token: srvA.RootToken}
	b := &rawAPI{t: t, base: "http://" + srvB.Addr}

	k := jwttest.EC(t, "e1")
	const iss = "https://token.actions.example"
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})
	a.must(201, "POST", "/v1/jwt/configs", map[string]any{"name": "github", "issuer": iss, "keys": jwttest.JWKS(k), "single_use": true})
	a.must(201, "POST", "/v1/jwt/configs/github/roles", map[string]any{"name": "deploy", "bound_subject": "repo:acme/app",
		"scopes": []map[string]any{{"store": "s", "secret": "*", "actions": []string{"read"}}}})
	now := time.Now().Unix()
	tok := k.Sign(t, map[string]any{"iss": iss, "sub": "repo:acme/app", "iat": now, "exp": now + 300, "jti": "run-7"})
	login := map[string]any{"config": "github", "role": "deploy", "jwt": tok}
	var out struct{ Token string }
	if err := json.Unmarshal(b.must(200, "POST", "/v1/jwt/login", login).Body, &out); err != nil || !strings.HasPrefix(out.Token, "cat_") {
		t.Fatalf("login on the other server: %v %q", err, out.Token)
	}
	a.must(401, "POST", "/v1/jwt/login", login)
	b.must(401, "POST", "/v1/jwt/login", login)
}
