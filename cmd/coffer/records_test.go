package main

// Tests of issue 17 item 9: records that grant power (API keys, principals,
// accounts, hotkeys, the operator setting) are bound by a MAC keyed from the
// master key, so an edit made directly in the database is refused wherever
// the record is used, on every face, and `coffer doctor` reports it.

import (
	"database/sql"
	"encoding/json"
	"github.com/coffer-dev/coffer/server"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawDB opens the server's SQLite file beside the running server, as an
// attacker with write access to the database would.
func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "coffer.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func rawExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	res, err := db.Exec(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%s: changed %d rows, want 1", q, n)
	}
}

// recFaces asks every face something that needs the credential tok to
// authenticate, each from a fresh loopback address (the failed-attempt
// limit stays out of the way), and returns the statuses by face.
func recFaces(t *testing.T, ips *authzLoopback, base, account, tok string) map[string]int {
	t.Helper()
	peer := func() *authzPeer {
		c, _ := ips.next(t)
		return &authzPeer{rawAPI{t: t, base: base}, c}
	}
	bearer := []string{"Authorization", "Bearer " + tok}
	out := map[string]int{
		"native":      peer().do("GET", "/v1/stores", nil, bearer...).Status,
		"cloudflare":  peer().do("GET", "/cloudflare/client/v4/accounts/"+account+"/secrets_store/stores", nil, bearer...).Status,
		"truefoundry": peer().do("GET", "/truefoundry/api/svc/v1/secret-groups", nil, bearer...).Status,
		"chutes":      peer().do("GET", "/chutes/secrets/", nil, "Authorization", tok).Status,
		"bytenite":    peer().do("POST", "/bytenite/v1/auth/access_token", `{"apiKey":`+jsString(tok)+`}`).Status,
		"console":     peer().do("POST", "/ui/session", `{"key":`+jsString(tok)+`}`, "Origin", base).Status,
	}
	return out
}

// TestRecordEditsRefused edits API key, principal, account and hotkey
// records in the database of a running server, each edit one that would
// grant power (the attack of issue 17: a tenant's admin key moved into the
// operator account), and checks that every face refuses the edited record
// while untouched ones keep working; then that doctor names each edited
// record and that a server refuses to start on an edited operator setting.
func TestRecordEditsRefused(t *testing.T) {
	dir := t.TempDir()
	srv := mustOpenServer(t, dir)
	base, root := "http://"+srv.Addr, srv.RootToken
	db := rawDB(t, dir)
	var opAccount, opPrincipal string
	if err := db.QueryRow(`SELECT account_id, principal_id FROM api_keys WHERE id = ?`, root[4:20]).Scan(&opAccount, &opPrincipal); err != nil {
		t.Fatal(err)
	}
	ten := authzNewTenant(t, base, root)
	admin := ten.api(t, base)
	admin.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"})
	bob := authzStr(admin.must(201, "POST", "/v1/principals", map[string]any{"name": "bob", "kind": "service"}).JSON(t)["id"])
	readers := authzScopes("prod:*:list,read")
	in := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)

	// Keys minted through the API and never used before their edit (no
	// server has them cached).
	type edit struct {
		name   string
		key    map[string]any
		query  string
		args   func(id string) []any
		revoke bool // revoked through the API before the edit
	}
	edits := []edit{
		{"MovedToOperator", map[string]any{"name": "moved", "admin": true},
			`UPDATE api_keys SET account_id = ?, principal_id = ? WHERE id = ?`, func(id string) []any { return []any{opAccount, opPrincipal, id} }, false},
		{"MadeAdmin", map[string]any{"name": "made-admin", "scopes": readers},
			`UPDATE api_keys SET admin = 1 WHERE id = ?`, func(id string) []any { return []any{id} }, false},
		{"ScopesWidened", map[string]any{"name": "widened", "scopes": readers},
			`UPDATE api_keys SET scopes = '[{"store":"*","secret":"*","actions":["admin"]}]' WHERE id = ?`, func(id string) []any { return []any{id} }, false},
		{"ExpiryRemoved", map[string]any{"name": "unexpired", "scopes": readers, "expires_at": in},
			`UPDATE api_keys SET expires_at = NULL WHERE id = ?`, func(id string) []any { return []any{id} }, false},
		{"MovedToPrincipal", map[string]any{"name": "moved-principal", "scopes": readers},
			`UPDATE api_keys SET principal_id = ? WHERE id = ?`, func(id string) []any { return []any{bob, id} }, false},
		{"MACEmptied", map[string]any{"name": "unbound", "scopes": readers},
			`UPDATE api_keys SET mac = NULL WHERE id = ?`, func(id string) []any { return []any{id} }, false},
		{"RevocationCleared", map[string]any{"name": "unrevoked", "admin": true},
			`UPDATE api_keys SET revoked_at = NULL WHERE id = ?`, func(id string) []any { return []any{id} }, true},
	}
	_, revoked := authzMint(t, admin, map[string]any{"name": "revoked", "scopes": readers})
	admin.must(204, "DELETE", "/v1/keys/"+authzStr(revoked["id"]), nil)
	tokens := map[string]string{}
	ids := map[string]string{}
	for _, e := range edits {
		tok, k := authzMint(t, admin, e.key)
		tokens[e.name], ids[e.name] = tok, authzStr(k["id"])
		if e.revoke {
			admin.must(204, "DELETE", "/v1/keys/"+ids[e.name], nil)
		}
		rawExec(t, db, e.query, e.args(ids[e.name])...)
	}
	ips := &authzLoopback{}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			for face, status := range recFaces(t, ips, base, ten.ID, tokens[e.name]) {
				if status != http.StatusUnauthorized {
					t.Errorf("%s: got %d, want 401 for an edited key record", face, status)
				}
			}
		})
	}
	t.Run("UntouchedKeyWorks", func(t *testing.T) {
		tok, _ := authzMint(t, admin, map[string]any{"name": "untouched", "admin": true})
		for face, status := range recFaces(t, ips, base, ten.ID, tok) {
			if status != http.StatusOK {
				t.Errorf("%s: got %d, want 200 for an untouched key", face, status)
			}
		}
	})
	t.Run("AuditedAsRefused", func(t *testing.T) {
		r := (&rawAPI{t: t, base: base, token: root}).must(200, "GET", "/v1/audit?action=record.refuse&limit=1000", nil)
		if !strings.Contains(string(r.Body), ids["MovedToOperator"]) {
			t.Errorf("no record.refuse event names the moved key %s: %s", ids["MovedToOperator"], r.Body)
		}
		if strings.Contains(string(r.Body), tokens["MovedToOperator"][21:]) {
			t.Error("the audit log holds a token secret")
		}
	})

	// A principal and an account: the TrueFoundry face names both on every
	// request, ByteNite's /user the principal.
	carol := authzStr(admin.must(201, "POST", "/v1/principals", map[string]any{"name": "carol", "kind": "service"}).JSON(t)["id"])
	carolTok, _ := authzMint(t, admin, map[string]any{"name": "carol", "principal_id": carol, "scopes": readers})
	other := authzNewTenant(t, base, root)
	t.Run("PrincipalEdited", func(t *testing.T) {
		rawExec(t, db, `UPDATE principals SET kind = 'user', name = 'root' WHERE id = ?`, carol)
		c, _ := ips.next(t)
		p := &authzPeer{rawAPI{t: t, base: base, token: carolTok}, c}
		if r := p.do("GET", "/truefoundry/api/svc/v1/secret-groups", nil); r.Status == 200 {
			t.Errorf("TrueFoundry with a key of an edited principal: got 200 %s", r.Body)
		}
		r := p.do("POST", "/bytenite/v1/auth/access_token", `{"apiKey":`+jsString(carolTok)+`}`, "Authorization", "")
		var at struct{ Token string }
		if err := json.Unmarshal(r.Body, &at); err != nil || at.Token == "" {
			t.Fatalf("ByteNite access token: %d %s", r.Status, r.Body)
		}
		if r := p.do("GET", "/bytenite/v1/auth/user", nil, "Authorization", at.Token); r.Status == 200 {
			t.Errorf("ByteNite /user of an edited principal: got 200 %s", r.Body)
		}
	})
	t.Run("AccountEdited", func(t *testing.T) {
		rawExec(t, db, `UPDATE accounts SET name = 'default' WHERE id = ?`, other.ID)
		c, _ := ips.next(t)
		p := &authzPeer{rawAPI{t: t, base: base, token: other.Token}, c}
		if r := p.do("GET", "/truefoundry/api/svc/v1/secret-groups", nil); r.Status == 200 {
			t.Errorf("TrueFoundry in an edited account: got 200 %s", r.Body)
		}
	})

	// A hotkey registered by the tenant, moved to the operator's root
	// principal before its first use: its signatures open nothing.
	t.Run("HotkeyEdited", func(t *testing.T) {
		admin.must(201, "POST", "/v1/hotkeys", map[string]string{"hotkey": e2eHotkey})
		rawExec(t, db, `UPDATE hotkeys SET account_id = ?, principal_id = ? WHERE ss58 = ?`, opAccount, opPrincipal, e2eHotkey)
		s := newChSigner(t)
		c, _ := ips.next(t)
		p := &authzPeer{rawAPI{t: t, base: base}, c}
		if r := p.do("GET", "/chutes/secrets/", nil, s.headers(time.Now(), "secrets")...); r.Status != http.StatusUnauthorized {
			t.Errorf("Chutes request signed by an edited hotkey: got %d %s, want 401", r.Status, r.Body)
		}
	})

	t.Run("Doctor", func(t *testing.T) {
		code, out := runDoctorCmd(t, "--data", dir)
		if code == 0 || !strings.Contains(out, "FAIL  records") {
			t.Fatalf("doctor: exit %d, want a records failure:\n%s", code, out)
		}
		for _, id := range []string{ids["MovedToOperator"], ids["MadeAdmin"], ids["MACEmptied"], ids["RevocationCleared"], carol, other.ID, e2eHotkey} {
			if !strings.Contains(out, id) {
				t.Errorf("doctor does not name edited record %s:\n%s", id, out)
			}
		}
		// A key revoked through the API is bound as revoked, not edited.
		if id := authzStr(revoked["id"]); strings.Contains(out, id) {
			t.Errorf("doctor names the key %s revoked through the API:\n%s", id, out)
		}
		if strings.Contains(out, "records       "+"ok") {
			t.Errorf("doctor reports the records ok:\n%s", out)
		}
	})

	t.Run("OperatorSettingEdited", func(t *testing.T) {
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		rawExec(t, db, `UPDATE meta SET value = ? WHERE key = 'operator_account'`, []byte(ten.ID))
		cfg := server.DefaultConfig()
		cfg.Addr, cfg.DataDir = "127.0.0.1:0", dir
		if _, err := openServerConfig(t, cfg); err == nil || !strings.Contains(err.Error(), "operator account") {
			t.Fatalf("start on an edited operator setting: got %v, want a refusal", err)
		}
	})
}
