package cloudflare_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/coffer-dev/coffer/internal/servertest"
	"github.com/coffer-dev/coffer/server"
)

// TestCloudflareAccountLimits raises one account's limits and checks that
// they hold for it and not for another account.
func TestCloudflareAccountLimits(t *testing.T) {
	dir := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", dir
	first := &server.Server{Config: cfg, Log: servertest.Logger(nil)}
	if err := first.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	token := first.RootToken
	account := servertest.AccountOf(t, "http://"+first.Addr, token)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	cfg.CloudflareLimits = []string{account + ":stores=2,secrets=3", "secrets=5"}
	srv := &server.Server{Config: cfg, Log: servertest.Logger(nil)}
	if err := srv.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	s := &cfServer{Base: "http://" + srv.Addr, Token: token, Account: account}
	a := cfRaw(t, s)

	a.Must(200, "POST", s.path("/stores"), map[string]any{"name": "one"})
	e := decodeCF(t, a.Must(200, "POST", s.path("/stores"), map[string]any{"name": "two"}))
	wantCFError(t, a.Do("POST", s.path("/stores"), map[string]any{"name": "three"}), 400, 1003)
	var st struct{ ID string }
	json.Unmarshal(e.Result, &st)
	item := func(name string) map[string]any {
		return map[string]any{"name": name, "value": "v", "scopes": []string{"workers"}}
	}
	a.Must(200, "POST", s.path("/stores/"+st.ID+"/secrets"), []map[string]any{item("A"), item("B"), item("C")})
	wantCFError(t, a.Do("POST", s.path("/stores/"+st.ID+"/secrets"), []map[string]any{item("D")}), 400, 1004)
	if got := string(decodeCF(t, a.Must(200, "GET", s.path("/quota"), nil)).Result); got != `{"secrets":{"quota":3,"usage":3}}` {
		t.Fatalf("got quota %s", got)
	}

	// Another account gets the server-wide setting: 1 store (Cloudflare's
	// default) and 5 secrets.
	r := a.Must(201, "POST", "/v1/accounts", map[string]any{"name": "acme"})
	var acme struct {
		Account struct{ ID string } `json:"account"`
		Token   string              `json:"token"`
	}
	json.Unmarshal(r.Body, &acme)
	o := &cfServer{Base: s.Base, Token: acme.Token, Account: acme.Account.ID}
	b := cfRaw(t, o)
	b.Must(200, "POST", o.path("/stores"), map[string]any{"name": "one"})
	wantCFError(t, b.Do("POST", o.path("/stores"), map[string]any{"name": "two"}), 400, 1003)
	if got := string(decodeCF(t, b.Must(200, "GET", o.path("/quota"), nil)).Result); got != `{"secrets":{"quota":5,"usage":0}}` {
		t.Fatalf("got quota %s", got)
	}
}
