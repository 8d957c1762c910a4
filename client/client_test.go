package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/client"
)

const testToken = "cfr_TOKEN-must-not-leak"

// exchange is one request the fake server expects and the answer it gives.
type exchange struct {
	Method string
	Path   string // escaped, as on the wire
	Query  string // raw query, as on the wire
	Header map[string]string
	Body   string // JSON the request body must equal; "" for no body

	Status      int
	Reply       string
	ContentType string            // default application/json
	ReplyHeader map[string]string // more response headers
}

// fakeServer is an httptest.Server that checks each request against the
// next expected exchange and replies with its canned answer.
type fakeServer struct {
	*httptest.Server
	t    testing.TB
	want []exchange
	n    atomic.Int32
}

func newFakeServer(tb testing.TB, want ...exchange) *fakeServer {
	tb.Helper()
	f := &fakeServer{t: tb, want: want}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	t := f.t
	i := int(f.n.Add(1)) - 1
	if i >= len(f.want) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	ex := f.want[i]
	if got, want := r.Method, ex.Method; got != want {
		t.Errorf("method: got %q, want %q", got, want)
	}
	if got, want := r.URL.EscapedPath(), ex.Path; got != want {
		t.Errorf("path: got %q, want %q", got, want)
	}
	if got, want := r.URL.RawQuery, ex.Query; got != want {
		t.Errorf("query: got %q, want %q", got, want)
	}
	wantHeader := map[string]string{
		"Authorization": "Bearer " + testToken,
		"Accept":        "application/json",
		"User-Agent":    client.DefaultUserAgent,
		"If-Match":      "",
		"If-None-Match": "",
		"Content-Type":  "",
	}
	if ex.Body != "" {
		wantHeader["Content-Type"] = "application/json"
	}
	for k, v := range ex.Header {
		wantHeader[k] = v
	}
	for k, want := range wantHeader {
		if got := r.Header.Get(k); got != want {
			t.Errorf("header %s: got %q, want %q", k, got, want)
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case ex.Body == "" && len(body) > 0:
		t.Errorf("body: got %s, want none", body)
	case ex.Body != "":
		var got, want any
		if err := json.Unmarshal(body, &got); err != nil {
			t.Errorf("body %s: %v", body, err)
		} else if err := json.Unmarshal([]byte(ex.Body), &want); err != nil {
			t.Fatalf("bad test body %s: %v", ex.Body, err)
		} else if !reflect.DeepEqual(got, want) {
			t.Errorf("body: got %s, want %s", body, ex.Body)
		}
	}
	ct := ex.ContentType
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	for k, v := range ex.ReplyHeader {
		w.Header().Set(k, v)
	}
	status := ex.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	io.WriteString(w, ex.Reply)
}

// MustNew returns a client of the fake server.
func (f *fakeServer) MustNew(tb testing.TB, opts ...client.Option) *client.Client {
	tb.Helper()
	c, err := client.New(f.URL, testToken, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

var (
	t0        = time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	storeJSON = `{"id":"0123456789abcdef0123456789abcdef","account_id":"a","name":"prod","comment":"c","created_at":"2025-01-02T03:04:05.000000006Z","updated_at":"2025-01-02T03:04:05.000000006Z"}`
	secretV3  = `{"id":"s1","account_id":"a","store_id":"st","name":"db/password","status":"active","origin":"native","version":3,"created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z","created_by":"p"}`
	deletedV3 = `{"id":"s1","name":"db/password","status":"deleted","version":3,"deleted_at":"2025-01-02T03:04:05Z"}`
)

// accountCreatedJSON is the answer to POST /v1/accounts.
const accountCreatedJSON = `{"account":{"id":"acc2","name":"acme","created_at":"2025-01-02T03:04:05.000000006Z"},` +
	`"principal":{"id":"p1","account_id":"acc2","name":"admin","kind":"user","created_at":"2025-01-02T03:04:05Z"},` +
	`"key":{"id":"k1","account_id":"acc2","principal_id":"p1","name":"admin","admin":true,"scopes":[],"created_at":"2025-01-02T03:04:05Z"},` +
	`"token":"cfr_acme"}`

// TestClient checks the exact request each method sends and how it reads
// the answer.
func TestClient(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		ex    exchange
		call  func(c *client.Client) (any, error)
		check func(t *testing.T, got any)
	}{
		{
			name: "CreateStore",
			ex:   exchange{Method: "POST", Path: "/v1/stores", Body: `{"name":"prod","comment":"c"}`, Status: 201, Reply: storeJSON},
			call: func(c *client.Client) (any, error) {
				return c.CreateStore(ctx, &coffer.StoreCreate{Name: "prod", Comment: "c"})
			},
			check: func(t *testing.T, got any) {
				s := got.(*coffer.Store)
				if s.Name != "prod" || s.ID != "0123456789abcdef0123456789abcdef" || !s.CreatedAt.Equal(t0) {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "Store",
			ex:   exchange{Method: "GET", Path: "/v1/stores/prod", Reply: storeJSON},
			call: func(c *client.Client) (any, error) { return c.Store(ctx, "prod") },
			check: func(t *testing.T, got any) {
				if s := got.(*coffer.Store); s.Comment != "c" {
					t.Errorf("got comment %q, want %q", s.Comment, "c")
				}
			},
		},
		{
			name: "Stores",
			ex:   exchange{Method: "GET", Path: "/v1/stores", Query: "cursor=abc%3D&limit=10", Reply: `{"stores":[` + storeJSON + `],"next_cursor":"n"}`},
			call: func(c *client.Client) (any, error) { return c.Stores(ctx, coffer.Page{Limit: 10, Cursor: "abc="}) },
			check: func(t *testing.T, got any) {
				if p := got.(*coffer.StorePage); len(p.Stores) != 1 || p.NextCursor != "n" {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "StoresDefaultPage",
			ex:   exchange{Method: "GET", Path: "/v1/stores", Reply: `{"stores":[]}`},
			call: func(c *client.Client) (any, error) { return c.Stores(ctx, coffer.Page{}) },
		},
		{
			name: "DeleteStore",
			ex:   exchange{Method: "DELETE", Path: "/v1/stores/prod", Status: 204},
			call: func(c *client.Client) (any, error) { return nil, c.DeleteStore(ctx, "prod", false) },
		},
		{
			name: "DeleteStoreForce",
			ex:   exchange{Method: "DELETE", Path: "/v1/stores/prod", Query: "force=true", Status: 204},
			call: func(c *client.Client) (any, error) { return nil, c.DeleteStore(ctx, "prod", true) },
		},
		{
			name: "PutSecretIfMatch",
			ex: exchange{Method: "PUT", Path: "/v1/stores/prod/secrets/db%2Fpassword",
				Header: map[string]string{"If-Match": `"3"`},
				Body:   `{"value":"s3cret\n","comment":"rotated","labels":{"team":"db"}}`,
				Reply:  secretV3},
			call: func(c *client.Client) (any, error) {
				return c.PutSecret(ctx, "prod", &coffer.SecretPut{Name: "db/password", Value: []byte("s3cret\n"), IfVersion: 3,
					Comment: ptr("rotated"), Labels: map[string]string{"team": "db"}})
			},
			check: func(t *testing.T, got any) {
				if s := got.(*coffer.Secret); s.Version != 3 || s.Name != "db/password" || s.Status != coffer.StatusActive {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "PutSecretBinaryCreateOnly",
			ex: exchange{Method: "PUT", Path: "/v1/stores/prod/secrets/cert",
				Header: map[string]string{"If-None-Match": "*"},
				Body:   `{"value":"/wBh","encoding":"base64"}`,
				Status: 201, Reply: secretV3},
			call: func(c *client.Client) (any, error) {
				return c.PutSecret(ctx, "prod", &coffer.SecretPut{Name: "cert", Value: []byte{0xff, 0, 'a'}, IfVersion: -1})
			},
		},
		{
			name: "PutSecretEmptyComment",
			ex:   exchange{Method: "PUT", Path: "/v1/stores/prod/secrets/a", Body: `{"value":"","comment":""}`, Reply: secretV3},
			call: func(c *client.Client) (any, error) {
				return c.PutSecret(ctx, "prod", &coffer.SecretPut{Name: "a", Value: nil, Comment: ptr("")})
			},
		},
		{
			name: "PutSecretExpiry",
			ex: exchange{Method: "PUT", Path: "/v1/stores/prod/secrets/a",
				Body: `{"value":"v","expires_at":"2026-01-02T03:04:05.5Z"}`, Reply: secretV3},
			call: func(c *client.Client) (any, error) {
				exp := time.Date(2026, 1, 2, 3, 4, 5, 500000000, time.UTC)
				return c.PutSecret(ctx, "prod", &coffer.SecretPut{Name: "a", Value: []byte("v"), ExpiresAt: &exp})
			},
		},
		{
			name: "UpdateSecretRemoveExpiry",
			ex:   exchange{Method: "PATCH", Path: "/v1/stores/prod/secrets/a", Body: `{"expires_at":null}`, Reply: secretV3},
			call: func(c *client.Client) (any, error) {
				return c.UpdateSecret(ctx, "prod", "a", &coffer.SecretPatch{ExpiresAt: &time.Time{}})
			},
		},
		{
			name: "UpdateSecretExpiry",
			ex:   exchange{Method: "PATCH", Path: "/v1/stores/prod/secrets/a", Body: `{"comment":"c","expires_at":"2026-01-02T03:04:05Z"}`, Reply: secretV3},
			call: func(c *client.Client) (any, error) {
				exp := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
				return c.UpdateSecret(ctx, "prod", "a", &coffer.SecretPatch{Comment: ptr("c"), ExpiresAt: &exp})
			},
		},
		{
			name: "Secret",
			ex:   exchange{Method: "GET", Path: "/v1/stores/prod/secrets/db%2Fpassword", Reply: secretV3},
			call: func(c *client.Client) (any, error) { return c.Secret(ctx, "prod", "db/password") },
		},
		{
			name: "Secrets",
			ex: exchange{Method: "GET", Path: "/v1/stores/my.store/secrets", Query: "cursor=c&deleted=true&limit=5&prefix=db%2F",
				Reply: `{"secrets":[` + secretV3 + `,` + deletedV3 + `]}`},
			call: func(c *client.Client) (any, error) {
				return c.Secrets(ctx, "my.store", coffer.ListSecrets{Page: coffer.Page{Limit: 5, Cursor: "c"}, Prefix: "db/", IncludeDeleted: true})
			},
			check: func(t *testing.T, got any) {
				p := got.(*coffer.SecretPage)
				if len(p.Secrets) != 2 || p.Secrets[1].Status != coffer.StatusDeleted || p.Secrets[1].DeletedAt == nil || p.NextCursor != "" {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "UpdateSecret",
			ex: exchange{Method: "PATCH", Path: "/v1/stores/prod/secrets/db%2Fpassword", Header: map[string]string{"If-Match": `"3"`},
				Body: `{"comment":"new"}`, Reply: secretV3},
			call: func(c *client.Client) (any, error) {
				return c.UpdateSecret(ctx, "prod", "db/password", &coffer.SecretPatch{Comment: ptr("new"), IfVersion: 3})
			},
		},
		{
			name: "RevealLatest",
			ex:   exchange{Method: "GET", Path: "/v1/stores/prod/secrets/db%2Fpassword/value", Reply: `{"name":"db/password","version":3,"value":"s3cret"}`},
			call: func(c *client.Client) (any, error) { return c.Reveal(ctx, "prod", "db/password", 0) },
			check: func(t *testing.T, got any) {
				if v := got.(*coffer.Value); string(v.Data) != "s3cret" || v.Version != 3 || v.Name != "db/password" {
					t.Errorf("got %q v%d %q", v.Data, v.Version, v.Name)
				}
			},
		},
		{
			name: "RevealVersionBase64",
			ex:   exchange{Method: "GET", Path: "/v1/stores/prod/secrets/cert/value", Query: "version=2", Reply: `{"name":"cert","version":2,"value":"/wBh","encoding":"base64"}`},
			call: func(c *client.Client) (any, error) { return c.Reveal(ctx, "prod", "cert", 2) },
			check: func(t *testing.T, got any) {
				if v := got.(*coffer.Value); string(v.Data) != "\xff\x00a" {
					t.Errorf("got %q, want %q", v.Data, "\xff\x00a")
				}
			},
		},
		{
			name: "RevealMany",
			ex: exchange{Method: "POST", Path: "/v1/stores/prod/values", Body: `{"prefix":"db/","limit":2,"cursor":"x"}`,
				Reply: `{"values":[{"name":"db/a","version":1,"value":"A"},{"name":"db/b","version":4,"value":"Qg==","encoding":"base64"}],"next_cursor":"y"}`},
			call: func(c *client.Client) (any, error) {
				return c.RevealMany(ctx, "prod", &coffer.RevealQuery{Prefix: "db/", Limit: 2, Cursor: "x"})
			},
			check: func(t *testing.T, got any) {
				p := got.(*coffer.ValuePage)
				if len(p.Values) != 2 || string(p.Values[0].Data) != "A" || string(p.Values[1].Data) != "B" || p.Values[1].Version != 4 || p.NextCursor != "y" {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "RevealManyNames",
			ex: exchange{Method: "POST", Path: "/v1/stores/prod/values", Body: `{"names":["a","b"]}`,
				Reply: `{"values":[{"name":"a","version":1,"value":"A"}],"missing":["b"]}`},
			call: func(c *client.Client) (any, error) {
				return c.RevealMany(ctx, "prod", &coffer.RevealQuery{Names: []string{"a", "b"}})
			},
			check: func(t *testing.T, got any) {
				if p := got.(*coffer.ValuePage); len(p.Values) != 1 || !reflect.DeepEqual(p.Missing, []string{"b"}) {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "Versions",
			ex: exchange{Method: "GET", Path: "/v1/stores/prod/secrets/db%2Fpassword/versions",
				Reply: `{"versions":[{"version":2,"created_at":"2025-01-02T03:04:05Z","created_by":"p"},{"version":1,"created_at":"2025-01-02T03:04:05Z","created_by":"p","destroyed_at":"2025-01-03T00:00:00Z"}]}`},
			call: func(c *client.Client) (any, error) { return c.Versions(ctx, "prod", "db/password") },
			check: func(t *testing.T, got any) {
				vs := got.([]*coffer.Version)
				if len(vs) != 2 || vs[0].Number != 2 || vs[0].DestroyedAt != nil || vs[1].DestroyedAt == nil {
					t.Errorf("got %+v", vs)
				}
			},
		},
		{
			name: "Rollback",
			ex: exchange{Method: "POST", Path: "/v1/stores/prod/secrets/db%2Fpassword/rollback", Header: map[string]string{"If-Match": `"2"`},
				Body: `{"version":1}`, Reply: secretV3},
			call: func(c *client.Client) (any, error) { return c.Rollback(ctx, "prod", "db/password", 1, 2) },
		},
		{
			name: "DeleteSecret",
			ex:   exchange{Method: "DELETE", Path: "/v1/stores/prod/secrets/db%2Fpassword", Reply: deletedV3},
			call: func(c *client.Client) (any, error) { return c.DeleteSecret(ctx, "prod", "db/password", 0) },
			check: func(t *testing.T, got any) {
				if s := got.(*coffer.Secret); s.Status != coffer.StatusDeleted || s.ID != "s1" {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "DeleteSecretIfMatch",
			ex:   exchange{Method: "DELETE", Path: "/v1/stores/prod/secrets/x", Header: map[string]string{"If-Match": `"7"`}, Reply: deletedV3},
			call: func(c *client.Client) (any, error) { return c.DeleteSecret(ctx, "prod", "x", 7) },
		},
		{
			name: "UndeleteSecret",
			ex:   exchange{Method: "POST", Path: "/v1/stores/prod/secrets/s1/undelete", Reply: secretV3},
			call: func(c *client.Client) (any, error) { return c.UndeleteSecret(ctx, "prod", "s1") },
		},
		{
			name: "PurgeSecret",
			ex:   exchange{Method: "DELETE", Path: "/v1/stores/prod/secrets/s1", Query: "purge=true", Status: 204},
			call: func(c *client.Client) (any, error) { return nil, c.PurgeSecret(ctx, "prod", "s1") },
		},
		{
			name: "DestroyVersion",
			ex:   exchange{Method: "DELETE", Path: "/v1/stores/prod/secrets/db%2Fpassword/versions/2", Status: 204},
			call: func(c *client.Client) (any, error) { return nil, c.DestroyVersion(ctx, "prod", "db/password", 2) },
		},
		{
			name: "DeleteVersions",
			ex: exchange{Method: "POST", Path: "/v1/stores/prod/secrets/db%2Fpassword/versions/delete",
				Body: `{"versions":[1,3]}`, Reply: secretV3},
			call: func(c *client.Client) (any, error) { return c.DeleteVersions(ctx, "prod", "db/password", []int{1, 3}) },
		},
		{
			name: "UndeleteVersions",
			ex: exchange{Method: "POST", Path: "/v1/stores/prod/secrets/s1/versions/undelete",
				Body: `{"versions":[2]}`, Reply: secretV3},
			call: func(c *client.Client) (any, error) { return c.UndeleteVersions(ctx, "prod", "s1", []int{2}) },
		},
		{
			name: "CreateAPIKey",
			ex: exchange{Method: "POST", Path: "/v1/keys",
				Body:   `{"name":"ci","admin":false,"scopes":[{"store":"prod","secret":"db/*","actions":["read","reveal"]}],"expires_at":"2025-01-02T03:04:05.000000006Z"}`,
				Status: 201, Reply: `{"key":{"id":"k1","name":"ci","admin":false,"scopes":[{"store":"prod","secret":"db/*","actions":["read","reveal"]}],"created_at":"2025-01-02T03:04:05Z"},"token":"cfr_new"}`},
			call: func(c *client.Client) (any, error) {
				k, tok, err := c.CreateAPIKey(ctx, &coffer.APIKeyCreate{Name: "ci",
					Scopes: []coffer.Scope{{Store: "prod", Secret: "db/*", Actions: []coffer.Action{"read", "reveal"}}}, ExpiresAt: &t0})
				return [2]any{k, tok}, err
			},
			check: func(t *testing.T, got any) {
				r := got.([2]any)
				if k := r[0].(*coffer.APIKey); k.ID != "k1" || len(k.Scopes) != 1 || k.Scopes[0].Secret != "db/*" {
					t.Errorf("got key %+v", k)
				}
				if r[1] != "cfr_new" {
					t.Errorf("got token %q, want %q", r[1], "cfr_new")
				}
			},
		},
		{
			name: "CreateAPIKeyAdminNoScopes",
			ex: exchange{Method: "POST", Path: "/v1/keys", Body: `{"name":"root2","admin":true,"scopes":[]}`,
				Status: 201, Reply: `{"key":{"id":"k2","name":"root2","admin":true,"scopes":[]},"token":"cfr_x"}`},
			call: func(c *client.Client) (any, error) {
				_, _, err := c.CreateAPIKey(ctx, &coffer.APIKeyCreate{Name: "root2", Admin: true})
				return nil, err
			},
		},
		{
			name: "CreateAPIKeyForPrincipal",
			ex: exchange{Method: "POST", Path: "/v1/keys",
				Body:   `{"name":"ci","principal_id":"p2","admin":false,"scopes":[{"store":"prod","actions":["list"]}]}`,
				Status: 201, Reply: `{"key":{"id":"k3","principal_id":"p2","name":"ci","scopes":[{"store":"prod","actions":["list"]}]},"token":"cfr_p2"}`},
			call: func(c *client.Client) (any, error) {
				k, _, err := c.CreateAPIKey(ctx, &coffer.APIKeyCreate{Name: "ci", PrincipalID: "p2",
					Scopes: []coffer.Scope{{Store: "prod", Actions: []coffer.Action{"list"}}}})
				return k, err
			},
			check: func(t *testing.T, got any) {
				if k := got.(*coffer.APIKey); k.PrincipalID != "p2" {
					t.Errorf("got principal %q, want %q", k.PrincipalID, "p2")
				}
			},
		},
		{
			name: "APIKeys",
			ex:   exchange{Method: "GET", Path: "/v1/keys", Reply: `{"keys":[{"id":"k1","name":"ci","scopes":[]},{"id":"k2","name":"x","admin":true,"scopes":[],"revoked_at":"2025-01-02T03:04:05Z"}]}`},
			call: func(c *client.Client) (any, error) { return c.APIKeys(ctx) },
			check: func(t *testing.T, got any) {
				if ks := got.([]*coffer.APIKey); len(ks) != 2 || ks[1].RevokedAt == nil || !ks[1].Admin {
					t.Errorf("got %+v", ks)
				}
			},
		},
		{
			name: "RevokeAPIKey",
			ex:   exchange{Method: "DELETE", Path: "/v1/keys/k1", Status: 204},
			call: func(c *client.Client) (any, error) { return nil, c.RevokeAPIKey(ctx, "k1") },
		},
		{
			name: "CreateAccount",
			ex:   exchange{Method: "POST", Path: "/v1/accounts", Body: `{"name":"acme"}`, Status: 201, Reply: accountCreatedJSON},
			call: func(c *client.Client) (any, error) {
				return c.CreateAccount(ctx, &coffer.AccountCreate{Name: "acme"})
			},
			check: func(t *testing.T, got any) {
				a := got.(*coffer.AccountCreated)
				if a.Account.ID != "acc2" || a.Account.Name != "acme" || !a.Account.CreatedAt.Equal(t0) {
					t.Errorf("got account %+v", a.Account)
				}
				if a.Principal == nil || a.Principal.ID != "p1" || a.Principal.Kind != "user" || a.Principal.AccountID != "acc2" {
					t.Errorf("got principal %+v", a.Principal)
				}
				if !a.Key.Admin || a.Key.ID != "k1" || a.Token != "cfr_acme" {
					t.Errorf("got key %+v, token %q", a.Key, a.Token)
				}
			},
		},
		{
			name: "Accounts",
			ex: exchange{Method: "GET", Path: "/v1/accounts",
				Reply: `{"accounts":[{"id":"acc1","name":"operator","created_at":"2025-01-02T03:04:05Z"},{"id":"acc2","name":"acme","created_at":"2025-01-02T03:04:05.000000006Z"}]}`},
			call: func(c *client.Client) (any, error) { return c.Accounts(ctx) },
			check: func(t *testing.T, got any) {
				if as := got.([]*coffer.Account); len(as) != 2 || as[1].Name != "acme" || !as[1].CreatedAt.Equal(t0) {
					t.Errorf("got %+v", as)
				}
			},
		},
		{
			name: "CreatePrincipal",
			ex: exchange{Method: "POST", Path: "/v1/principals", Body: `{"name":"ci","kind":"service"}`, Status: 201,
				Reply: `{"id":"p2","account_id":"acc2","name":"ci","kind":"service","created_at":"2025-01-02T03:04:05.000000006Z"}`},
			call: func(c *client.Client) (any, error) {
				return c.CreatePrincipal(ctx, &coffer.PrincipalCreate{Name: "ci", Kind: "service"})
			},
			check: func(t *testing.T, got any) {
				want := coffer.Principal{ID: "p2", AccountID: "acc2", Name: "ci", Kind: "service", CreatedAt: t0}
				if p := got.(*coffer.Principal); !reflect.DeepEqual(*p, want) {
					t.Errorf("got %+v, want %+v", *p, want)
				}
			},
		},
		{
			name: "Principals",
			ex: exchange{Method: "GET", Path: "/v1/principals",
				Reply: `{"principals":[{"id":"p1","name":"admin","kind":"user"},{"id":"p2","name":"ci","kind":"service"}]}`},
			call: func(c *client.Client) (any, error) { return c.Principals(ctx) },
			check: func(t *testing.T, got any) {
				if ps := got.([]*coffer.Principal); len(ps) != 2 || ps[0].Name != "admin" || ps[1].Kind != "service" {
					t.Errorf("got %+v", ps)
				}
			},
		},
		{
			name: "AuditEvents",
			ex: exchange{Method: "GET", Path: "/v1/audit", Query: "after=5&limit=10",
				Reply: `{"events":[{"seq":6,"time":"2025-01-02T03:04:05Z","action":"secret.reveal","outcome":"ok","prev_hash":"AQ==","hash":"Ag=="}],"next":6}`},
			call: func(c *client.Client) (any, error) { return c.AuditEvents(ctx, coffer.AuditQuery{After: 5, Limit: 10}) },
			check: func(t *testing.T, got any) {
				p := got.(*coffer.AuditPage)
				if len(p.Events) != 1 || p.Events[0].Seq != 6 || string(p.Events[0].Hash) != "\x02" || p.Next != 6 {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "AuditEventsQuery",
			ex: exchange{Method: "GET", Path: "/v1/audit",
				Query: "action=secret.&before=90&limit=5&object=DB_PASSWORD&order=desc&outcome=forbidden&principal=k1&since=2026-03-04T05%3A06%3A07.5Z&until=2026-03-05T00%3A00%3A00Z",
				Reply: `{"events":[]}`},
			call: func(c *client.Client) (any, error) {
				return c.AuditEvents(ctx, coffer.AuditQuery{Before: 90, Limit: 5, Newest: true, Principal: "k1", Object: "DB_PASSWORD",
					Action: "secret.", Outcome: "forbidden", Since: time.Date(2026, 3, 4, 6, 6, 7, 5e8, time.FixedZone("CET", 3600)),
					Until: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)})
			},
			check: func(t *testing.T, got any) {
				if p := got.(*coffer.AuditPage); len(p.Events) != 0 || p.Next != 0 {
					t.Errorf("got %+v", p)
				}
			},
		},
		{
			name: "VerifyAudit",
			ex:   exchange{Method: "GET", Path: "/v1/audit/verify", Reply: `{"ok":false,"events":4,"head_seq":4,"head_hash":"AQ==","broken_at":5,"problem":"edited"}`},
			call: func(c *client.Client) (any, error) { return c.VerifyAudit(ctx) },
			check: func(t *testing.T, got any) {
				if r := got.(*coffer.AuditReport); r.OK || r.BrokenAt != 5 || r.Problem != "edited" || r.Events != 4 {
					t.Errorf("got %+v", r)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t, tt.ex)
			got, err := tt.call(f.MustNew(t))
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if n := f.n.Load(); n != 1 {
				t.Fatalf("got %d requests, want 1", n)
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

// TestClient_ErrorMapping checks that the API's error body comes back as
// *coffer.Error and that anything else names the status.
func TestClient_ErrorMapping(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		reply       string
		wantCode    string
		wantMessage string // for *coffer.Error
		wantIn      string // for other errors: a part of the message
	}{
		{"ErrNotFound", 404, "", `{"error":{"code":"not_found","message":"secret \"x\" not found"}}`, coffer.ENOTFOUND, `secret "x" not found`, ""},
		{"ErrPrecondition", 412, "", `{"error":{"code":"precondition_failed","message":"version 3 is not the latest"}}`, coffer.EPRECONDITION, "version 3 is not the latest", ""},
		{"ErrUnauthorized", 401, "", `{"error":{"code":"unauthorized","message":"unauthorized"}}`, coffer.EUNAUTHORIZED, "unauthorized", ""},
		{"ErrForbidden", 403, "", `{"error":{"code":"forbidden","message":"scope does not allow reveal"}}`, coffer.EFORBIDDEN, "scope does not allow reveal", ""},
		{"ErrConflict", 409, "", `{"error":{"code":"conflict","message":"store is not empty"}}`, coffer.ECONFLICT, "store is not empty", ""},
		{"ErrInternal", 500, "", `{"error":{"code":"internal","message":"internal error"}}`, coffer.EINTERNAL, "internal error", ""},
		{"ErrUnavailable", 503, "", `{"error":{"code":"unavailable","message":"shutting down"}}`, coffer.EUNAVAILABLE, "shutting down", ""},
		{"ErrRateLimit", 429, "", `{"error":{"code":"rate_limited","message":"slow down"}}`, coffer.ERATELIMIT, "slow down", ""},
		{"HTMLBadGateway", 502, "text/html", `<html>bad gateway</html>`, coffer.EINTERNAL, "", "502 Bad Gateway"},
		{"JSONWithoutErrorShape", 404, "", `{"message":"no route"}`, coffer.EINTERNAL, "", "404 Not Found"},
		{"EmptyErrorBody", 500, "", ``, coffer.EINTERNAL, "", "500 Internal Server Error"},
		{"NotJSONOnSuccess", 200, "text/html", `<html>hello</html>`, coffer.EINTERNAL, "", `200 OK (Content-Type "text/html")`},
		{"NoBodyOnSuccess", 204, "", ``, coffer.EINTERNAL, "", "204 No Content"},
		{"Redirect", 304, "", ``, coffer.EINTERNAL, "", "304 Not Modified"},
		{"BadValueEncoding", 200, "", `{"name":"x","version":1,"value":"v","encoding":"rot13"}`, coffer.EINTERNAL, "", "200 OK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t, exchange{Method: "GET", Path: "/v1/stores/prod/secrets/x/value",
				Status: tt.status, ContentType: tt.contentType, Reply: tt.reply})
			_, err := f.MustNew(t).Reveal(context.Background(), "prod", "x", 0)
			if err == nil {
				t.Fatal("got no error")
			}
			if got, want := coffer.ErrorCode(err), tt.wantCode; got != want {
				t.Errorf("code: got %q, want %q (%v)", got, want, err)
			}
			var e *coffer.Error
			if tt.wantMessage != "" {
				if !errors.As(err, &e) {
					t.Fatalf("got %T %v, want *coffer.Error", err, err)
				}
				if got, want := *e, (coffer.Error{Code: tt.wantCode, Message: tt.wantMessage}); got != want {
					t.Errorf("got %+v, want %+v", got, want)
				}
			} else {
				if errors.As(err, &e) {
					t.Errorf("got *coffer.Error %v, want a plain error", err)
				}
				if !strings.Contains(err.Error(), tt.wantIn) {
					t.Errorf("got %q, want it to name %q", err, tt.wantIn)
				}
			}
		})
	}
}

// TestClient_RateLimited checks that a 429 comes back as ERATELIMIT with the
// delay of its Retry-After header, whatever the body.
func TestClient_RateLimited(t *testing.T) {
	const body = `{"error":{"code":"rate_limited","message":"too many failed authentications"}}`
	const msg = "too many failed authentications"
	tests := []struct {
		name        string
		status      int
		retryAfter  string
		reply       string
		wantCode    string
		wantMessage string
		wantMin     time.Duration
		wantMax     time.Duration
	}{
		{"OK", 429, "30", body, coffer.ERATELIMIT, msg, 30 * time.Second, 30 * time.Second},
		{"NoHeader", 429, "", body, coffer.ERATELIMIT, msg, 0, 0},
		{"Zero", 429, "0", body, coffer.ERATELIMIT, msg, 0, 0},
		{"Negative", 429, "-5", body, coffer.ERATELIMIT, msg, 0, 0},
		{"Garbage", 429, "soon", body, coffer.ERATELIMIT, msg, 0, 0},
		{"Huge", 429, "99999999999999999", body, coffer.ERATELIMIT, msg, 1 << 62, 1<<63 - 1},
		{"HTTPDate", 429, time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat), body, coffer.ERATELIMIT, msg, 118 * time.Second, 121 * time.Second},
		{"PastHTTPDate", 429, "Mon, 02 Jan 2006 15:04:05 GMT", body, coffer.ERATELIMIT, msg, 0, 0},
		{"ProxyBody", 429, "7", "<html>slow down</html>", coffer.ERATELIMIT, "too many requests", 7 * time.Second, 7 * time.Second},
		{"Unavailable", 503, "3", `{"error":{"code":"unavailable","message":"shutting down"}}`, coffer.EUNAVAILABLE, "shutting down", 3 * time.Second, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := exchange{Method: "GET", Path: "/v1/accounts", Status: tt.status, Reply: tt.reply}
			if tt.retryAfter != "" {
				ex.ReplyHeader = map[string]string{"Retry-After": tt.retryAfter}
			}
			f := newFakeServer(t, ex)
			_, err := f.MustNew(t).Accounts(context.Background())
			var e *coffer.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T %v, want *coffer.Error", err, err)
			}
			if e.Code != tt.wantCode || e.Message != tt.wantMessage {
				t.Errorf("got %q %q, want %q %q", e.Code, e.Message, tt.wantCode, tt.wantMessage)
			}
			if e.RetryAfter < tt.wantMin || e.RetryAfter > tt.wantMax {
				t.Errorf("RetryAfter: got %v, want %v to %v", e.RetryAfter, tt.wantMin, tt.wantMax)
			}
		})
	}
}

// TestClient_CreateAccountIncomplete checks that an answer without the token
// is an error, not an account nobody can use.
func TestClient_CreateAccountIncomplete(t *testing.T) {
	f := newFakeServer(t, exchange{Method: "POST", Path: "/v1/accounts", Body: `{"name":"acme"}`, Status: 201,
		Reply: `{"account":{"id":"acc2","name":"acme"},"key":{"id":"k1"}}`})
	if a, err := f.MustNew(t).CreateAccount(context.Background(), &coffer.AccountCreate{Name: "acme"}); err == nil {
		t.Errorf("got %+v, want an error", a)
	}
}

// TestClient_NoSecretsInErrors checks that neither the token nor a value
// ends up in an error message, whatever goes wrong.
func TestClient_NoSecretsInErrors(t *testing.T) {
	const value = "VALUE-must-not-leak"
	replies := []exchange{
		{Status: 400, Reply: `{"error":{"code":"invalid","message":"bad value"}}`},
		{Status: 413, Reply: `{"error":{"code":"too_large","message":"value is larger than 65536 bytes"}}`},
		{Status: 502, ContentType: "text/plain", Reply: "proxy error"},
		{Status: 200, Reply: `{"version":"not a number"}`},
		{Status: 200, ContentType: "text/html", Reply: `<html>`},
	}
	check := func(t *testing.T, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("got no error")
		}
		for _, s := range []string{testToken, value} {
			if strings.Contains(err.Error(), s) || strings.Contains(coffer.ErrorMessage(err), s) {
				t.Errorf("error %q reveals %q", err, s)
			}
		}
	}
	for _, r := range replies {
		r.Method, r.Path, r.Body = "PUT", "/v1/stores/prod/secrets/k", `{"value":"`+value+`"}`
		f := newFakeServer(t, r)
		_, err := f.MustNew(t).PutSecret(context.Background(), "prod", &coffer.SecretPut{Name: "k", Value: []byte(value)})
		check(t, err)
	}

	t.Run("ServerGone", func(t *testing.T) {
		f := newFakeServer(t)
		c := f.MustNew(t)
		f.Close()
		_, err := c.PutSecret(context.Background(), "prod", &coffer.SecretPut{Name: "k", Value: []byte(value)})
		check(t, err)
	})
	t.Run("BadToken", func(t *testing.T) {
		_, err := client.New("http://127.0.0.1:1", "tok\nen-"+value)
		check(t, err)
	})
	t.Run("PasswordInAddress", func(t *testing.T) {
		_, err := client.New("ftp://u:"+value+"@example.com", testToken)
		check(t, err)
		_, err = client.New("http://u:"+value+"@exa mple.com/%zz", testToken)
		check(t, err)
	})
}

func TestNew(t *testing.T) {
	for _, addr := range []string{"", "127.0.0.1:8200", "ftp://example.com", "http://", "http://h/?q=1", "http://h/#f", "://x"} {
		if _, err := client.New(addr, "t"); err == nil {
			t.Errorf("New(%q): got no error", addr)
		}
	}

	t.Run("BasePath", func(t *testing.T) {
		f := newFakeServer(t, exchange{Method: "GET", Path: "/coffer/v1/stores/prod", Reply: storeJSON})
		c, err := client.New(f.URL+"/coffer/", testToken)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Store(context.Background(), "prod"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Options", func(t *testing.T) {
		f := newFakeServer(t, exchange{Method: "GET", Path: "/v1/keys", Header: map[string]string{"User-Agent": "my-tool/1.0"}, Reply: `{"keys":[]}`})
		var used atomic.Bool
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			used.Store(true)
			return http.DefaultTransport.RoundTrip(r)
		})}
		c := f.MustNew(t, client.WithHTTPClient(hc), client.WithUserAgent("my-tool/1.0"))
		if _, err := c.APIKeys(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !used.Load() {
			t.Error("custom http.Client was not used")
		}
	})

	t.Run("NoToken", func(t *testing.T) {
		f := newFakeServer(t, exchange{Method: "GET", Path: "/v1/keys", Header: map[string]string{"Authorization": ""},
			Status: 401, Reply: `{"error":{"code":"unauthorized","message":"unauthorized"}}`})
		c, err := client.New(f.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.APIKeys(context.Background()); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Errorf("got %v, want unauthorized", err)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestClient_BadInput checks that input the API could not route is refused
// before any request is sent.
func TestClient_BadInput(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t) // any request fails the test
	c := f.MustNew(t)
	calls := map[string]func() error{
		"EmptyStore":      func() error { _, err := c.Store(ctx, ""); return err },
		"DotDotSecret":    func() error { _, err := c.Secret(ctx, "prod", ".."); return err },
		"DotStore":        func() error { _, err := c.Secrets(ctx, ".", coffer.ListSecrets{}); return err },
		"EmptyName":       func() error { _, err := c.PutSecret(ctx, "prod", &coffer.SecretPut{Value: []byte("v")}); return err },
		"BadIfVersion":    func() error { _, err := c.PutSecret(ctx, "p", &coffer.SecretPut{Name: "n", IfVersion: -2}); return err },
		"CreateOnlyPatch": func() error { _, err := c.UpdateSecret(ctx, "p", "n", &coffer.SecretPatch{IfVersion: -1}); return err },
		"NegativeReveal":  func() error { _, err := c.Reveal(ctx, "p", "n", -1); return err },
		"ZeroDestroy":     func() error { return c.DestroyVersion(ctx, "p", "n", 0) },
		"NoVersions":      func() error { _, err := c.DeleteVersions(ctx, "p", "n", nil); return err },
		"ZeroUndelete":    func() error { _, err := c.UndeleteVersions(ctx, "p", "n", []int{0}); return err },
		"EmptyKeyID":      func() error { return c.RevokeAPIKey(ctx, "") },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if got, want := coffer.ErrorCode(call()), coffer.EINVALID; got != want {
				t.Errorf("got code %q, want %q", got, want)
			}
		})
	}
}

func TestClient_ContextCanceled(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	c, err := client.New(srv.URL, testToken)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.VerifyAudit(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
}
