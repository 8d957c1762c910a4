package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/servertest"
)

// TestAuthzTenantIsolation checks that another account's objects answer
// exactly as missing ones: the same status and byte-for-byte the same body
// for a store, secret, key or principal that exists in another account as
// for the same reference once nothing exists behind it.
func TestAuthzTenantIsolation(t *testing.T) {
	base, root := startServer(t)
	acme, globex := authzNewTenant(t, base, root), authzNewTenant(t, base, root)
	a, b := acme.api(t, base), globex.api(t, base)

	prodID := authzStr(a.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"}).JSON(t)["id"])
	secretID := authzStr(a.must(201, "PUT", authzSecretPath("prod", "db/pw"), map[string]any{"value": "acme-secret-value"}).JSON(t)["id"])
	a.must(200, "PUT", authzSecretPath("prod", "db/pw"), map[string]any{"value": "acme-secret-value-2"})
	oldID := authzStr(a.must(201, "PUT", authzSecretPath("prod", "old"), map[string]any{"value": "old"}).JSON(t)["id"])
	a.must(200, "DELETE", authzSecretPath("prod", "old"), nil)
	acmeKey, acmeKeyJSON := authzMint(t, a, map[string]any{"name": "acme-reader", "scopes": authzScopes("*:*:list,read,reveal")})
	acmeKeyID := authzStr(acmeKeyJSON["id"])

	mineID := authzStr(b.must(201, "POST", "/v1/stores", map[string]any{"name": "mine"}).JSON(t)["id"])
	b.must(201, "PUT", authzSecretPath("mine", "x"), map[string]any{"value": "globex"})
	scoped, _ := authzMint(t, b, map[string]any{"name": "everything", "scopes": authzScopes("*:*:list,read,reveal,write,delete,admin")})

	callers := []struct{ name, token string }{
		{"other account's admin key", globex.Token},
		{"other account's key with every action", scoped},
		{"operator", root},
	}
	type route struct {
		name, method, path string
		body               any
	}
	storeRoutes := []route{
		{"get store by id", "GET", "/v1/stores/" + prodID, nil},
		{"get store by name", "GET", "/v1/stores/prod", nil},
		{"delete store", "DELETE", "/v1/stores/" + prodID + "?force=true", nil},
		{"list secrets", "GET", "/v1/stores/" + prodID + "/secrets", nil},
		{"list secrets by store name", "GET", "/v1/stores/prod/secrets", nil},
		{"list deleted secrets", "GET", "/v1/stores/" + prodID + "/secrets?deleted=true", nil},
		{"get secret", "GET", authzSecretPath(prodID, "db/pw"), nil},
		{"get secret by id", "GET", authzSecretPath(prodID, secretID), nil},
		{"get value", "GET", authzSecretPath(prodID, "db/pw") + "/value", nil},
		{"get value of version 1", "GET", authzSecretPath(prodID, "db/pw") + "/value?version=1", nil},
		{"get value by store name", "GET", authzSecretPath("prod", "db/pw") + "/value", nil},
		{"versions", "GET", authzSecretPath(prodID, "db/pw") + "/versions", nil},
		{"put existing secret", "PUT", authzSecretPath(prodID, "db/pw"), map[string]any{"value": "intruder"}},
		{"put new secret", "PUT", authzSecretPath(prodID, "new"), map[string]any{"value": "intruder"}},
		{"put new secret by store name", "PUT", authzSecretPath("prod", "new"), map[string]any{"value": "intruder"}},
		{"patch", "PATCH", authzSecretPath(prodID, "db/pw"), map[string]any{"comment": "intruder"}},
		{"rollback", "POST", authzSecretPath(prodID, "db/pw") + "/rollback", map[string]any{"version": 1}},
		{"delete secret", "DELETE", authzSecretPath(prodID, "db/pw"), nil},
		{"destroy version", "DELETE", authzSecretPath(prodID, "db/pw") + "/versions/1", nil},
		{"undelete", "POST", authzSecretPath(prodID, oldID) + "/undelete", nil},
		{"purge", "DELETE", authzSecretPath(prodID, oldID) + "?purge=true", nil},
		{"batch values by name", "POST", "/v1/stores/" + prodID + "/values", map[string]any{"names": []string{"db/pw"}}},
		{"batch values by prefix", "POST", "/v1/stores/" + prodID + "/values", map[string]any{"prefix": "db/"}},
		// The other account's secret id, through a store of the caller.
		{"get secret by id via own store", "GET", authzSecretPath("mine", secretID), nil},
		{"get value by id via own store", "GET", authzSecretPath("mine", secretID) + "/value", nil},
		{"delete secret by id via own store", "DELETE", authzSecretPath("mine", secretID), nil},
		{"undelete by id via own store", "POST", authzSecretPath("mine", oldID) + "/undelete", nil},
	}

	before := authzTenantState(t, a, prodID)
	replies := map[string]reply{}
	for _, c := range callers {
		for _, rt := range storeRoutes {
			if c.name == "operator" && strings.Contains(rt.path, "/mine/") {
				continue // the operator has no store mine
			}
			r := (&rawAPI{t: t, base: base, token: c.token}).do(rt.method, rt.path, rt.body)
			if r.Status != 404 || r.Code(t) != "not_found" {
				t.Errorf("%s by %s: got %d %s, want 404 not_found", rt.name, c.name, r.Status, r.Body)
			}
			replies[c.name+"/"+rt.name] = r
		}
	}
	if after := authzTenantState(t, a, prodID); after != before {
		t.Errorf("acme changed after other accounts' requests:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if v, _ := value(t, (&rawAPI{t: t, base: base, token: acmeKey}).must(200, "GET", authzSecretPath("prod", "db/pw")+"/value", nil)); v != "acme-secret-value-2" {
		t.Errorf("acme's value after other accounts' requests: got %q", v)
	}

	t.Run("SameAsMissing", func(t *testing.T) {
		// Remove everything the routes named (the store, its secrets and
		// their versions) and ask again: nothing may differ.
		acme.api(t, base).must(204, "DELETE", "/v1/stores/prod?force=true", nil)
		for _, c := range callers {
			for _, rt := range storeRoutes {
				first, ok := replies[c.name+"/"+rt.name]
				if !ok {
					continue
				}
				r := (&rawAPI{t: t, base: base, token: c.token}).do(rt.method, rt.path, rt.body)
				if r.Status != first.Status || string(r.Body) != string(first.Body) {
					t.Errorf("%s by %s: in another account got %d %s, missing got %d %s, want the same", rt.name, c.name, first.Status, first.Body, r.Status, r.Body)
				}
			}
		}
	})

	t.Run("KeysAndPrincipals", func(t *testing.T) {
		b := globex.api(t, base)
		missingKey, missingPrincipal := authzRandHex(8), authzRandHex(16)
		for _, tt := range []struct {
			name          string
			method        string
			other, absent string // paths or principal ids
		}{
			{"revoke key", "DELETE", "/v1/keys/" + acmeKeyID, "/v1/keys/" + missingKey},
			{"mint key for principal", "POST", acme.PrincipalID, missingPrincipal},
		} {
			do := func(ref string) reply {
				if tt.method == "POST" {
					return b.do("POST", "/v1/keys", map[string]any{"name": "x", "principal_id": ref, "admin": true})
				}
				return b.do(tt.method, ref, nil)
			}
			other, absent := do(tt.other), do(tt.absent)
			if other.Status < 400 || other.Status >= 500 {
				t.Errorf("%s in another account: got %d %s, want a 4xx", tt.name, other.Status, other.Body)
			}
			if other.Status != absent.Status || string(other.Body) != string(absent.Body) {
				t.Errorf("%s: in another account got %d %s, missing got %d %s, want the same", tt.name, other.Status, other.Body, absent.Status, absent.Body)
			}
		}
		(&rawAPI{t: t, base: base, token: acmeKey}).must(200, "GET", "/v1/stores", nil)
		if ids := authzNames(t, acme.api(t, base).must(200, "GET", "/v1/keys", nil), "keys", "id"); len(ids) != 2 {
			t.Errorf("acme keys: got %v, want its admin key and %s", ids, acmeKeyID)
		}
	})

	t.Run("Listings", func(t *testing.T) {
		a, b := acme.api(t, base), globex.api(t, base)
		if got := authzNames(t, b.must(200, "GET", "/v1/stores", nil), "stores", "id"); !slices.Equal(got, []string{mineID}) {
			t.Errorf("globex lists stores %v, want [%s]", got, mineID)
		}
		if got := authzNames(t, (&rawAPI{t: t, base: base, token: root}).must(200, "GET", "/v1/stores", nil), "stores", "id"); len(got) != 0 {
			t.Errorf("operator lists stores %v, want none", got)
		}
		for _, tt := range []struct {
			who          string
			api          *rawAPI
			list, field  string
			ownID, other string
		}{
			{"globex", b, "keys", "id", globex.KeyID, acme.KeyID},
			{"globex", b, "keys", "id", globex.KeyID, acmeKeyID},
			{"globex", b, "principals", "id", globex.PrincipalID, acme.PrincipalID},
			{"acme", a, "keys", "id", acme.KeyID, globex.KeyID},
			{"acme", a, "principals", "id", acme.PrincipalID, globex.PrincipalID},
		} {
			got := authzNames(t, tt.api.must(200, "GET", "/v1/"+tt.list, nil), tt.list, tt.field)
			if !slices.Contains(got, tt.ownID) || slices.Contains(got, tt.other) {
				t.Errorf("%s lists %s %v, want %s and not %s", tt.who, tt.list, got, tt.ownID, tt.other)
			}
		}
		// Each account's audit log holds only its own account's events.
		for _, tt := range []struct {
			who        string
			api        *rawAPI
			own, other string
		}{
			{"acme", a, acme.ID, globex.ID},
			{"globex", b, globex.ID, acme.ID},
		} {
			r := tt.api.must(200, "GET", "/v1/audit?limit=1000", nil)
			for _, e := range r.JSON(t)["events"].([]any) {
				ev := e.(map[string]any)
				if id := authzStr(ev["account_id"]); id != tt.own {
					t.Errorf("%s's audit log holds an event of account %q: %v", tt.who, id, ev)
				}
			}
			if strings.Contains(string(r.Body), "acme-secret-value") {
				t.Errorf("%s's audit log holds a value", tt.who)
			}
		}
	})
}

// authzTenantState describes what an account's admin sees of it: stores,
// secrets of one store (deleted ones too) with their versions, keys and
// principals.
func authzTenantState(t *testing.T, admin *rawAPI, storeID string) string {
	t.Helper()
	var b strings.Builder
	get := func(p string) []byte {
		r := admin.must(200, "GET", p, nil)
		b.WriteString("GET " + p + ": ")
		b.Write(r.Body)
		return r.Body
	}
	get("/v1/stores")
	var list struct {
		Secrets []struct {
			ID string `json:"id"`
		} `json:"secrets"`
	}
	if err := json.Unmarshal(get("/v1/stores/"+storeID+"/secrets?deleted=true"), &list); err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Secrets {
		get(authzSecretPath(storeID, s.ID) + "/versions")
	}
	get("/v1/principals")
	// Keys carry their last use, which the tests' own requests change.
	b.WriteString(strings.Join(authzNames(t, admin.must(200, "GET", "/v1/keys", nil), "keys", "id"), ","))
	return b.String()
}

// authzRandHex returns n random bytes in hex.
func authzRandHex(n int) string { return servertest.RandHex(n) }
