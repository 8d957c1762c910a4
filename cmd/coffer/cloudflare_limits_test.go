package main

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"testing"
)

func TestCloudflareLimitFlags(t *testing.T) {
	env := map[string]string{"COFFER_CLOUDFLARE_LIMITS": "stores=2; 0123456789abcdef0123456789abcdef:secrets=7"}
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
		bad  bool
	}{
		{name: "None", want: nil},
		{name: "Flags", args: []string{"--cloudflare-limits", "stores=3", "--cloudflare-limits", "secrets=500,value=1024"}, want: []string{"stores=3", "secrets=500,value=1024"}},
		{name: "Env", env: env, want: []string{"stores=2", "0123456789abcdef0123456789abcdef:secrets=7"}},
		{name: "EnvThenFlags", env: env, args: []string{"--cloudflare-limits", "stores=4"}, want: []string{"stores=2", "0123456789abcdef0123456789abcdef:secrets=7", "stores=4"}},
		{name: "ErrBadValue", args: []string{"--cloudflare-limits", "stores=x"}, bad: true},
		{name: "ErrBadKey", args: []string{"--cloudflare-limits", "zones=1"}, bad: true},
		{name: "ErrBadEnv", env: map[string]string{"COFFER_CLOUDFLARE_LIMITS": "value=99999999"}, bad: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultServerConfig()
			err := parseServerFlags(&cfg, tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.bad {
				if err == nil {
					t.Fatalf("got %v, want an error", cfg.CloudflareLimits)
				}
				return
			}
			if err != nil || !slices.Equal(cfg.CloudflareLimits, tt.want) {
				t.Fatalf("got %q %v, want %q", cfg.CloudflareLimits, err, tt.want)
			}
		})
	}
}

// TestCloudflareAccountLimits raises one account's limits and checks that
// they hold for it and not for another account.
func TestCloudflareAccountLimits(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultServerConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", dir
	first := &Server{Config: cfg, Log: testLogger(t)}
	if err := first.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	token := first.RootToken
	account := accountOf(t, "http://"+first.Addr, token)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	cfg.CloudflareLimits = []string{account + ":stores=2,secrets=3", "secrets=5"}
	srv := &Server{Config: cfg, Log: testLogger(t)}
	if err := srv.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	s := &cfServer{Base: "http://" + srv.Addr, Token: token, Account: account}
	a := cfRaw(t, s)

	a.must(200, "POST", s.path("/stores"), map[string]any{"name": "one"})
	e := decodeCF(t, a.must(200, "POST", s.path("/stores"), map[string]any{"name": "two"}))
	wantCFError(t, a.do("POST", s.path("/stores"), map[string]any{"name": "three"}), 400, 1003)
	var st struct{ ID string }
	json.Unmarshal(e.Result, &st)
	item := func(name string) map[string]any {
		return map[string]any{"name": name, "value": "v", "scopes": []string{"workers"}}
	}
	a.must(200, "POST", s.path("/stores/"+st.ID+"/secrets"), []map[string]any{item("A"), item("B"), item("C")})
	wantCFError(t, a.do("POST", s.path("/stores/"+st.ID+"/secrets"), []map[string]any{item("D")}), 400, 1004)
	if got := string(decodeCF(t, a.must(200, "GET", s.path("/quota"), nil)).Result); got != `{"secrets":{"quota":3,"usage":3}}` {
		t.Fatalf("got quota %s", got)
	}

	// Another account gets the server-wide setting: 1 store (Cloudflare's
	// default) and 5 secrets.
	r := a.must(201, "POST", "/v1/accounts", map[string]any{"name": "acme"})
	var acme struct {
		Account struct{ ID string } `json:"account"`
		Token   string              `json:"token"`
	}
	json.Unmarshal(r.Body, &acme)
	o := &cfServer{Base: s.Base, Token: acme.Token, Account: acme.Account.ID}
	b := cfRaw(t, o)
	b.must(200, "POST", o.path("/stores"), map[string]any{"name": "one"})
	wantCFError(t, b.do("POST", o.path("/stores"), map[string]any{"name": "two"}), 400, 1003)
	if got := string(decodeCF(t, b.must(200, "GET", o.path("/quota"), nil)).Result); got != `{"secrets":{"quota":5,"usage":0}}` {
		t.Fatalf("got quota %s", got)
	}
}
