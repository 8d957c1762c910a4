package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPostgresRotationAcrossServers: two servers share one PostgreSQL
// database. A master-key rotation run on one replaces the auth secret for
// both: an access token issued by either before it is refused by both
// after it, and keys minted on either, before or after, work on both.
func TestPostgresRotationAcrossServers(t *testing.T) {
	t.Parallel() // on a PostgreSQL cluster of its own
	_, url := startPostgres(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	srvA := mustOpenPGServer(t, url, dirA, "")
	key := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(dirA, "master.key")))))
	srvB := mustOpenPGServer(t, url, dirB, key)
	root := srvA.RootToken
	baseA, baseB := "http://"+srvA.Addr, "http://"+srvB.Addr
	opB := &rawAPI{t: t, base: baseB, token: root}

	accessToken := func(base, apiKey string) string {
		t.Helper()
		var at struct{ Token string }
		r := (&rawAPI{t: t, base: base}).must(200, "POST", "/bytenite/v1/auth/access_token", `{"apiKey":`+jsString(apiKey)+`}`)
		if err := json.Unmarshal(r.Body, &at); err != nil || !strings.HasPrefix(at.Token, "cat_") {
			t.Fatalf("access token: %s", r.Body)
		}
		return at.Token
	}
	mint := func(a *rawAPI, name string) string {
		t.Helper()
		var made struct{ Token string }
		if err := json.Unmarshal(a.must(201, "POST", "/v1/keys", map[string]any{"name": name, "admin": true}).Body, &made); err != nil {
			t.Fatal(err)
		}
		return made.Token
	}
	status := func(base, tok string) int {
		return (&rawAPI{t: t, base: base, token: tok}).do("GET", "/v1/stores", nil).Status
	}

	before := mint(opB, "before")
	oldTok := accessToken(baseB, root)
	for _, base := range []string{baseA, baseB} {
		if s := status(base, oldTok); s != 200 {
			t.Fatalf("access token before the rotation on %s: got %d", base, s)
		}
	}
	var rep struct {
		Rebound int `json:"records_rebound"`
		Failed  int `json:"records_failed"`
	}
	if err := json.Unmarshal((&rawAPI{t: t, base: baseA, token: root}).must(200, "POST", "/v1/master-key/rotate", nil).Body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Rebound == 0 || rep.Failed != 0 {
		t.Fatalf("rotation: %+v, want records bound again and none failing", rep)
	}
	for _, base := range []string{baseA, baseB} {
		if s := status(base, oldTok); s != 401 {
			t.Errorf("access token of before the rotation on %s: got %d, want 401", base, s)
		}
		if s := status(base, before); s != 200 {
			t.Errorf("key minted before the rotation on %s: got %d, want 200", base, s)
		}
	}
	after := mint(opB, "after")
	newTok := accessToken(baseB, after)
	for _, base := range []string{baseA, baseB} {
		for name, tok := range map[string]string{"key minted on B after": after, "access token issued by B after": newTok} {
			if s := status(base, tok); s != 200 {
				t.Errorf("%s the rotation, on %s: got %d, want 200", name, base, s)
			}
		}
	}
}
