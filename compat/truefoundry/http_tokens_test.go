package truefoundry_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/servertest"
)

// tfPermission, tfVAManifest and tfAccount are TrueFoundry's Permissions,
// VirtualAccountManifest and VirtualAccount as its SDK declares them, plus
// the account's name, which TrueFoundry's earlier API reference shows and
// the SDK keeps as an extra field.
type tfPermission struct {
	ResourceFQN  string `json:"resource_fqn"`
	ResourceType string `json:"resource_type"`
	RoleID       string `json:"role_id"`
}

type tfVAManifest struct {
	Name                    string          `json:"name"`
	Type                    string          `json:"type"`
	Permissions             []tfPermission  `json:"permissions"`
	ExpirationDate          string          `json:"expiration_date"`
	AutoRotate              json.RawMessage `json:"auto_rotate"`
	NotificationTarget      json.RawMessage `json:"notification_target"`
	SecretStoreConfig       json.RawMessage `json:"secret_store_config"`
	OwnedBy                 json.RawMessage `json:"ownedBy"`
	Tags                    json.RawMessage `json:"tags"`
	IdentityProviderMapping json.RawMessage `json:"identity_provider_mapping"`
	TokenType               string          `json:"token_type"`
}

type tfAccount struct {
	ID                    string          `json:"id"`
	Name                  string          `json:"name"`
	Type                  string          `json:"type"`
	TenantName            string          `json:"tenantName"`
	Manifest              *tfVAManifest   `json:"manifest"`
	JwtID                 string          `json:"jwtId"`
	CreatedBySubject      *tfSubject      `json:"createdBySubject"`
	CreatedAt             string          `json:"createdAt"`
	UpdatedAt             string          `json:"updatedAt"`
	LastAccessedAt        *string         `json:"lastAccessedAt"`
	IsExpired             *bool           `json:"isExpired"`
	Jwts                  json.RawMessage `json:"jwts"`
	AccountID             string          `json:"accountId"`
	Metadata              json.RawMessage `json:"metadata"`
	RoleIDs               []string        `json:"roleIds"`
	RolesWithResource     json.RawMessage `json:"rolesWithResource"`
	CreatedBy             string          `json:"createdBy"`
	NextScheduledRotation string          `json:"nextScheduledRotation"`
}

// check fails unless the account has every field the SDK requires, in the
// SDK's formats, and the given name and type.
func (acct tfAccount) check(t *testing.T, name, typ, tenant string) {
	t.Helper()
	for _, ts := range []string{acct.CreatedAt, acct.UpdatedAt} {
		if _, err := time.Parse(time.RFC3339, ts); err != nil {
			t.Errorf("timestamp %q: %v", ts, err)
		}
	}
	if acct.ID == "" || acct.AccountID == "" || acct.CreatedBySubject == nil || acct.CreatedBySubject.SubjectID == "" ||
		acct.CreatedBySubject.SubjectType == "" || acct.IsExpired == nil {
		t.Errorf("got %+v, want id, accountId, createdBySubject and isExpired", acct)
	}
	if acct.Name != name || acct.Type != typ || acct.TenantName != tenant {
		t.Errorf("got name %q type %q tenant %q, want %q %q %q", acct.Name, acct.Type, acct.TenantName, name, typ, tenant)
	}
}

// as returns the face driven with another token.
func (a *tfAPI) as(token string) *tfAPI {
	return &tfAPI{
		Client: &servertest.Client{T: a.T, Base: a.Base, Token: token},
		native: &servertest.Client{T: a.T, Base: a.native.Base, Token: token},
	}
}

// mustToken decodes a body that holds a token and checks that it is not cached.
func (a *tfAPI) mustToken(r servertest.Reply) string {
	a.T.Helper()
	var body struct {
		Token string `json:"token"`
	}
	servertest.Strict(a.T, r.Body, &body)
	if !strings.HasPrefix(body.Token, "cfr_") || r.Header.Get("Cache-Control") != "no-store" {
		a.T.Fatalf("got %s with Cache-Control %q, want a token, no-store", r.Body, r.Header.Get("Cache-Control"))
	}
	return body.Token
}

// pats lists the caller's PATs by name.
func (a *tfAPI) pats(query string) map[string]tfAccount {
	a.T.Helper()
	var list []tfAccount
	a.list(a.Must(200, "GET", "/personal-access-tokens"+query, nil), &list)
	out := map[string]tfAccount{}
	for _, p := range list {
		out[p.Name] = p
	}
	return out
}

// tfAuditEvent is the part of an audit event the tests look at.
type tfAuditEvent struct {
	Action  string `json:"action"`
	Name    string `json:"name"`
	Outcome string `json:"outcome"`
	Face    string `json:"face"`
}

// audit returns the account's audit events and the raw body.
func (a *tfAPI) audit() ([]tfAuditEvent, string) {
	a.T.Helper()
	r := a.native.Must(200, "GET", "/v1/audit?limit=1000", nil)
	var page struct{ Events []tfAuditEvent }
	if err := json.Unmarshal(r.Body, &page); err != nil {
		a.T.Fatal(err)
	}
	return page.Events, string(r.Body)
}

// checkAudit fails unless the audit has an event of each action made through
// the TrueFoundry face, and holds none of the tokens' secrets.
func (a *tfAPI) checkAudit(actions []string, tokens ...string) {
	a.T.Helper()
	evs, body := a.audit()
	for _, act := range actions {
		found := false
		for _, e := range evs {
			found = found || e.Action == act && e.Face == "truefoundry" && e.Outcome == "ok"
		}
		if !found {
			a.T.Errorf("no %s event with face truefoundry in %s", act, body)
		}
	}
	for _, tok := range tokens {
		if secret := tok[strings.LastIndexByte(tok, '_')+1:]; strings.Contains(body, secret) {
			a.T.Error("the audit log holds a token's secret")
		}
	}
}

func TestTrueFoundryPATs(t *testing.T) {
	a := startTrueFoundry(t)
	g := a.createGroup("app", "K", "v")

	r := a.Must(200, "POST", "/personal-access-tokens", map[string]any{"name": "ci-token"})
	tok := a.mustToken(r)
	pat := a.as(tok)
	var groups []tfGroup
	pat.list(pat.Must(200, "GET", "/secret-groups", nil), &groups)
	if len(groups) != 1 || groups[0].ID != g.ID {
		t.Fatalf("PAT lists %+v, want group app", groups)
	}
	pat.native.Must(200, "GET", "/v1/stores", nil)
	pat.native.Must(200, "GET", "/cloudflare/client/v4/accounts/"+g.AccountID+"/secrets_store/stores", nil)

	t.Run("List", func(t *testing.T) {
		pats := a.pats("")
		p, ok := pats["ci-token"]
		if !ok || len(pats) != 2 { // and the root key
			t.Fatalf("got %v, want ci-token and root", pats)
		}
		p.check(t, "ci-token", "pat", g.TenantName)
		if *p.IsExpired || p.Manifest != nil || p.CreatedBySubject.SubjectSlug != "root" || p.CreatedBySubject.SubjectType != "user" {
			t.Errorf("got %+v, want a live PAT of user root without manifest", p)
		}
		if got := a.pats("?nameSearchQuery=ci-"); len(got) != 1 {
			t.Errorf("nameSearchQuery: got %v, want ci-token alone", got)
		}
		var past []tfAccount
		if pg := a.list(a.Must(200, "GET", "/personal-access-tokens?offset=5", nil), &past); len(past) != 0 || *pg.Total != 2 {
			t.Errorf("past the end: got %v total %d, want [] and 2", past, *pg.Total)
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		for _, tt := range []struct {
			name         string
			method, path string
			body         any
			status       int
			field        string
		}{
			{"Taken", "POST", "/personal-access-tokens", `{"name":"ci-token"}`, 409, ""},
			{"NoName", "POST", "/personal-access-tokens", `{}`, 422, "name"},
			{"Short", "POST", "/personal-access-tokens", `{"name":"ab"}`, 422, "name"},
			{"Long", "POST", "/personal-access-tokens", `{"name":"` + strings.Repeat("a", 37) + `"}`, 422, "name"},
			{"Upper", "POST", "/personal-access-tokens", `{"name":"Abc"}`, 422, "name"},
			{"Digit", "POST", "/personal-access-tokens", `{"name":"1abc"}`, 422, "name"},
			{"Dash", "POST", "/personal-access-tokens", `{"name":"abc-"}`, 422, "name"},
			{"Underscore", "POST", "/personal-access-tokens", `{"name":"a_bc"}`, 422, "name"},
			{"Past", "POST", "/personal-access-tokens", `{"name":"old","expirationDate":"2001-01-01"}`, 422, "expirationDate"},
			{"PastTime", "POST", "/personal-access-tokens", `{"name":"old","expirationDate":"2001-01-01T12:00"}`, 422, "expirationDate"},
			{"NotADate", "POST", "/personal-access-tokens", `{"name":"old","expirationDate":"tomorrow"}`, 422, "expirationDate"},
			{"JWT", "POST", "/personal-access-tokens", `{"name":"jwt","tokenType":"jwt"}`, 422, "tokenType"},
			{"Unknown", "POST", "/personal-access-tokens", `{"name":"abc","scopes":[]}`, 422, "scopes"},
			{"GetBadName", "GET", "/personal-access-tokens/Bad_Name", nil, 422, "name"},
			{"DeleteUnknown", "DELETE", "/personal-access-tokens/0123456789abcdef", nil, 404, ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				e := a.httpError(a.Do(tt.method, tt.path, tt.body), tt.status)
				if tt.field != "" && (len(e.Details) != 1 || e.Details[0].Field != tt.field) {
					t.Fatalf("got details %+v, want field %s", e.Details, tt.field)
				}
			})
		}
		if got := a.pats(""); len(got) != 2 {
			t.Errorf("refused requests made PATs: %v", got)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		for _, tt := range []struct{ name, date string }{
			{"no-zone", time.Now().Add(48 * time.Hour).UTC().Format("2006-01-02T15:04")},
			{"rfc3339", "2099-08-01T12:00:00.000Z"},
			{"date-only", time.Now().UTC().Format(time.DateOnly)}, // valid through today
		} {
			a.mustToken(a.Must(200, "POST", "/personal-access-tokens", map[string]any{"name": tt.name, "expirationDate": tt.date}))
			if p := a.pats("?nameSearchQuery=" + tt.name)[tt.name]; *p.IsExpired {
				t.Errorf("%s %s: got expired, want live", tt.name, tt.date)
			}
		}
	})

	t.Run("GetOrCreate", func(t *testing.T) {
		r := a.Must(200, "GET", "/personal-access-tokens/deploy-bot", nil)
		var got struct {
			Data    tfAccount `json:"data"`
			Token   string    `json:"token"`
			Created bool      `json:"created"`
		}
		servertest.Strict(t, r.Body, &got)
		got.Data.check(t, "deploy-bot", "pat", g.TenantName)
		if !got.Created || !strings.HasPrefix(got.Token, "cfr_") || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("got %s, want created with a token", r.Body)
		}
		a.as(got.Token).Must(200, "GET", "/secret-groups", nil)
		e := a.httpError(a.Do("GET", "/personal-access-tokens/deploy-bot", nil), 400)
		if !strings.Contains(e.Message, "cannot be shown again") {
			t.Errorf("got %q, want a message saying why", e.Message)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		id := a.pats("")["ci-token"].ID
		if r := a.Must(200, "DELETE", "/personal-access-tokens/"+id, nil); strings.TrimSpace(string(r.Body)) != "{}" {
			t.Errorf("got %s, want {}", r.Body)
		}
		pat.httpError(pat.Do("GET", "/secret-groups", nil), 401)
		for _, p := range []string{"/v1/stores", "/cloudflare/client/v4/accounts/" + g.AccountID + "/secrets_store/stores"} {
			if r := pat.native.Do("GET", p, nil); r.Status != 401 {
				t.Errorf("GET %s: got %d, want 401", p, r.Status)
			}
		}
		a.httpError(a.Do("DELETE", "/personal-access-tokens/"+id, nil), 404)
		if _, ok := a.pats("")["ci-token"]; ok {
			t.Error("a revoked PAT is listed")
		}
		// The name is free again.
		a.mustToken(a.Must(200, "POST", "/personal-access-tokens", map[string]any{"name": "ci-token"}))
	})

	t.Run("OtherTenant", func(t *testing.T) {
		other := a.as(servertest.NewTenant(t, a.native.Base, a.Token).Token)
		other.mustToken(other.Must(200, "POST", "/personal-access-tokens", map[string]any{"name": "theirs"}))
		id := other.pats("")["theirs"].ID
		a.httpError(a.Do("DELETE", "/personal-access-tokens/"+id, nil), 404)
		if _, ok := a.pats("")["theirs"]; ok {
			t.Error("another tenant's PAT is listed")
		}
		if _, ok := other.pats("")["theirs"]; !ok {
			t.Error("another tenant's PAT was revoked")
		}
	})

	a.checkAudit([]string{"key.create", "key.revoke"}, tok)
}

// TestTrueFoundryPATPower checks that a PAT has its maker's power and no
// more, and that revoke/all is a tenant admin's.
func TestTrueFoundryPATPower(t *testing.T) {
	a := startTrueFoundry(t)
	ga := a.createGroup("a", "K", "va")
	gb := a.createGroup("b", "K", "vb")
	expires := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	scopedTok, _ := servertest.Mint(t, a.native, map[string]any{"name": "scoped", "scopes": servertest.Scopes("a:*:list,read,reveal"), "expires_at": expires.Format(time.RFC3339)})
	scoped := a.as(scopedTok)

	narrow := a.as(scoped.mustToken(scoped.Must(200, "POST", "/personal-access-tokens", map[string]any{"name": "narrow"})))
	var secrets []tfSecret
	narrow.list(narrow.Must(200, "POST", "/secrets", map[string]any{"secretGroupId": ga.ID, "withValue": true}), &secrets)
	if len(secrets) != 1 || secrets[0].Value == nil || *secrets[0].Value != "va" {
		t.Fatalf("PAT reads group a: got %+v, want K=va", secrets)
	}
	if r := narrow.Do("POST", "/secrets", map[string]any{"secretGroupId": gb.ID, "withValue": true}); r.Status != 403 && r.Status != 404 {
		t.Errorf("PAT reads group b: got %d %s, want 403 or 404", r.Status, r.Body)
	}
	if r := narrow.native.Do("GET", "/v1/stores/"+gb.ID+"/secrets/K/value", nil); r.Status != 403 && r.Status != 404 {
		t.Errorf("PAT reads group b natively: got %d %s, want 403 or 404", r.Status, r.Body)
	}
	if r := narrow.Do("PUT", "/secret-groups/"+ga.ID, map[string]any{"secrets": []any{map[string]string{"key": "K", "value": "x"}}}); r.Status != 403 {
		t.Errorf("PAT writes group a: got %d %s, want 403", r.Status, r.Body)
	}

	// The PAT expires with its maker, and may not be asked to outlive it.
	var keys struct {
		Keys []struct {
			Name      string     `json:"name"`
			Admin     bool       `json:"admin"`
			ExpiresAt *time.Time `json:"expires_at"`
		}
	}
	if err := json.Unmarshal(scoped.native.Must(200, "GET", "/v1/keys", nil).Body, &keys); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range keys.Keys {
		if k.Name == "narrow" {
			found = true
			if k.Admin || k.ExpiresAt == nil || !k.ExpiresAt.Equal(expires) {
				t.Errorf("got %+v, want not admin, expiring at %v", k, expires)
			}
		}
	}
	if !found {
		t.Errorf("the scoped key does not see its PAT: %+v", keys.Keys)
	}
	scoped.httpError(scoped.Do("POST", "/personal-access-tokens", map[string]any{"name": "longer", "expirationDate": "2099-01-01"}), 403)

	// An admin's PAT is admin.
	adminPAT := a.as(a.mustToken(a.Must(200, "POST", "/personal-access-tokens", map[string]any{"name": "admin-pat"})))
	adminPAT.native.Must(201, "POST", "/v1/principals", map[string]any{"name": "alice", "kind": "user"})

	t.Run("RevokeAll", func(t *testing.T) {
		var ps struct {
			Principals []struct{ ID, Name string }
		}
		if err := json.Unmarshal(a.native.Must(200, "GET", "/v1/principals", nil).Body, &ps); err != nil {
			t.Fatal(err)
		}
		var alice string
		for _, p := range ps.Principals {
			if p.Name == "alice" {
				alice = p.ID
			}
		}
		aliceTok, _ := servertest.Mint(t, a.native, map[string]any{"name": "alice", "principal_id": alice, "scopes": servertest.Scopes("a:*:list,read")})
		al := a.as(aliceTok)
		alicePAT := a.as(al.mustToken(al.Must(200, "POST", "/personal-access-tokens", map[string]any{"name": "alice-pat"})))

		scoped.httpError(scoped.Do("DELETE", "/personal-access-tokens/revoke/all", map[string]any{"email": "alice"}), 403)
		al.httpError(al.Do("DELETE", "/personal-access-tokens/revoke/all", map[string]any{"email": "alice"}), 403)
		alicePAT.Must(200, "GET", "/secret-groups", nil)
		a.httpError(a.Do("DELETE", "/personal-access-tokens/revoke/all", map[string]any{"email": "nobody"}), 404)
		e := a.httpError(a.Do("DELETE", "/personal-access-tokens/revoke/all", map[string]any{}), 422)
		if len(e.Details) != 1 || e.Details[0].Field != "email" {
			t.Errorf("got %+v, want field email", e.Details)
		}
		a.Must(200, "DELETE", "/personal-access-tokens/revoke/all", map[string]any{"email": "alice"})
		al.httpError(al.Do("GET", "/secret-groups", nil), 401)
		alicePAT.httpError(alicePAT.Do("GET", "/secret-groups", nil), 401)
		a.Must(200, "GET", "/secret-groups", nil) // the admin's own keys are untouched
	})
}

// applyVA sends PUT /virtual-accounts and decodes the answer.
func (a *tfAPI) applyVA(manifest map[string]any, dryRun bool) (tfAccount, *string) {
	a.T.Helper()
	var got struct {
		Data  tfAccount `json:"data"`
		Token *string   `json:"token"`
	}
	servertest.Strict(a.T, a.Must(200, "PUT", "/virtual-accounts", map[string]any{"manifest": manifest, "dryRun": dryRun}).Body, &got)
	return got.Data, got.Token
}

func vaManifest(name string, perms ...string) map[string]any {
	var ps []map[string]string
	for i := 0; i+2 < len(perms); i += 3 {
		ps = append(ps, map[string]string{"resource_fqn": perms[i], "resource_type": perms[i+1], "role_id": perms[i+2]})
	}
	return map[string]any{"name": name, "type": "virtual-account", "permissions": ps}
}

func TestTrueFoundryVirtualAccounts(t *testing.T) {
	a := startTrueFoundry(t)
	app := a.createGroup("app", "K", "v")
	other := a.createGroup("other", "K", "o")
	tenant := app.TenantName

	m := vaManifest("ci-bot", tenant+":app", "secret-group", "secret-group-editor")
	m["expiration_date"] = "2099-12-31"
	m["tags"] = map[string]string{"env": "ci"}
	m["auto_rotate"] = map[string]int{"auto_rotate_interval": 360, "grace_period": 30}
	m["ownedBy"] = map[string]string{"team": "platform"}
	m["token_type"] = "opaque"
	acct, tok := a.applyVA(m, false)
	if tok == nil {
		t.Fatal("a new virtual account came without its token")
	}
	acct.check(t, "ci-bot", "virtual-account", tenant)
	want := tfPermission{ResourceFQN: tenant + ":app", ResourceType: "secret-group", RoleID: "secret-group-editor"}
	if mf := acct.Manifest; mf == nil || mf.Name != "ci-bot" || mf.Type != "virtual-account" || len(mf.Permissions) != 1 ||
		mf.Permissions[0] != want || mf.ExpirationDate != "2099-12-31" || mf.Tags != nil || *acct.IsExpired ||
		acct.CreatedBySubject.SubjectType != "virtualaccount" {
		t.Fatalf("got %+v %+v, want the manifest's name, permission and expiry", acct, acct.Manifest)
	}
	editor := a.as(*tok)

	t.Run("Editor", func(t *testing.T) {
		var secrets []tfSecret
		editor.list(editor.Must(200, "POST", "/secrets", map[string]any{"secretGroupId": app.ID, "withValue": true}), &secrets)
		if len(secrets) != 1 || *secrets[0].Value != "v" {
			t.Fatalf("got %+v, want K=v", secrets)
		}
		if v, _ := servertest.Value(t, editor.native.Must(200, "GET", "/v1/stores/app/secrets/K/value", nil)); v != "v" {
			t.Errorf("native read: got %q, want v", v)
		}
		editor.native.Must(200, "GET", "/cloudflare/client/v4/accounts/"+app.AccountID+"/secrets_store/stores", nil)
		editor.httpError(editor.Do("POST", "/secrets", map[string]any{"secretGroupId": other.ID, "withValue": true}), 403)
		editor.httpError(editor.Do("GET", "/virtual-accounts", nil), 403)
	})

	t.Run("Unchanged", func(t *testing.T) {
		if again, tok := a.applyVA(m, false); tok != nil || again.ID != acct.ID {
			t.Errorf("got %+v token %v, want the same account, no new token", again, tok != nil)
		}
		editor.Must(200, "GET", "/secret-groups", nil)
	})

	t.Run("DryRun", func(t *testing.T) {
		viewer := vaManifest("ci-bot", tenant+":app", "secret-group", "secret-group-viewer")
		if got, tok := a.applyVA(viewer, true); tok != nil || got.Manifest.Permissions[0].RoleID != "secret-group-viewer" {
			t.Errorf("got %+v token %v, want the viewer account, no token", got, tok != nil)
		}
		if _, tok := a.applyVA(vaManifest("dry-bot", tenant+":app", "secret-group", "secret-group-viewer"), true); tok != nil {
			t.Error("a dry run made a token")
		}
		editor.Must(200, "POST", "/secrets", map[string]any{"secretGroupId": app.ID, "withValue": true})
		var vas []tfAccount
		a.list(a.Must(200, "GET", "/virtual-accounts", nil), &vas)
		if len(vas) != 1 || vas[0].Manifest.Permissions[0].RoleID != "secret-group-editor" {
			t.Errorf("got %+v, want ci-bot as editor only", vas)
		}
		if ps := string(a.native.Must(200, "GET", "/v1/principals", nil).Body); strings.Contains(ps, "dry-bot") {
			t.Error("a dry run made a principal")
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		perm := func(fqn, typ, role string) map[string]any { return vaManifest("bad", fqn, typ, role) }
		set := func(k string, v any) map[string]any {
			m := perm(tenant+":app", "secret-group", "secret-group-viewer")
			m[k] = v
			return m
		}
		for _, tt := range []struct {
			name     string
			manifest map[string]any
			status   int
			field    string
		}{
			{"ResourceType", perm(tenant+":app", "workspace", "secret-group-viewer"), 422, "manifest.permissions[0].resource_type"},
			{"Role", perm(tenant+":app", "secret-group", "workspace-admin"), 422, "manifest.permissions[0].role_id"},
			{"OtherTenant", perm("elsewhere:app", "secret-group", "secret-group-viewer"), 422, "manifest.permissions[0].resource_fqn"},
			{"NoGroup", perm(tenant+":nope", "secret-group", "secret-group-viewer"), 422, "manifest.permissions[0].resource_fqn"},
			{"NoTenant", perm("app", "secret-group", "secret-group-viewer"), 422, "manifest.permissions[0].resource_fqn"},
			{"NoPermissions", vaManifest("bad"), 422, "manifest.permissions"},
			{"NoName", set("name", nil), 422, "manifest.name"},
			{"BadName", set("name", "a b"), 422, "manifest.name"},
			{"Type", set("type", "pat"), 422, "manifest.type"},
			{"Past", set("expiration_date", "2001-01-01"), 422, "manifest.expiration_date"},
			{"JWT", set("token_type", "jwt"), 422, "manifest.token_type"},
			{"SecretStore", set("secret_store_config", map[string]string{"integration_fqn": "x", "secret_path": "y"}), 422, "manifest.secret_store_config"},
			{"Unknown", set("extra", 1), 422, "extra"},
			{"UserName", set("name", "root"), 409, ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				e := a.httpError(a.Do("PUT", "/virtual-accounts", map[string]any{"manifest": tt.manifest}), tt.status)
				if tt.field != "" && (len(e.Details) != 1 || e.Details[0].Field != tt.field) {
					t.Fatalf("got details %+v, want field %s", e.Details, tt.field)
				}
			})
		}
		e := a.httpError(a.Do("PUT", "/virtual-accounts", `{"dryRun":true}`), 422)
		if len(e.Details) != 1 || e.Details[0].Field != "manifest" {
			t.Errorf("got %+v, want field manifest", e.Details)
		}
		var vas []tfAccount
		a.list(a.Must(200, "GET", "/virtual-accounts", nil), &vas)
		if len(vas) != 1 {
			t.Errorf("refused manifests made accounts: %+v", vas)
		}
	})

	t.Run("Update", func(t *testing.T) {
		got, tok := a.applyVA(vaManifest("ci-bot", tenant+":app", "secret-group", "secret-group-viewer", tenant+":other", "secret-group", "secret-group-viewer"), false)
		if tok == nil || got.ID != acct.ID || len(got.Manifest.Permissions) != 2 || got.Manifest.ExpirationDate != "" {
			t.Fatalf("got %+v token %v, want the same account with two viewer permissions, no expiry, a new token", got, tok != nil)
		}
		editor.httpError(editor.Do("GET", "/secret-groups", nil), 401)
		viewer := a.as(*tok)
		var groups []tfGroup
		viewer.list(viewer.Must(200, "GET", "/secret-groups", nil), &groups)
		if len(groups) != 2 {
			t.Errorf("viewer lists %+v, want app and other", groups)
		}
		viewer.httpError(viewer.Do("POST", "/secrets", map[string]any{"secretGroupId": app.ID, "withValue": true}), 403)
		viewer.httpError(viewer.Do("PUT", "/secret-groups/"+app.ID, map[string]any{"secrets": []any{map[string]string{"key": "K", "value": "x"}}}), 403)
		viewer.httpError(viewer.Do("PUT", "/virtual-accounts", map[string]any{"manifest": vaManifest("x", tenant+":app", "secret-group", "secret-group-admin")}), 403)
		editor = viewer
	})

	t.Run("ListAndGet", func(t *testing.T) {
		for _, tt := range []struct {
			query string
			n     int
		}{{"", 1}, {"?nameSearchQuery=ci", 1}, {"?nameSearchQuery=zzz", 0}, {"?isExpired=true", 0}, {"?isExpired=false", 1}, {"?offset=5", 0}} {
			var vas []tfAccount
			if pg := a.list(a.Must(200, "GET", "/virtual-accounts"+tt.query, nil), &vas); len(vas) != tt.n {
				t.Errorf("%s: got %+v (total %d), want %d", tt.query, vas, *pg.Total, tt.n)
			}
		}
		a.httpError(a.Do("GET", "/virtual-accounts?isExpired=maybe", nil), 422)
		var got tfAccount
		a.data(a.Must(200, "GET", "/virtual-accounts/"+acct.ID, nil), &got)
		got.check(t, "ci-bot", "virtual-account", tenant)
		e := a.httpError(a.Do("GET", "/virtual-accounts/"+acct.ID+"/token", nil), 400)
		if !strings.Contains(e.Message, "cannot be shown again") {
			t.Errorf("got %q, want a message saying why", e.Message)
		}
		a.httpError(a.Do("GET", "/virtual-accounts/0123456789abcdef0123456789abcdef", nil), 404)
		for _, p := range []string{"POST /virtual-accounts/" + acct.ID + "/regenerate-token", "POST /virtual-accounts/" + acct.ID + "/sync-to-secret-store", "DELETE /virtual-accounts/" + acct.ID + "/jwt/x"} {
			method, path, _ := strings.Cut(p, " ")
			if e := a.httpError(a.Do(method, path, `{}`), 404); e.Message != "Cannot "+method+" /api/svc/v1"+path {
				t.Errorf("%s: got %q, want Cannot %s", p, e.Message, p)
			}
		}
	})

	t.Run("OtherTenant", func(t *testing.T) {
		ten := servertest.NewTenant(t, a.native.Base, a.Token)
		them := a.as(ten.Token)
		theirGroup := them.createGroup("theirs", "K", "t")
		theirs, tok := them.applyVA(vaManifest("their-bot", theirGroup.FQN, "secret-group", "secret-group-viewer"), false)
		if tok == nil {
			t.Fatal("no token")
		}
		a.httpError(a.Do("GET", "/virtual-accounts/"+theirs.ID, nil), 404)
		a.httpError(a.Do("DELETE", "/virtual-accounts/"+theirs.ID, nil), 404)
		a.as(*tok).Must(200, "GET", "/secret-groups", nil)
		// Our group named in their tenant's manifest is refused.
		them.httpError(them.Do("PUT", "/virtual-accounts", map[string]any{"manifest": vaManifest("x", app.FQN, "secret-group", "secret-group-viewer")}), 422)
	})

	t.Run("Delete", func(t *testing.T) {
		if r := a.Must(200, "DELETE", "/virtual-accounts/"+acct.ID, nil); strings.TrimSpace(string(r.Body)) != "{}" {
			t.Errorf("got %s, want {}", r.Body)
		}
		a.httpError(a.Do("GET", "/virtual-accounts/"+acct.ID, nil), 404)
		a.httpError(a.Do("DELETE", "/virtual-accounts/"+acct.ID, nil), 404)
		editor.httpError(editor.Do("GET", "/secret-groups", nil), 401)
		for _, p := range []string{"/v1/stores", "/cloudflare/client/v4/accounts/" + app.AccountID + "/secrets_store/stores"} {
			if r := editor.native.Do("GET", p, nil); r.Status != 401 {
				t.Errorf("GET %s: got %d, want 401", p, r.Status)
			}
		}
		var vas []tfAccount
		a.list(a.Must(200, "GET", "/virtual-accounts", nil), &vas)
		if len(vas) != 0 {
			t.Errorf("got %+v, want none", vas)
		}
	})

	a.checkAudit([]string{"principal.create", "key.create", "key.revoke"}, *tok)
	evs, _ := a.audit()
	refused := false
	for _, e := range evs {
		refused = refused || e.Action == "key.list" && e.Outcome == "forbidden" && e.Face == "truefoundry"
	}
	if !refused {
		t.Error("a non-admin key's request for virtual accounts is not in the audit log")
	}
}
