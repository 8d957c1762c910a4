package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// keyBounds is one started server (every face, the console) and its root
// key, for the tests of issue 17's key bounds.
type keyBounds struct {
	t    *testing.T
	base string
	root *rawAPI
}

func startKeyBounds(t *testing.T) *keyBounds {
	t.Helper()
	addr, root := startServer(t)
	return &keyBounds{t: t, base: addr, root: &rawAPI{t: t, base: addr, token: root}}
}

// as is the native API called with token.
func (kb *keyBounds) as(token string) *rawAPI { return &rawAPI{t: kb.t, base: kb.base, token: token} }

// face is the API under prefix called with token.
func (kb *keyBounds) face(prefix, token string) *rawAPI {
	return &rawAPI{t: kb.t, base: kb.base + prefix, token: token}
}

// mint makes a key natively with the root key and returns its token and id.
func (kb *keyBounds) mint(body map[string]any) (token, id string) {
	kb.t.Helper()
	var out struct {
		Key   struct{ ID string } `json:"key"`
		Token string              `json:"token"`
	}
	if err := json.Unmarshal(kb.root.must(201, "POST", "/v1/keys", body).Body, &out); err != nil {
		kb.t.Fatal(err)
	}
	return out.Token, out.Key.ID
}

// keys lists the root account's keys as the root key sees them.
func (kb *keyBounds) keys() []keyRow {
	kb.t.Helper()
	var out struct {
		Keys []keyRow `json:"keys"`
	}
	if err := json.Unmarshal(kb.root.must(200, "GET", "/v1/keys", nil).Body, &out); err != nil {
		kb.t.Fatal(err)
	}
	return out.Keys
}

type keyRow struct {
	ID          string     `json:"id"`
	AccountID   string     `json:"account_id"`
	Name        string     `json:"name"`
	PrincipalID string     `json:"principal_id"`
	Admin       bool       `json:"admin"`
	ExpiresAt   *time.Time `json:"expires_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
}

// keyNamed returns the live key named name; it fails the test unless
// there is exactly one.
func (kb *keyBounds) keyNamed(name string) keyRow {
	kb.t.Helper()
	var found []keyRow
	for _, k := range kb.keys() {
		if k.Name == name && k.RevokedAt == nil {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		kb.t.Fatalf("live keys named %q: got %+v, want one", name, found)
	}
	return found[0]
}

// wantExpiry fails unless the key named name expires exactly at want.
func (kb *keyBounds) wantExpiry(name string, want time.Time) {
	kb.t.Helper()
	if k := kb.keyNamed(name); k.ExpiresAt == nil || !k.ExpiresAt.Equal(want) {
		kb.t.Errorf("key %q expires at %v, want %v (its maker's expiry)", name, k.ExpiresAt, want)
	}
}

// wantNoKey fails if a live key named name exists.
func (kb *keyBounds) wantNoKey(name string) {
	kb.t.Helper()
	for _, k := range kb.keys() {
		if k.Name == name && k.RevokedAt == nil {
			kb.t.Errorf("a refused mint left key %q behind", name)
		}
	}
}

// TestKeyExpiryBound checks that no key outlives the key or access token
// that made it, admin or not, on every route and face that mints one: a
// mint that asks for no expiry gets the maker's, one that asks for a later
// expiry is refused in the face's format and writes nothing.
func TestKeyExpiryBound(t *testing.T) {
	kb := startKeyBounds(t)
	kb.root.must(201, "POST", "/v1/stores", map[string]any{"name": "app"})
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	later := expires.Add(24 * time.Hour)
	// An admin key of the operator account that expires in an hour.
	admin, _ := kb.mint(map[string]any{"name": "temp-admin", "admin": true, "expires_at": expires})

	t.Run("Native", func(t *testing.T) {
		a := kb.as(admin)
		a.must(201, "POST", "/v1/keys", map[string]any{"name": "native-admin", "admin": true})
		kb.wantExpiry("native-admin", expires)
		a.must(201, "POST", "/v1/keys", map[string]any{"name": "native-scoped", "scopes": []map[string]any{{"store": "app", "actions": []string{"read"}}}})
		kb.wantExpiry("native-scoped", expires)
		if r := a.do("POST", "/v1/keys", map[string]any{"name": "native-later", "admin": true, "expires_at": later}); r.Status != 403 || r.Code(t) != "forbidden" {
			t.Errorf("admin key asking for a later expiry: got %d %s, want 403 forbidden", r.Status, r.Body)
		}
		kb.wantNoKey("native-later")
	})

	t.Run("NativeAccount", func(t *testing.T) {
		var out struct {
			Key struct {
				ExpiresAt *time.Time `json:"expires_at"`
			} `json:"key"`
		}
		if err := json.Unmarshal(kb.as(admin).must(201, "POST", "/v1/accounts", map[string]any{"name": "acme"}).Body, &out); err != nil {
			t.Fatal(err)
		}
		if out.Key.ExpiresAt == nil || !out.Key.ExpiresAt.Equal(expires) {
			t.Errorf("the first key of an account made by an expiring operator key expires at %v, want %v", out.Key.ExpiresAt, expires)
		}
	})

	t.Run("Console", func(t *testing.T) {
		s := consoleSignIn(t, kb.base, admin)
		req, _ := http.NewRequest("POST", kb.base+"/v1/keys", strings.NewReader(`{"name":"console-admin","admin":true}`))
		req.AddCookie(&http.Cookie{Name: "coffer_session", Value: s.cookie})
		req.Header.Set("Origin", kb.base)
		req.Header.Set("X-CSRF-Token", s.csrf)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("console key creation: got %d %s", res.StatusCode, body)
		}
		kb.wantExpiry("console-admin", expires)
	})

	t.Run("TrueFoundryPAT", func(t *testing.T) {
		tf := kb.face("/truefoundry/api/svc/v1", admin)
		tf.must(200, "POST", "/personal-access-tokens", map[string]any{"name": "tf-pat"})
		kb.wantExpiry("tf-pat", expires)
		if r := tf.do("POST", "/personal-access-tokens", map[string]any{"name": "tf-later", "expirationDate": later.Format(time.RFC3339)}); r.Status != 403 {
			t.Errorf("admin PAT asking for a later expiry: got %d %s, want 403", r.Status, r.Body)
		}
		kb.wantNoKey("tf-later")
	})

	t.Run("TrueFoundryVirtualAccount", func(t *testing.T) {
		tf := kb.face("/truefoundry/api/svc/v1", admin)
		// The tenant is the account's name: "default" for the first one.
		perms := []map[string]string{{"resource_fqn": "default:app", "resource_type": "secret-group", "role_id": "secret-group-viewer"}}
		tf.must(200, "PUT", "/virtual-accounts", map[string]any{"manifest": map[string]any{"name": "tf-va", "permissions": perms}})
		kb.wantExpiry("tf-va", expires)
		m := map[string]any{"name": "tf-va-later", "permissions": perms, "expiration_date": later.Format(time.DateOnly)}
		if r := tf.do("PUT", "/virtual-accounts", map[string]any{"manifest": m}); r.Status != 403 {
			t.Errorf("virtual account asking for a later expiry: got %d %s, want 403", r.Status, r.Body)
		}
		kb.wantNoKey("tf-va-later")
	})

	t.Run("Chutes", func(t *testing.T) {
		ch := kb.face("/chutes", admin)
		ch.must(200, "POST", "/api_keys/", map[string]any{"name": "chutes-admin", "admin": true})
		kb.wantExpiry("chutes-admin", expires)
	})

	t.Run("ByteNite", func(t *testing.T) {
		bn := kb.face("/bytenite/v1/auth", "")
		// An access token of the root key, which never expires: the token
		// itself expires (in an hour by default), and so do its keys.
		var at struct {
			Token, ExpiresIn string
		}
		if err := json.Unmarshal(bn.must(200, "POST", "/access_token", map[string]any{"apiKey": kb.root.token}).Body, &at); err != nil {
			t.Fatal(err)
		}
		tokenEnd := time.Now().Add(time.Hour)
		bn.token = at.Token
		bn.must(200, "POST", "/api_keys", map[string]any{"name": "bn-from-token"})
		if k := kb.keyNamed("bn-from-token"); k.ExpiresAt == nil || k.ExpiresAt.After(tokenEnd) {
			t.Errorf("key made with an admin access token expires at %v, want no later than the token (%v)", k.ExpiresAt, tokenEnd)
		}
		if r := bn.do("POST", "/api_keys", map[string]any{"name": "bn-later", "validity": "86400s"}); r.Status != 403 {
			t.Errorf("access token asking for a key that outlives it: got %d %s, want 403", r.Status, r.Body)
		}
		kb.wantNoKey("bn-later")
		// The expiring admin key itself, through ByteNite.
		bn.token = admin
		bn.must(200, "POST", "/api_keys", map[string]any{"name": "bn-from-key"})
		kb.wantExpiry("bn-from-key", expires)
	})
}
