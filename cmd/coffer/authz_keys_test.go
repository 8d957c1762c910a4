package main

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// TestAuthzEscalation checks that a key that is not admin mints only keys
// that its own key covers (for itself, never admin, narrower scopes, no later
// expiry), and cannot manage principals, accounts, keys or read the audit.
// Refused requests create nothing.
func TestAuthzEscalation(t *testing.T) {
	base, root := startServer(t)
	acme := authzNewTenant(t, base, root)
	admin := acme.api(t, base)
	prodID := authzStr(admin.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"}).JSON(t)["id"])
	admin.must(201, "POST", "/v1/stores", map[string]any{"name": "dev"})
	for _, n := range []string{"db/pw", "db/x", "api/key"} {
		admin.must(201, "PUT", authzSecretPath("prod", n), map[string]any{"value": "v"})
	}

	ci := admin.must(201, "POST", "/v1/principals", map[string]any{"name": "ci", "kind": "service"}).JSON(t)
	ciID := authzStr(ci["id"])
	t.Run("Principals", func(t *testing.T) {
		a := acme.api(t, base)
		if ci["name"] != "ci" || ci["kind"] != "service" || ciID == "" {
			t.Errorf("create principal: got %v, want ci, service, an id", ci)
		}
		if r := a.do("POST", "/v1/principals", map[string]any{"name": "ci", "kind": "user"}); r.Status != 409 || r.Code(t) != "conflict" {
			t.Errorf("principal name taken: got %d %s, want 409 conflict", r.Status, r.Body)
		}
		got := authzNames(t, a.must(200, "GET", "/v1/principals", nil), "principals", "id")
		if want := []string{acme.PrincipalID, ciID}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("principals: got %v, want %v", got, want)
		}
		_, k := authzMint(t, a, map[string]any{"name": "for-ci", "principal_id": ciID, "scopes": authzScopes("prod:*:read")})
		if k["principal_id"] != ciID {
			t.Errorf("admin mints for principal ci: got principal_id %v, want %s", k["principal_id"], ciID)
		}
	})

	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	exp := expires.Format(time.RFC3339Nano)
	parentTok, parent := authzMint(t, admin, map[string]any{"name": "parent", "scopes": authzScopes("prod:db/*:list,read,reveal"), "expires_at": exp})
	byIDTok, _ := authzMint(t, admin, map[string]any{"name": "by-id", "scopes": authzScopes(prodID + ":*:read"), "expires_at": exp})
	parentPrincipal := authzStr(parent["principal_id"])

	keyIDs := func(t *testing.T) []string {
		t.Helper()
		return authzNames(t, acme.api(t, base).must(200, "GET", "/v1/keys", nil), "keys", "id")
	}

	later := expires.Add(time.Hour).Format(time.RFC3339Nano)
	for _, tt := range []struct {
		name string
		key  string
		body map[string]any
	}{
		{"AdminKey", parentTok, map[string]any{"name": "x", "admin": true, "scopes": authzScopes("prod:db/*:read"), "expires_at": exp}},
		{"AdminKeyWithoutScopes", parentTok, map[string]any{"name": "x", "admin": true, "expires_at": exp}},
		{"EveryStore", parentTok, map[string]any{"name": "x", "scopes": authzScopes("*:db/*:read"), "expires_at": exp}},
		{"EmptyStore", parentTok, map[string]any{"name": "x", "scopes": authzScopes(":db/*:read"), "expires_at": exp}},
		{"OtherStore", parentTok, map[string]any{"name": "x", "scopes": authzScopes("dev:db/*:read"), "expires_at": exp}},
		{"EverySecret", parentTok, map[string]any{"name": "x", "scopes": authzScopes("prod:*:read"), "expires_at": exp}},
		{"OtherPrefix", parentTok, map[string]any{"name": "x", "scopes": authzScopes("prod:api/*:read"), "expires_at": exp}},
		{"WiderPrefix", parentTok, map[string]any{"name": "x", "scopes": authzScopes("prod:d*:read"), "expires_at": exp}},
		{"SecretOutsidePrefix", parentTok, map[string]any{"name": "x", "scopes": authzScopes("prod:api/key:read"), "expires_at": exp}},
		{"ExtraAction", parentTok, map[string]any{"name": "x", "scopes": authzScopes("prod:db/*:read,write"), "expires_at": exp}},
		{"DeleteAction", parentTok, map[string]any{"name": "x", "scopes": authzScopes("prod:db/*:delete"), "expires_at": exp}},
		{"StoreAdminAction", parentTok, map[string]any{"name": "x", "scopes": authzScopes("prod:db/*:admin"), "expires_at": exp}},
		{"OneScopeNotCovered", parentTok, map[string]any{"name": "x", "scopes": authzScopes("prod:db/*:read", "dev:*:read"), "expires_at": exp}},
		{"LaterExpiry", parentTok, map[string]any{"name": "x", "scopes": authzScopes("prod:db/*:read"), "expires_at": later}},
		{"OtherPrincipal", parentTok, map[string]any{"name": "x", "principal_id": ciID, "scopes": authzScopes("prod:db/*:read"), "expires_at": exp}},
		// A scope on the store by id does not cover the name: a store
		// created later under the same name would fall under it.
		{"NameFromID", byIDTok, map[string]any{"name": "x", "scopes": authzScopes("prod:*:read"), "expires_at": exp}},
		{"EveryStoreFromID", byIDTok, map[string]any{"name": "x", "scopes": authzScopes("*:*:read"), "expires_at": exp}},
	} {
		t.Run("Forbidden"+tt.name, func(t *testing.T) {
			before := keyIDs(t)
			r := (&rawAPI{t: t, base: base, token: tt.key}).do("POST", "/v1/keys", tt.body)
			if r.Status != 403 || r.Code(t) != "forbidden" {
				t.Errorf("mint %v: got %d %s, want 403 forbidden", tt.body, r.Status, r.Body)
			}
			if after := keyIDs(t); !slices.Equal(after, before) {
				t.Errorf("keys after a refused mint: got %v, want %v", after, before)
			}
		})
	}

	var child string // token of the ExactSecret key
	childExp := time.Now().Add(30 * time.Minute).UTC().Format(time.RFC3339Nano)
	for _, tt := range []struct {
		name string
		key  string
		body map[string]any
	}{
		{"SameScopesAndExpiry", parentTok, map[string]any{"name": "same", "scopes": authzScopes("prod:db/*:list,read,reveal"), "expires_at": exp}},
		{"NarrowerPrefix", parentTok, map[string]any{"name": "narrower", "scopes": authzScopes("prod:db/p*:read"), "expires_at": exp}},
		{"ExactSecret", parentTok, map[string]any{"name": "exact", "scopes": authzScopes("prod:db/pw:reveal"), "expires_at": childExp}},
		{"NoExpiryGetsParents", parentTok, map[string]any{"name": "no-expiry", "scopes": authzScopes("prod:db/*:read")}},
		{"FewerActions", parentTok, map[string]any{"name": "fewer", "scopes": authzScopes("prod:db/*:list"), "expires_at": exp}},
		{"OwnPrincipalNamed", parentTok, map[string]any{"name": "own", "principal_id": parentPrincipal, "scopes": authzScopes("prod:db/*:read"), "expires_at": exp}},
		{"SameStoreByID", byIDTok, map[string]any{"name": "by-id-narrower", "scopes": authzScopes(prodID + ":db/*:read"), "expires_at": exp}},
	} {
		t.Run("Allowed"+tt.name, func(t *testing.T) {
			before := keyIDs(t)
			tok, k := authzMint(t, &rawAPI{t: t, base: base, token: tt.key}, tt.body)
			if k["admin"] != false || k["principal_id"] != parentPrincipal {
				t.Errorf("minted key: got admin %v principal %v, want false %s", k["admin"], k["principal_id"], parentPrincipal)
			}
			if got, err := time.Parse(time.RFC3339Nano, authzStr(k["expires_at"])); err != nil || got.After(expires) {
				t.Errorf("minted key expires at %v, want no later than %v", k["expires_at"], expires)
			}
			if after := keyIDs(t); len(after) != len(before)+1 || !slices.Contains(after, authzStr(k["id"])) {
				t.Errorf("keys after a mint: got %v, want %v and %v", after, before, k["id"])
			}
			if tt.name == "ExactSecret" {
				child = tok
			}
		})
	}

	t.Run("NarrowerKeyWorks", func(t *testing.T) {
		if child == "" {
			t.Skip("no ExactSecret key")
		}
		c := &rawAPI{t: t, base: base, token: child}
		if v, _ := value(t, c.must(200, "GET", authzSecretPath("prod", "db/pw")+"/value", nil)); v != "v" {
			t.Errorf("child reveals db/pw: got %q, want v", v)
		}
		for _, tt := range []struct{ method, path string }{
			{"GET", authzSecretPath("prod", "db/x") + "/value"},
			{"GET", authzSecretPath("prod", "api/key") + "/value"},
			{"GET", authzSecretPath("prod", "db/pw")},
			{"PUT", authzSecretPath("prod", "db/pw")},
		} {
			if r := c.do(tt.method, tt.path, map[string]any{"value": "x"}); r.Status != 403 {
				t.Errorf("child %s %s: got %d %s, want 403", tt.method, tt.path, r.Status, r.Body)
			}
		}
		// The child mints no more than it holds either.
		for _, body := range []map[string]any{
			{"name": "x", "scopes": authzScopes("prod:db/*:reveal"), "expires_at": childExp},
			{"name": "x", "scopes": authzScopes("prod:db/pw:reveal"), "expires_at": exp},
		} {
			if r := c.do("POST", "/v1/keys", body); r.Status != 403 {
				t.Errorf("child mints %v: got %d %s, want 403", body, r.Status, r.Body)
			}
		}
		authzMint(t, c, map[string]any{"name": "grandchild", "scopes": authzScopes("prod:db/pw:reveal"), "expires_at": childExp})
	})

	t.Run("AdminOnlyRequests", func(t *testing.T) {
		a := acme.api(t, base)
		operator := &rawAPI{t: t, base: base, token: root}
		keys := keyIDs(t)
		principals := string(a.must(200, "GET", "/v1/principals", nil).Body)
		accounts := string(operator.must(200, "GET", "/v1/accounts", nil).Body)
		// A key of the operator's account with every action, but not admin,
		// is not the operator.
		opScoped, _ := authzMint(t, operator, map[string]any{"name": "not-operator", "scopes": authzScopes("*:*:list,read,reveal,write,delete,admin")})
		for _, tt := range []struct {
			name   string
			key    string
			method string
			path   string
			body   any
		}{
			{"ScopedKeyCreatesPrincipal", parentTok, "POST", "/v1/principals", map[string]any{"name": "sneaky", "kind": "user"}},
			{"ScopedKeyCreatesAccount", parentTok, "POST", "/v1/accounts", map[string]any{"name": "sneaky"}},
			{"ScopedKeyListsAccounts", parentTok, "GET", "/v1/accounts", nil},
			{"ScopedKeyRevokesAdminKey", parentTok, "DELETE", "/v1/keys/" + acme.KeyID, nil},
			{"ScopedKeyReadsAudit", parentTok, "GET", "/v1/audit?limit=1000", nil},
			{"ScopedKeyVerifiesAudit", parentTok, "GET", "/v1/audit/verify", nil},
			{"AccountAdminCreatesAccount", acme.Token, "POST", "/v1/accounts", map[string]any{"name": "sneaky"}},
			{"AccountAdminListsAccounts", acme.Token, "GET", "/v1/accounts", nil},
			{"OperatorAccountScopedKeyCreatesAccount", opScoped, "POST", "/v1/accounts", map[string]any{"name": "sneaky"}},
			{"OperatorAccountScopedKeyListsAccounts", opScoped, "GET", "/v1/accounts", nil},
		} {
			r := (&rawAPI{t: t, base: base, token: tt.key}).do(tt.method, tt.path, tt.body)
			if r.Status != 403 || r.Code(t) != "forbidden" {
				t.Errorf("%s: got %d %s, want 403 forbidden", tt.name, r.Status, r.Body)
			}
		}
		if got := keyIDs(t); !slices.Equal(got, keys) {
			t.Errorf("keys: got %v, want %v", got, keys)
		}
		// A scoped key lists only the keys of its principal that are no
		// wider than itself: never the admin key, never its own parent.
		wantOwn := map[string]bool{"same": true, "narrower": true, "fewer": true, "exact": true, "own": true, "by-id": false,
			"by-id-narrower": false, "grandchild": true, "parent": true, "admin": false}
		own := authzNames(t, (&rawAPI{t: t, base: base, token: parentTok}).must(200, "GET", "/v1/keys", nil), "keys", "name")
		for name, want := range wantOwn {
			if slices.Contains(own, name) != want {
				t.Errorf("scoped key lists keys %v: has %q = %v, want %v", own, name, !want, want)
			}
		}
		if got := string(a.must(200, "GET", "/v1/principals", nil).Body); got != principals {
			t.Errorf("principals: got %s, want %s", got, principals)
		}
		if got := string(operator.must(200, "GET", "/v1/accounts", nil).Body); got != accounts {
			t.Errorf("accounts: got %s, want %s", got, accounts)
		}
		if ids := authzNames(t, operator.must(200, "GET", "/v1/accounts", nil), "accounts", "id"); !slices.Contains(ids, acme.ID) {
			t.Errorf("operator lists accounts %v, want %s among them", ids, acme.ID)
		}
	})
}

// TestAuthzRevocationAndExpiry checks that a revoked key fails on the very
// next request, even while it is busy, and that a key fails once it expires.
func TestAuthzRevocationAndExpiry(t *testing.T) {
	base, root := startServer(t)
	acme := authzNewTenant(t, base, root)
	admin := acme.api(t, base)
	admin.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"})
	admin.must(201, "PUT", authzSecretPath("prod", "db/pw"), map[string]any{"value": "v"})
	valuePath := authzSecretPath("prod", "db/pw") + "/value"
	var ips authzLoopback

	unauthorized := func(t *testing.T, what string, r reply) {
		t.Helper()
		if r.Status != 401 || r.Code(t) != "unauthorized" {
			t.Errorf("%s: got %d %s, want 401 unauthorized", what, r.Status, r.Body)
		}
	}

	t.Run("Revoked", func(t *testing.T) {
		a := acme.api(t, base)
		tok, k := authzMint(t, a, map[string]any{"name": "revoked", "scopes": authzScopes("prod:*:list,read,reveal")})
		c := &rawAPI{t: t, base: base, token: tok}
		for range 3 {
			c.must(200, "GET", valuePath, nil)
		}
		a.must(204, "DELETE", "/v1/keys/"+authzStr(k["id"]), nil)
		unauthorized(t, "value read right after revocation", c.do("GET", valuePath, nil))
		unauthorized(t, "listing after revocation", c.do("GET", "/v1/stores/prod/secrets", nil))
		for _, kk := range a.must(200, "GET", "/v1/keys", nil).JSON(t)["keys"].([]any) {
			if m := kk.(map[string]any); m["id"] == k["id"] && m["revoked_at"] == nil {
				t.Errorf("revoked key is listed without revoked_at: %v", m)
			}
		}
	})

	t.Run("RevokedWhileBusy", func(t *testing.T) {
		a := acme.api(t, base)
		tok, k := authzMint(t, a, map[string]any{"name": "busy", "scopes": authzScopes("prod:*:reveal")})
		type result struct {
			start  time.Time
			status int
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			results []result
		)
		for range 4 {
			client, _ := ips.next(t)
			p := &authzPeer{rawAPI{t: t, base: base, token: tok}, client}
			wg.Go(func() {
				// Each worker reads until its key stops working.
				for i := 0; i < 10000; i++ {
					start := time.Now()
					r := p.do("GET", valuePath, nil)
					mu.Lock()
					results = append(results, result{start, r.Status})
					mu.Unlock()
					if r.Status != 200 {
						return
					}
				}
			})
		}
		time.Sleep(100 * time.Millisecond)
		a.must(204, "DELETE", "/v1/keys/"+authzStr(k["id"]), nil)
		revoked := time.Now()
		wg.Wait()
		ok := 0
		for _, r := range results {
			if r.start.After(revoked) && r.status != 401 {
				t.Errorf("request sent after the revocation returned: got %d, want 401", r.status)
			}
			if r.status == 200 {
				ok++
			}
		}
		if ok == 0 {
			t.Errorf("no request succeeded before the revocation: %v", results)
		}
	})

	t.Run("RevokedAdminKey", func(t *testing.T) {
		other := authzNewTenant(t, base, root)
		spare, _ := authzMint(t, other.api(t, base), map[string]any{"name": "spare", "admin": true})
		s := &rawAPI{t: t, base: base, token: spare}
		s.must(204, "DELETE", "/v1/keys/"+other.KeyID, nil)
		unauthorized(t, "revoked admin key", other.api(t, base).do("GET", "/v1/keys", nil))
		s.must(200, "GET", "/v1/keys", nil)
	})

	t.Run("Expired", func(t *testing.T) {
		a := acme.api(t, base)
		expires := time.Now().Add(2 * time.Second)
		tok, k := authzMint(t, a, map[string]any{"name": "short", "scopes": authzScopes("prod:*:reveal"), "expires_at": expires.UTC().Format(time.RFC3339Nano)})
		c := &rawAPI{t: t, base: base, token: tok}
		c.must(200, "GET", valuePath, nil)
		time.Sleep(time.Until(expires) + 300*time.Millisecond)
		unauthorized(t, "expired key", c.do("GET", valuePath, nil))
		ids := authzNames(t, a.must(200, "GET", "/v1/keys", nil), "keys", "id")
		if !slices.Contains(ids, authzStr(k["id"])) {
			t.Errorf("expired key is not listed: %v", ids)
		}
	})
}
