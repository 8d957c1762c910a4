package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCrossFaceCLI: what one provider face writes, the coffer CLI reads. A
// secret created through the Cloudflare face is readable with coffer secret
// get, and the versions of one written in a TrueFoundry group show in
// coffer secret history.
func TestCrossFaceCLI(t *testing.T) {
	e := newCLIE2E(t)
	api := &rawAPI{t: t, base: e.addr, token: e.token}

	t.Run("CloudflareToSecretGet", func(t *testing.T) {
		var acct struct {
			Accounts []struct {
				ID string `json:"id"`
			} `json:"accounts"`
		}
		if err := json.Unmarshal(api.must(200, "GET", "/v1/accounts", nil).Body, &acct); err != nil || len(acct.Accounts) != 1 {
			t.Fatalf("accounts: %v %+v", err, acct)
		}
		base := "/cloudflare/client/v4/accounts/" + acct.Accounts[0].ID + "/secrets_store/stores"
		var store struct {
			Result []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"result"`
		}
		if err := json.Unmarshal(api.must(200, "POST", base, `[{"name":"cfstore"}]`).Body, &store); err != nil || len(store.Result) != 1 {
			t.Fatalf("store create: %v %+v", err, store)
		}
		api.must(200, "POST", base+"/"+store.Result[0].ID+"/secrets",
			`[{"name":"API_TOKEN","value":"from-cloudflare","scopes":["workers"],"comment":"cf"}]`)
		if out := e.OK("", "secret", "get", "cfstore", "API_TOKEN"); out != "from-cloudflare\n" {
			t.Errorf("coffer secret get: got %q, want the value written through Cloudflare", out)
		}
		if r := cliRow(e.OK("", "secret", "list", "cfstore"), "API_TOKEN"); r == nil || r[1] != "1" || r[2] != "active" {
			t.Errorf("coffer secret list: got row %q", r)
		}
	})

	// The Vault face: the Cloudflare secret reads as {"value": ...}; a map
	// written through Vault reaches 'coffer run' as its JSON text and its
	// versions show in coffer secret history.
	t.Run("VaultToRunAndHistory", func(t *testing.T) {
		r := api.must(200, "GET", "/vault/v1/cfstore/data/API_TOKEN", nil)
		if !strings.Contains(string(r.Body), `"data":{"value":"from-cloudflare"}`) {
			t.Fatalf("Cloudflare secret through Vault: got %s", r.Body)
		}
		for _, p := range []string{"p1", "p2"} {
			api.must(200, "POST", "/vault/v1/cfstore/data/DB_JSON", `{"data":{"user":"u","pass":"`+p+`"}}`)
		}
		run := e.Run("", "run", "--store", "cfstore", "--", "sh", "-c",
			`test "$DB_JSON" = '{"user":"u","pass":"p2"}' && test "$API_TOKEN" = from-cloudflare && exit 7`)
		if run.Code != 7 {
			t.Fatalf("coffer run: got %d %q, want the map's JSON text and the Cloudflare value", run.Code, run.Stderr)
		}
		if rows := cliRows(e.OK("", "secret", "history", "cfstore", "DB_JSON")); len(rows) != 2 || rows[0][0] != "2" {
			t.Fatalf("coffer secret history of a Vault write: got %q, want versions 2, 1", rows)
		}
	})

	t.Run("TrueFoundryToSecretHistory", func(t *testing.T) {
		const tf = "/truefoundry/api/svc/v1"
		var g struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(api.must(200, "POST", tf+"/secret-groups",
			`{"name":"tfgroup","integrationId":"coffer","secrets":[{"key":"DB_PASSWORD","value":"one"}]}`).Body, &g); err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"two", "three"} {
			api.must(200, "PUT", tf+"/secret-groups/"+g.Data.ID, `{"secrets":[{"key":"DB_PASSWORD","value":"`+v+`"}]}`)
		}
		out := e.OK("", "secret", "history", "tfgroup", "DB_PASSWORD")
		rows := cliRows(out)
		if len(rows) != 3 || rows[0][0] != "3" || rows[1][0] != "2" || rows[2][0] != "1" {
			t.Fatalf("coffer secret history: got %q, want versions 3, 2, 1", out)
		}
		if strings.Contains(out, "three") || strings.Contains(out, "one") {
			t.Errorf("coffer secret history shows a value: %q", out)
		}
		if out := e.OK("", "secret", "get", "tfgroup", "DB_PASSWORD", "--version", "1"); out != "one\n" {
			t.Errorf("coffer secret get --version 1: got %q", out)
		}
	})

	// Chutes and ByteNite have no stores: each keeps its secrets in a store
	// of the account named after it. Their secrets list with coffer secret
	// list and read with coffer secret get by a key allowed to reveal.
	t.Run("ChutesAndByteNiteToCLI", func(t *testing.T) {
		api.must(200, "POST", "/chutes/secrets/", `{"purpose":"my-chute","key":"HF_TOKEN","value":"from-chutes"}`)
		var tok struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(api.must(200, "POST", "/bytenite/v1/auth/access_token", `{"apiKey":"`+e.token+`"}`).Body, &tok); err != nil {
			t.Fatal(err)
		}
		bn := &rawAPI{t: t, base: e.addr, token: tok.Token}
		bn.must(200, "POST", "/bytenite/v1/auth/secrets",
			`{"secret":{"id":"my_aws","secretType":"aws","name":"bucket","accessKey":"AKIA1"},"secretKey":"from-bytenite"}`)

		for store, name := range map[string]string{"chutes": "my-chute/HF_TOKEN", "bytenite": "aws/my_aws"} {
			if r := cliRow(e.OK("", "secret", "list", store), name); r == nil || r[2] != "active" {
				t.Errorf("coffer secret list %s: no active %s", store, name)
			}
		}
		out := e.OK("", "key", "create", "reader", "--scope", "chutes:*:list,read,reveal", "--scope", "bytenite:*:list,read,reveal")
		reader := strings.TrimSuffix(out, "\n")
		for _, c := range []struct{ store, name, want string }{
			{"chutes", "my-chute/HF_TOKEN", "from-chutes\n"},
			{"bytenite", "aws/my_aws", "from-bytenite\n"},
		} {
			if r := e.RunAs(reader, "", "secret", "get", c.store, c.name); r.Code != 0 || r.Stdout != c.want {
				t.Errorf("coffer secret get %s %s as a reveal key: got %d %q %q", c.store, c.name, r.Code, r.Stdout, r.Stderr)
			}
		}
		// A key without reveal sees the metadata and not the value.
		lister := strings.TrimSuffix(e.OK("", "key", "create", "lister", "--scope", "chutes:*:list,read"), "\n")
		if r := cliRow(e.RunAs(lister, "", "secret", "list", "chutes").Stdout, "my-chute/HF_TOKEN"); r == nil {
			t.Error("coffer secret list chutes as a list key: the secret is missing")
		}
		e.FailAs(lister, "forbidden", "", "secret", "get", "chutes", "my-chute/HF_TOKEN")

		audit := e.OK("", "audit", "list", "--limit", "1000")
		for _, want := range []string{"face=chutes", "face=bytenite", "face=cloudflare", "face=truefoundry"} {
			if !strings.Contains(audit, want) {
				t.Errorf("audit list: no %q", want)
			}
		}
		for _, value := range []string{"from-chutes", "from-bytenite", "from-cloudflare"} {
			if strings.Contains(audit, value) {
				t.Errorf("audit list shows the value %q", value)
			}
		}
	})
}
