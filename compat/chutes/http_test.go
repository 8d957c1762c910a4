package chutes_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/compat/chutes"
	"github.com/coffer-dev/coffer/compat/cloudflare"
	"github.com/coffer-dev/coffer/internal/servertest"
	"github.com/coffer-dev/coffer/server"
)

// chAPI is the Chutes face of a running server, driven with the raw
// requests Chutes' clients send: its Python CLI cannot run here.
type chAPI struct {
	t         *testing.T
	base      string // http://host:port
	root      string // the root admin key
	account   string // its account
	principal string // and principal
	native    *servertest.Client
}

// startChutes starts the real server, with cfg applied to its config.
func startChutes(t *testing.T, cfg func(*server.Config)) *chAPI {
	t.Helper()
	var mods []func(*server.Config)
	if cfg != nil {
		mods = append(mods, cfg)
	}
	srv := servertest.Open(t, nil, mods...)
	a := &chAPI{t: t, base: "http://" + srv.Addr, root: srv.RootToken}
	a.native = &servertest.Client{T: t, Base: a.base, Token: a.root}
	var keys struct {
		Keys []struct {
			AccountID   string `json:"account_id"`
			PrincipalID string `json:"principal_id"`
		} `json:"keys"`
	}
	servertest.Decode(t, a.native.Must(200, "GET", "/v1/keys", nil).Body, &keys)
	a.account, a.principal = keys.Keys[0].AccountID, keys.Keys[0].PrincipalID
	return a
}

// do sends a request to the face with Authorization exactly auth (none when
// empty).
func (a *chAPI) do(method, path, auth string, body any, hdr ...string) servertest.Reply {
	a.t.Helper()
	if auth != "" {
		hdr = append([]string{"Authorization", auth}, hdr...)
	}
	return (&servertest.Client{T: a.t, Base: a.base + strings.TrimSuffix(chutes.Prefix, "/")}).Do(method, path, body, hdr...)
}

// must sends a request with the root key and fails unless the status is want.
func (a *chAPI) must(want int, method, path string, body any) servertest.Reply {
	a.t.Helper()
	return a.mustAs(want, "Bearer "+a.root, method, path, body)
}

func (a *chAPI) mustAs(want int, auth, method, path string, body any) servertest.Reply {
	a.t.Helper()
	r := a.do(method, path, auth, body)
	if r.Status != want {
		a.t.Fatalf("%s %s: got %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	return r
}

// Chutes' objects as its server declares them; decoding with
// DisallowUnknownFields proves that the face sends no other field.
type chSecret struct {
	SecretID  string `json:"secret_id"`
	Key       string `json:"key"`
	Purpose   string `json:"purpose"`
	CreatedAt string `json:"created_at"`
}

type chSecretCreated struct {
	SecretID  string `json:"secret_id"`
	UserID    string `json:"user_id"`
	Purpose   string `json:"purpose"`
	Key       string `json:"key"`
	CreatedAt string `json:"created_at"`
}

type chScope struct {
	ScopeID    string  `json:"scope_id"`
	ObjectType string  `json:"object_type"`
	ObjectID   *string `json:"object_id"`
	Action     *string `json:"action"`
	Method     *string `json:"method"`
}

type chKey struct {
	APIKeyID   string    `json:"api_key_id"`
	UserID     string    `json:"user_id"`
	Admin      bool      `json:"admin"`
	Name       string    `json:"name"`
	CreatedAt  string    `json:"created_at"`
	LastUsedAt *string   `json:"last_used_at"`
	Scopes     []chScope `json:"scopes"`
}

type chKeyCreated struct {
	chKey
	SecretKey string `json:"secret_key"`
}

type chPage[T any] struct {
	Total    int             `json:"total"`
	Page     int             `json:"page"`
	Limit    int             `json:"limit"`
	Items    []T             `json:"items"`
	CordRefs json.RawMessage `json:"cord_refs"`
}

type chInvalid struct {
	Type  string          `json:"type"`
	Loc   []any           `json:"loc"`
	Msg   string          `json:"msg"`
	Input json.RawMessage `json:"input"`
	Ctx   map[string]any  `json:"ctx"`
}

var (
	chUUID      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	chTimestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$`)
	chToken     = regexp.MustCompile(`^cpk_[a-f0-9]{32}\.[a-f0-9]{32}\.[a-zA-Z0-9]{32}$`)
)

// chDashed shows a 32-hex-digit id as a UUID.
func chDashed(id string) string {
	return id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}

// chSecretID is Chutes' secret id, uuid5(NAMESPACE_OID, "owner:purpose:key"),
// with the account as the owner.
func chSecretID(account, purpose, key string) string {
	ns, _ := hex.DecodeString("6ba7b8129dad11d180b400c04fd430c8")
	sum := sha1.Sum(append(ns, chDashed(account)+":"+purpose+":"+key...))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	return chDashed(hex.EncodeToString(sum[:16]))
}

func chDetail(t *testing.T, r servertest.Reply, status int, want string) {
	t.Helper()
	var d struct {
		Detail string `json:"detail"`
	}
	servertest.Strict(t, r.Body, &d)
	if r.Status != status || d.Detail != want {
		t.Errorf("got %d %s, want %d {\"detail\":%q}", r.Status, r.Body, status, want)
	}
}

func chInvalidDetail(t *testing.T, r servertest.Reply) []chInvalid {
	t.Helper()
	if r.Status != 422 {
		t.Fatalf("got %d %s, want 422", r.Status, r.Body)
	}
	var d struct {
		Detail []chInvalid `json:"detail"`
	}
	servertest.Strict(t, r.Body, &d)
	return d.Detail
}

// chWantInvalid compares a 422 detail with the problems wanted, each
// "type loc..." (loc joined by '.'), optionally "=input".
func chWantInvalid(t *testing.T, r servertest.Reply, want ...string) {
	t.Helper()
	var got []string
	for _, it := range chInvalidDetail(t, r) {
		loc := make([]string, len(it.Loc))
		for i, l := range it.Loc {
			loc[i] = strings.Trim(string(mustJSON(t, l)), `"`)
		}
		s := it.Type + " " + strings.Join(loc, ".")
		if it.Input != nil {
			s += "=" + string(it.Input)
		}
		if it.Msg == "" {
			t.Errorf("problem %s without msg", s)
		}
		got = append(got, s)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("422 detail:\ngot  %q\nwant %q\nbody %s", got, want, r.Body)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (a *chAPI) createSecret(purpose, key, value string) chSecretCreated {
	a.t.Helper()
	var s chSecretCreated
	servertest.Strict(a.t, a.must(200, "POST", "/secrets/", map[string]string{"purpose": purpose, "key": key, "value": value}).Body, &s)
	return s
}

func (a *chAPI) createKey(body any) chKeyCreated {
	a.t.Helper()
	var k chKeyCreated
	servertest.Strict(a.t, a.must(200, "POST", "/api_keys/", body).Body, &k)
	return k
}

func TestChutesSecrets(t *testing.T) {
	a := startChutes(t, nil)

	// Before the first secret there is no store, and the list is empty.
	var empty chPage[chSecret]
	servertest.Strict(t, a.must(200, "GET", "/secrets/", nil).Body, &empty)
	if empty.Total != 0 || empty.Page != 0 || empty.Limit != 25 || empty.Items == nil || len(empty.Items) != 0 || string(empty.CordRefs) != "null" {
		t.Fatalf("empty list: got %+v", empty)
	}

	// Create: the CLI's request, both path forms.
	var created []chSecretCreated
	for i, path := range []string{"/secrets/", "/secrets", "/secrets/"} {
		key := "KEY_" + strconv.Itoa(i)
		r := a.do("POST", path, "Bearer "+a.root, `{"purpose":"my-chute","key":"`+key+`","value":"value-`+strconv.Itoa(i)+`"}`, "Content-Type", "application/json")
		if r.Status != 200 {
			t.Fatalf("POST %s: got %d %s", path, r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), "value-") {
			t.Errorf("create returned the value: %s", r.Body)
		}
		var s chSecretCreated
		servertest.Strict(t, r.Body, &s)
		if s.SecretID != chSecretID(a.account, "my-chute", key) || s.UserID != chDashed(a.principal) ||
			s.Purpose != "my-chute" || s.Key != key || !chTimestamp.MatchString(s.CreatedAt) {
			t.Errorf("POST %s: got %+v", path, s)
		}
		created = append(created, s)
	}
	other := a.createSecret("deepseek-ai/DeepSeek-R1", "HF_TOKEN", "hf_other")

	// Duplicate (purpose, key).
	chDetail(t, a.do("POST", "/secrets/", "Bearer "+a.root, map[string]string{"purpose": "my-chute", "key": "KEY_0", "value": "x"}),
		409, "A secret already exists for this purpose with this key.")

	// Get, by every form of the id, with and without the trailing slash.
	want := chSecret{SecretID: created[1].SecretID, Key: "KEY_1", Purpose: "my-chute", CreatedAt: created[1].CreatedAt}
	undashed := strings.ReplaceAll(want.SecretID, "-", "")
	for _, id := range []string{want.SecretID, want.SecretID + "/", undashed, strings.ToUpper(want.SecretID)} {
		var got chSecret
		servertest.Strict(t, a.must(200, "GET", "/secrets/"+id, nil).Body, &got)
		if got != want {
			t.Errorf("GET /secrets/%s: got %+v, want %+v", id, got, want)
		}
	}
	for _, id := range []string{chSecretID(a.account, "my-chute", "NOPE"), "nope", strings.Repeat("0", 32), "my-chute%2FKEY_0"} {
		chDetail(t, a.do("GET", "/secrets/"+id, "Bearer "+a.root, nil), 404, "Secret not found, or does not belong to you")
	}

	// List: newest first, 0-based pages, total before paging.
	order := []string{other.SecretID, created[2].SecretID, created[1].SecretID, created[0].SecretID}
	for _, tt := range []struct {
		query       string
		page, limit int
		ids         []string
	}{
		{"", 0, 25, order},
		{"?page=0&limit=2", 0, 2, order[:2]},
		{"?page=1&limit=2", 1, 2, order[2:]},
		{"?page=1&limit=3", 1, 3, order[3:]},
		{"?page=2&limit=2", 2, 2, nil},
		{"?page=99", 99, 25, nil},
		{"?limit=0", 0, 0, order}, // Chutes' "limit or 25"
		{"?limit=1&limit=3", 0, 3, order[:3]},
		{"?name=ignored", 0, 25, order},
	} {
		for _, path := range []string{"/secrets/", "/secrets"} {
			var p chPage[chSecret]
			servertest.Strict(t, a.must(200, "GET", path+tt.query, nil).Body, &p)
			var ids []string
			for _, it := range p.Items {
				ids = append(ids, it.SecretID)
				if !chUUID.MatchString(it.SecretID) || !chTimestamp.MatchString(it.CreatedAt) || it.Key == "" || it.Purpose == "" {
					t.Errorf("item %+v", it)
				}
			}
			if p.Total != 4 || p.Page != tt.page || p.Limit != tt.limit || p.Items == nil || strings.Join(ids, ",") != strings.Join(tt.ids, ",") || string(p.CordRefs) != "null" {
				t.Errorf("GET %s%s: got total %d page %d limit %d ids %v, want %d %d %v", path, tt.query, p.Total, p.Page, p.Limit, ids, tt.page, tt.limit, tt.ids)
			}
		}
	}
	if body := a.must(200, "GET", "/secrets/", nil).Body; strings.Contains(string(body), "value-") || strings.Contains(string(body), "hf_other") {
		t.Errorf("list returned values: %s", body)
	}

	// The same secret natively: named purpose/key, with its purpose and key
	// kept as attributes, created by the face.
	var nat struct {
		ID         string            `json:"id"`
		Name       string            `json:"name"`
		Origin     string            `json:"origin"`
		Attributes map[string]string `json:"attributes"`
	}
	servertest.Decode(t, a.native.Must(200, "GET", "/v1/stores/chutes/secrets/"+undashed, nil).Body, &nat)
	if nat.ID != undashed || nat.Name != "my-chute/KEY_1" || nat.Origin != "chutes" ||
		nat.Attributes[chutes.AttrPurpose] != "my-chute" || nat.Attributes[chutes.AttrKey] != "KEY_1" {
		t.Errorf("native secret: got %+v", nat)
	}
	if v, _ := servertest.Value(t, a.native.Must(200, "GET", "/v1/stores/chutes/secrets/"+undashed+"/value", nil)); v != "value-1" {
		t.Errorf("native value: got %q", v)
	}
	// A secret written natively into the store shows in Chutes terms.
	a.native.Must(201, "PUT", "/v1/stores/chutes/secrets/NATIVE_ONE", map[string]string{"value": "n"})
	var p chPage[chSecret]
	servertest.Strict(t, a.must(200, "GET", "/secrets/?limit=1", nil).Body, &p)
	if len(p.Items) != 1 || p.Items[0].Key != "NATIVE_ONE" || p.Items[0].Purpose != "" || p.Total != 5 {
		t.Errorf("native secret through Chutes: got %+v", p)
	}

	// Delete: Chutes' reply; then the secret is gone for Chutes...
	id := created[0].SecretID
	for _, path := range []string{"/secrets/" + id + "/", "/secrets/" + id} {
		r := a.do("DELETE", path, "Bearer "+a.root, nil)
		if path == "/secrets/"+id+"/" {
			var d struct {
				Status   string `json:"status"`
				SecretID string `json:"secret_id"`
			}
			servertest.Strict(t, r.Body, &d)
			if r.Status != 200 || d.Status != "Successfully deleted secret "+id || d.SecretID != id {
				t.Errorf("DELETE: got %d %s", r.Status, r.Body)
			}
			continue
		}
		chDetail(t, r, 404, "Secret not found, or does not belong to you")
	}
	chDetail(t, a.do("GET", "/secrets/"+id, "Bearer "+a.root, nil), 404, "Secret not found, or does not belong to you")
	// ...but recoverable natively, as every coffer delete.
	a.native.Must(200, "POST", "/v1/stores/chutes/secrets/"+strings.ReplaceAll(id, "-", "")+"/undelete", nil)
	a.must(200, "GET", "/secrets/"+id, nil)
	a.must(200, "DELETE", "/secrets/"+id, nil)
	// Creating the same purpose and key again purges the deleted secret: the
	// new one has the same id and the new value, and the old is gone for good.
	again := a.createSecret("my-chute", "KEY_0", "value-new")
	if again.SecretID != id {
		t.Errorf("re-created secret id: got %s, want %s", again.SecretID, id)
	}
	if v, _ := servertest.Value(t, a.native.Must(200, "GET", "/v1/stores/chutes/secrets/"+strings.ReplaceAll(id, "-", "")+"/value", nil)); v != "value-new" {
		t.Errorf("re-created value: got %q", v)
	}
	var versions struct {
		Versions []json.RawMessage `json:"versions"`
	}
	servertest.Decode(t, a.native.Must(200, "GET", "/v1/stores/chutes/secrets/"+strings.ReplaceAll(id, "-", "")+"/versions", nil).Body, &versions)
	if len(versions.Versions) != 1 {
		t.Errorf("re-created secret: got %d versions, want 1 (a new secret)", len(versions.Versions))
	}

	// Banned keys, as Chutes' newer server refuses them.
	for _, key := range []string{"PYTHONPATH", "http_proxy", "HF_HUB_DISABLE_SSL_VERIFY", "sgl_x", "LD_PRELOAD", "my_sglang"} {
		chDetail(t, a.do("POST", "/secrets/", "Bearer "+a.root, map[string]string{"purpose": "my-chute", "key": key, "value": "x"}),
			403, "Banned secret key: "+key)
	}
	for _, key := range []string{"PYTHONUNBUFFERED", "UV_SYSTEM_PYTHON"} {
		a.createSecret("my-chute", key, "1")
	}

	// The Cloudflare face sees the same store.
	var stores struct {
		Result []struct {
			Name string `json:"name"`
		} `json:"result"`
	}
	servertest.Decode(t, (&servertest.Client{T: t, Base: a.base, Token: a.root}).Must(200, "GET", cloudflare.Prefix+"accounts/"+a.account+"/secrets_store/stores", nil).Body, &stores)
	if len(stores.Result) != 1 || stores.Result[0].Name != "chutes" {
		t.Errorf("Cloudflare stores: got %+v", stores)
	}
}

func TestChutesSecretsInvalid(t *testing.T) {
	a := startChutes(t, nil)
	post := func(body any, hdr ...string) servertest.Reply {
		t.Helper()
		return a.do("POST", "/secrets/", "Bearer "+a.root, body, hdr...)
	}
	chWantInvalid(t, post(`{}`), "missing body.purpose", "missing body.key", "missing body.value")
	chWantInvalid(t, post(`{"purpose":"p","value":"s3cr3t"}`), "missing body.key")
	chWantInvalid(t, post(`{"purpose":5,"key":null,"value":12345}`), "string_type body.purpose=5", "string_type body.key=null", "string_type body.value")
	chWantInvalid(t, post(``), "missing body=null")
	chWantInvalid(t, post(`["s3cr3t"]`), "model_attributes_type body")
	chWantInvalid(t, post(`"s3cr3t"`), "model_attributes_type body")
	chWantInvalid(t, post(`{"purpose":"p","key":"K","value":"v"}`, "Content-Type", "text/plain"), "model_attributes_type body")
	chWantInvalid(t, post(`{"purpose":"p","key":"K"}`, "Content-Type", "application/vnd.api+json"), "missing body.value")
	chWantInvalid(t, post(`{"purpose":"p","key":"K","value":"v"} x`), `json_invalid body.38={}`)
	chWantInvalid(t, post(`{"purpose":"p",`), `json_invalid body.15={}`)
	chWantInvalid(t, post(`{"purpose":"a b","key":"","value":"v"}`), `string_pattern_mismatch body.purpose="a b"`, `string_too_short body.key=""`)
	chWantInvalid(t, post(`{"purpose":"a/../b","key":"A/B","value":"v"}`), `string_pattern_mismatch body.purpose="a/../b"`, `string_pattern_mismatch body.key="A/B"`)
	long := strings.Repeat("p", 127)
	chWantInvalid(t, post(map[string]string{"purpose": long, "key": strings.Repeat("k", 129), "value": "v"}),
		`string_too_long body.purpose="`+long+`"`, `string_too_long body.key="`+strings.Repeat("k", 129)+`"`)

	// Field details: pydantic's messages and context.
	it := chInvalidDetail(t, post(`{"purpose":"a b","key":"K","value":"v"}`))[0]
	if it.Msg != "String should match pattern '"+it.Ctx["pattern"].(string)+"'" || !strings.HasPrefix(it.Ctx["pattern"].(string), "^") {
		t.Errorf("pattern problem: got %+v", it)
	}
	it = chInvalidDetail(t, post(`{}`))[0]
	if it.Msg != "Field required" || it.Input != nil || it.Ctx != nil {
		t.Errorf("missing problem: got %+v", it)
	}
	it = chInvalidDetail(t, post(`{"purpose":`))[0]
	if it.Msg != "JSON decode error" || it.Ctx["error"] != "Expecting value" {
		t.Errorf("JSON problem: got %+v", it)
	}
	if it = chInvalidDetail(t, post(`{"purpose":"p","key":"K","value":"v"} x`))[0]; it.Ctx["error"] != "Extra data" {
		t.Errorf("JSON problem: got %+v", it)
	}

	// Bodies that are not UTF-8, or too large.
	chDetail(t, post([]byte("{\"purpose\":\"\xff\"}")), 400, "There was an error parsing the body")
	chDetail(t, post(`{"purpose":"p","key":"K","value":"a\udc00b"}`), 400, "There was an error parsing the body")
	if r := post(`{"purpose":"p","key":"K","value":"` + strings.Repeat("v", 600<<10) + `"}`); r.Status != 413 {
		t.Errorf("oversized body: got %d %s", r.Status, r.Body)
	}
	if r := post(`{"purpose":"p","key":"K","value":"` + strings.Repeat("v", 65<<10) + `"}`); r.Status != 413 {
		t.Errorf("oversized value: got %d %s", r.Status, r.Body)
	}

	// Query parameters.
	chWantInvalid(t, a.do("GET", "/secrets/?page=x&limit=-1", "Bearer "+a.root, nil), `int_parsing query.page="x"`, `greater_than_equal query.limit="-1"`)
	chWantInvalid(t, a.do("GET", "/api_keys?limit=1001&page=1.5", "Bearer "+a.root, nil), `int_parsing query.page="1.5"`)
	chWantInvalid(t, a.do("GET", "/secrets?page=99999999999999999999", "Bearer "+a.root, nil), `less_than_equal query.page="99999999999999999999"`)

	// Nothing was written, and no reply quoted a value.
	var p chPage[chSecret]
	servertest.Strict(t, a.must(200, "GET", "/secrets/", nil).Body, &p)
	if p.Total != 0 {
		t.Errorf("bad input wrote %d secrets", p.Total)
	}
}

func TestChutesAPIKeys(t *testing.T) {
	a := startChutes(t, nil)
	sec := a.createSecret("my-chute", "HF_TOKEN", "hf_1")
	otherSec := a.createSecret("other", "HF_TOKEN", "hf_2")

	// A scoped key: the CLI's request.
	k := a.createKey(map[string]any{"admin": false, "name": "ci", "scopes": []map[string]any{
		{"object_type": "secrets", "action": "read"},
		{"object_type": "chutes", "object_id": "abc", "action": "invoke"},
		{"object_type": "invocations"},
	}})
	if !chToken.MatchString(k.SecretKey) || len(k.SecretKey) != 102 ||
		!strings.HasPrefix(k.SecretKey, "cpk_"+strings.ReplaceAll(k.APIKeyID, "-", "")+"."+strings.ReplaceAll(k.UserID, "-", "")+".") {
		t.Errorf("secret_key %q: want cpk_<api_key_id>.<user_id>.<secret>", k.SecretKey)
	}
	if !chUUID.MatchString(k.APIKeyID) || k.UserID != chDashed(a.principal) || k.Admin || k.Name != "ci" ||
		!chTimestamp.MatchString(k.CreatedAt) || k.LastUsedAt != nil || len(k.Scopes) != 3 {
		t.Fatalf("created key: got %+v", k)
	}
	str := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	var got []string
	ids := map[string]bool{}
	for _, sc := range k.Scopes {
		if !chUUID.MatchString(sc.ScopeID) || ids[sc.ScopeID] || str(sc.Action) != str(sc.Method) {
			t.Errorf("scope %+v: want a fresh scope_id and method equal to action", sc)
		}
		ids[sc.ScopeID] = true
		got = append(got, sc.ObjectType+" "+str(sc.ObjectID)+" "+str(sc.Action))
	}
	if want := "secrets null read|chutes abc invoke|invocations null null"; strings.Join(got, "|") != want {
		t.Errorf("scopes: got %q, want %q", got, want)
	}

	// An admin key's scopes are ignored, as at Chutes; admin is read as
	// pydantic reads booleans.
	var adm chKeyCreated
	servertest.Strict(t, a.must(200, "POST", "/api_keys", map[string]any{"admin": "yes", "name": "admin key", "scopes": []map[string]any{{"object_type": "images"}}}).Body, &adm)
	if !adm.Admin || len(adm.Scopes) != 0 || adm.Scopes == nil {
		t.Errorf("admin key: got %+v", adm)
	}

	// List, get: never the secret key; only Chutes-shaped keys of the caller.
	for _, path := range []string{"/api_keys/", "/api_keys"} {
		var p chPage[chKey]
		servertest.Strict(t, a.must(200, "GET", path, nil).Body, &p)
		if p.Total != 2 || len(p.Items) != 2 || p.Items[0].APIKeyID != adm.APIKeyID || p.Items[1].APIKeyID != k.APIKeyID || string(p.CordRefs) != "null" {
			t.Errorf("GET %s: got %s", path, a.must(200, "GET", path, nil).Body)
		}
	}
	var p chPage[chKey]
	servertest.Strict(t, a.must(200, "GET", "/api_keys/?page=1&limit=1", nil).Body, &p)
	if p.Total != 2 || len(p.Items) != 1 || p.Items[0].APIKeyID != k.APIKeyID {
		t.Errorf("page 1: got %+v", p)
	}
	for _, id := range []string{k.APIKeyID, k.APIKeyID + "/", strings.ReplaceAll(k.APIKeyID, "-", "")} {
		var g chKey
		servertest.Strict(t, a.must(200, "GET", "/api_keys/"+id, nil).Body, &g)
		if g.APIKeyID != k.APIKeyID || g.Name != "ci" || !reflect.DeepEqual(g, k.chKey) {
			t.Errorf("GET /api_keys/%s: got %+v", id, g)
		}
	}
	missing := chDashed(strings.Repeat("ab", 16))
	chDetail(t, a.do("GET", "/api_keys/"+missing, "Bearer "+a.root, nil), 404, "API key with id "+missing+" not found or doesn't belong to you")

	// Create refusals.
	chDetail(t, a.do("POST", "/api_keys/", "Bearer "+a.root, map[string]any{"admin": true, "name": "ci"}), 409, "An API key already exists with this name")
	for _, name := range []string{"a/b", strings.Repeat("n", 25), ""} {
		chDetail(t, a.do("POST", "/api_keys/", "Bearer "+a.root, map[string]any{"admin": true, "name": name}), 400,
			"Invalid request: API key name should start with alphanumeric character and contain up to 32 total allowed characters (letters, numbers, dashes, underscores, or spaces)")
	}
	chDetail(t, a.do("POST", "/api_keys/", "Bearer "+a.root, map[string]any{"admin": false, "name": "x", "scopes": []map[string]any{{"object_type": "storage"}}}), 400,
		"Invalid request: Invalid object_type, must be one of images, chutes, invocations, secrets, registry")
	chDetail(t, a.do("POST", "/api_keys/", "Bearer "+a.root, map[string]any{"admin": false, "name": "x", "scopes": []map[string]any{{"object_type": "secrets", "action": "invoke"}}}), 400,
		"Invalid request: action invoke does not apply to secrets")
	chWantInvalid(t, a.do("POST", "/api_keys/", "Bearer "+a.root, `{}`), "missing body.admin", "missing body.name")
	chWantInvalid(t, a.do("POST", "/api_keys/", "Bearer "+a.root, `{"admin":2,"name":7,"scopes":{}}`),
		"bool_parsing body.admin=2", "string_type body.name=7", "list_type body.scopes={}")
	chWantInvalid(t, a.do("POST", "/api_keys/", "Bearer "+a.root, `{"admin":null,"name":"x","scopes":[5,{"object_id":3,"action":"fly"}]}`),
		"bool_type body.admin=null", "model_attributes_type body.scopes.0=5", "missing body.scopes.1.object_type",
		"string_type body.scopes.1.object_id=3", `enum body.scopes.1.action="fly"`)
	it := chInvalidDetail(t, a.do("POST", "/api_keys/", "Bearer "+a.root, `{"admin":true,"name":"x","scopes":[{"object_type":"chutes","action":"READ"}]}`))[0]
	if it.Msg != "Input should be 'read', 'write', 'delete' or 'invoke'" || it.Ctx["expected"] != "'read', 'write', 'delete' or 'invoke'" {
		t.Errorf("enum problem: got %+v", it)
	}

	// The key works on the Chutes face within its scopes, with the
	// Authorization forms the CLI and curl use.
	for _, auth := range []string{"Basic " + k.SecretKey, "Bearer " + k.SecretKey, k.SecretKey} {
		var p chPage[chSecret]
		servertest.Strict(t, a.mustAs(200, auth, "GET", "/secrets/", nil).Body, &p)
		if p.Total != 2 {
			t.Errorf("%.7s: list got %+v", auth, p)
		}
		a.mustAs(200, auth, "GET", "/secrets/"+sec.SecretID, nil)
	}
	// Scope denials are 401, as at Chutes, and audited.
	chDetail(t, a.do("POST", "/secrets/", k.SecretKey, map[string]string{"purpose": "p", "key": "K", "value": "v"}), 401, "Invalid token or user not found")
	chDetail(t, a.do("DELETE", "/secrets/"+sec.SecretID, k.SecretKey, nil), 401, "Invalid token or user not found")
	for _, path := range []string{"/api_keys/", "/api_keys/" + k.APIKeyID} {
		chDetail(t, a.do("GET", path, k.SecretKey, nil), 401, "Invalid token or user not found")
	}
	chDetail(t, a.do("POST", "/api_keys/", k.SecretKey, map[string]any{"admin": false, "name": "y", "scopes": []map[string]any{{"object_type": "secrets"}}}), 401, "Invalid token or user not found")
	chDetail(t, a.do("GET", "/registry/auth", k.SecretKey, nil), 401, "Invalid token or user not found")

	// It is a coffer key: it works natively and on the Cloudflare face,
	// listing and reading metadata but never values.
	scoped := &servertest.Client{T: t, Base: a.base, Token: k.SecretKey}
	scoped.Must(200, "GET", "/v1/stores/chutes/secrets", nil)
	scoped.Must(200, "GET", "/v1/stores/chutes/secrets/"+strings.ReplaceAll(sec.SecretID, "-", ""), nil)
	scoped.Must(403, "GET", "/v1/stores/chutes/secrets/"+strings.ReplaceAll(sec.SecretID, "-", "")+"/value", nil)
	scoped.Must(200, "GET", cloudflare.Prefix+"accounts/"+a.account+"/secrets_store/stores", nil)
	// An admin cpk key is an admin key everywhere.
	(&servertest.Client{T: t, Base: a.base, Token: adm.SecretKey}).Must(200, "GET", "/v1/keys", nil)

	// Write, delete and purpose- or secret-limited keys.
	key := func(name string, scope map[string]any) string {
		return a.createKey(map[string]any{"admin": false, "name": name, "scopes": []map[string]any{scope}}).SecretKey
	}
	writer := key("writer", map[string]any{"object_type": "secrets", "action": "write"})
	deleter := key("deleter", map[string]any{"object_type": "secrets", "action": "delete"})
	purpose := key("purpose", map[string]any{"object_type": "secrets", "object_id": "my-chute"})
	one := key("one", map[string]any{"object_type": "secrets", "object_id": otherSec.SecretID, "action": "read"})

	w := a.mustAs(200, writer, "POST", "/secrets/", map[string]string{"purpose": "w", "key": "K", "value": "v"})
	var ws chSecretCreated
	servertest.Strict(t, w.Body, &ws)
	chDetail(t, a.do("DELETE", "/secrets/"+ws.SecretID, writer, nil), 401, "Invalid token or user not found")
	a.mustAs(200, deleter, "DELETE", "/secrets/"+ws.SecretID, nil)
	// Re-created by a key that may not purge the deleted secret: a fresh id.
	servertest.Strict(t, a.mustAs(200, writer, "POST", "/secrets/", map[string]string{"purpose": "w", "key": "K", "value": "v2"}).Body, &ws)
	if ws.SecretID == chSecretID(a.account, "w", "K") || !chUUID.MatchString(ws.SecretID) {
		t.Errorf("re-created without purge: got id %s, want a fresh one", ws.SecretID)
	}
	a.mustAs(200, writer, "GET", "/secrets/"+ws.SecretID, nil)

	a.mustAs(200, purpose, "POST", "/secrets/", map[string]string{"purpose": "my-chute", "key": "NEW", "value": "v"})
	chDetail(t, a.do("POST", "/secrets/", purpose, map[string]string{"purpose": "other", "key": "NEW", "value": "v"}), 401, "Invalid token or user not found")
	var pp chPage[chSecret]
	servertest.Strict(t, a.mustAs(200, purpose, "GET", "/secrets/", nil).Body, &pp)
	for _, it := range pp.Items {
		if it.Purpose != "my-chute" {
			t.Errorf("purpose-limited key listed %+v", it)
		}
	}
	if pp.Total != 2 {
		t.Errorf("purpose-limited key: got total %d, want 2", pp.Total)
	}
	a.mustAs(200, one, "GET", "/secrets/"+otherSec.SecretID, nil)
	chDetail(t, a.do("GET", "/secrets/"+sec.SecretID, one, nil), 401, "Invalid token or user not found")
	var ok chKey
	servertest.Strict(t, a.must(200, "GET", "/api_keys/"+strings.Split(strings.TrimPrefix(one, "cpk_"), ".")[0], nil).Body, &ok)
	if len(ok.Scopes) != 1 || str(ok.Scopes[0].ObjectID) != otherSec.SecretID || str(ok.Scopes[0].Action) != "read" {
		t.Errorf("secret-limited key: got %+v", ok.Scopes)
	}

	// Delete (revoke): the key stops working at once.
	for _, path := range []string{"/api_keys/" + k.APIKeyID + "/", "/api_keys/" + k.APIKeyID} {
		r := a.do("DELETE", path, "Bearer "+a.root, nil)
		if path == "/api_keys/"+k.APIKeyID {
			chDetail(t, r, 404, "API key not found, or does not belong to you")
			continue
		}
		var d struct {
			APIKeyID string `json:"api_key_id"`
			Deleted  bool   `json:"deleted"`
		}
		servertest.Strict(t, r.Body, &d)
		if r.Status != 200 || d.APIKeyID != k.APIKeyID || !d.Deleted {
			t.Errorf("DELETE: got %d %s", r.Status, r.Body)
		}
	}
	chDetail(t, a.do("GET", "/secrets/", k.SecretKey, nil), 401, "Invalid token or user not found")
	scoped.Must(401, "GET", "/v1/stores/chutes/secrets", nil)
	chDetail(t, a.do("GET", "/api_keys/"+k.APIKeyID, "Bearer "+a.root, nil), 404, "API key with id "+k.APIKeyID+" not found or doesn't belong to you")
	servertest.Strict(t, a.must(200, "GET", "/api_keys/", nil).Body, &p)
	if p.Total != 5 {
		t.Errorf("after delete: got %d keys, want 5", p.Total)
	}
	// The name is free again.
	a.createKey(map[string]any{"admin": true, "name": "ci"})
}

func TestChutesAuth(t *testing.T) {
	a := startChutes(t, nil)
	a.createSecret("my-chute", "HF_TOKEN", "s3cr3t-value")
	k := a.createKey(map[string]any{"admin": true, "name": "admin"})

	// Public.
	var pong struct {
		Message string `json:"message"`
	}
	r := a.do("GET", "/ping", "", nil)
	servertest.Strict(t, r.Body, &pong)
	if r.Status != 200 || pong.Message != "pong" {
		t.Errorf("ping: got %d %s", r.Status, r.Body)
	}

	// No credential, and wrong ones.
	for _, path := range []string{"/secrets/", "/secrets/x", "/api_keys", "/registry/auth"} {
		chDetail(t, a.do("GET", path, "", nil), 401, "Can't find a user with that api key in our db :(")
	}
	chDetail(t, a.do("POST", "/secrets/", "", map[string]string{"purpose": "p", "key": "K", "value": "v"}), 401, "Can't find a user with that api key in our db :(")
	bad := "cpk_" + strings.Repeat("a", 32) + "." + a.principal + "." + strings.Repeat("A", 32)
	for _, auth := range []string{"Bearer " + bad, "Basic " + bad, "Bearer nonsense"} {
		chDetail(t, a.do("GET", "/secrets/", auth, nil), 401, "Invalid token or user not found")
	}
	// A hotkey request on a server without hotkey verification, or for a
	// hotkey it does not know.
	r = a.do("GET", "/secrets/", "", nil, "X-Chutes-Hotkey", "5EhZMRNFXZoh3BmFDsroRAHU9a9takaq3bYTLVEad9xZJMWv",
		"X-Chutes-Nonce", "1764000000", "X-Chutes-Signature", strings.Repeat("ab", 64))
	var d struct {
		Detail string `json:"detail"`
	}
	servertest.Strict(t, r.Body, &d)
	if r.Status != 401 || d.Detail == "" {
		t.Errorf("hotkey: got %d %s, want 401", r.Status, r.Body)
	}

	// Every key format and header form authenticates.
	for _, auth := range []string{k.SecretKey, "Basic " + k.SecretKey, "Bearer " + k.SecretKey, "Bearer " + a.root, a.root, "Basic " + a.root} {
		a.mustAs(200, auth, "GET", "/secrets/", nil)
	}

	// Routes.
	chDetail(t, a.do("GET", "/nope", "Bearer "+a.root, nil), 404, "Not Found")
	chDetail(t, a.do("GET", "/secrets/a/b", "Bearer "+a.root, nil), 404, "Not Found")
	r = a.do("PUT", "/secrets/", "Bearer "+a.root, nil)
	chDetail(t, r, 405, "Method Not Allowed")
	if r.Header.Get("Allow") != "GET, POST" {
		t.Errorf("Allow: got %q", r.Header.Get("Allow"))
	}
	chDetail(t, a.do("POST", "/registry/auth", "Bearer "+a.root, nil), 405, "Method Not Allowed")

	// The audit log names the face on every event, and holds neither the
	// value nor a token's secret.
	events, body := a.auditEvents(t)
	seen := map[string]int{}
	for _, ev := range events {
		if ev.Face == "chutes" {
			seen[ev.Action+" "+ev.Outcome]++
		}
	}
	for _, want := range []string{"secret.write ok", "store.create ok", "key.create ok", "auth.fail unauthorized"} {
		if seen[want] == 0 {
			t.Errorf("no %s event by the chutes face in %v", want, seen)
		}
	}
	// 8 bad API-key requests, and the hotkey one (which a service that
	// verifies hotkeys may record under its own action).
	if n := seen["auth.fail unauthorized"]; n < 8 || n > 9 {
		t.Errorf("got %d failed authentications audited, want 8 or 9", n)
	}
	for _, s := range []string{"s3cr3t-value", k.SecretKey[len(k.SecretKey)-32:], bad[len(bad)-32:]} {
		if strings.Contains(string(body), s) {
			t.Errorf("the audit log holds %q", s)
		}
	}
}

func TestChutesRegistryAuth(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "registry.password")
	if err := os.WriteFile(pwFile, []byte("hunter2:with:colons\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startChutes(t, func(c *server.Config) { c.ChutesRegistryPasswordFile = pwFile })
	wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(":hunter2:with:colons"))
	if wantAuth != "Basic Omh1bnRlcjI6d2l0aDpjb2xvbnM=" {
		t.Fatalf("test's own encoding: %s", wantAuth)
	}
	puller := a.createKey(map[string]any{"admin": false, "name": "puller", "scopes": []map[string]any{{"object_type": "registry"}}})
	reader := a.createKey(map[string]any{"admin": false, "name": "reader", "scopes": []map[string]any{{"object_type": "registry", "action": "read"}}})
	writer := a.createKey(map[string]any{"admin": false, "name": "writer", "scopes": []map[string]any{{"object_type": "registry", "action": "write"}, {"object_type": "images"}}})

	// nginx's subrequest: GET with the puller's headers and no body.
	for _, tt := range []struct {
		auth   string
		path   string
		status int
	}{
		{"Bearer " + a.root, "/registry/auth", 200},
		{"Basic " + puller.SecretKey, "/registry/auth/", 200},
		{reader.SecretKey, "/registry/auth", 200},
		{"Bearer " + writer.SecretKey, "/registry/auth", 401},
	} {
		r := a.do("GET", tt.path, tt.auth, nil, "X-Original-URI", "/v2/user/image/manifests/latest", "X-Chutes-Nonce", "1")
		if r.Status != tt.status {
			t.Errorf("%.12s: got %d %s, want %d", tt.auth, r.Status, r.Body, tt.status)
			continue
		}
		if tt.status != 200 {
			if r.Header.Get("Authorization") != "" {
				t.Errorf("a refusal handed on the registry's credentials")
			}
			chDetail(t, r, 401, "Invalid token or user not found")
			continue
		}
		var ok struct {
			Authenticated bool `json:"authenticated"`
		}
		servertest.Strict(t, r.Body, &ok)
		if !ok.Authenticated || r.Header.Get("Authorization") != wantAuth || len(r.Header.Values("Authorization")) != 1 {
			t.Errorf("%.12s: got %s %v, want authenticated and Authorization %q", tt.auth, r.Body, r.Header, wantAuth)
		}
	}
	// HEAD, as for a manifest check.
	if r := a.do("HEAD", "/registry/auth", "Bearer "+a.root, nil); r.Status != 200 || r.Header.Get("Authorization") != wantAuth {
		t.Errorf("HEAD: got %d %v", r.Status, r.Header)
	}
	chDetail(t, a.do("GET", "/registry/auth", "", nil), 401, "Can't find a user with that api key in our db :(")

	// Without a registry password: no header to hand on.
	b := startChutes(t, nil)
	r := b.do("GET", "/registry/auth", "Bearer "+b.root, nil)
	if r.Status != 200 || r.Header.Get("Authorization") != "" {
		t.Errorf("no password: got %d %v", r.Status, r.Header)
	}
}

// TestChutesRegistryPasswordFileRefused checks that the server does not
// start on an empty or missing registry password file (the flag and its
// environment variable are tested in cmd/coffer).
func TestChutesRegistryPasswordFileRefused(t *testing.T) {
	for name, content := range map[string]string{"Empty": "\n", "Missing": ""} {
		t.Run(name, func(t *testing.T) {
			cfg := server.DefaultConfig()
			cfg.Addr, cfg.DataDir = "127.0.0.1:0", t.TempDir()
			cfg.ChutesRegistryPasswordFile = filepath.Join(t.TempDir(), "pw")
			if content != "" {
				if err := os.WriteFile(cfg.ChutesRegistryPasswordFile, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			srv := &server.Server{Config: cfg, Log: servertest.Logger(nil)}
			if err := srv.Open(context.Background()); err == nil {
				srv.Close()
				t.Fatal("the server started without a registry password")
			}
		})
	}
}

// TestChutesRoot checks the Chutes routes at the server's root, where the
// chutes CLI sends them (aiohttp joins its leading-slash paths, "/secrets/",
// to the base URL as RFC 3986 does, which drops the base URL's path): each
// answers as under /chutes/, with the same auth and errors, audited as the
// chutes face, while every other root path answers as before.
func TestChutesRoot(t *testing.T) {
	pwFile := filepath.Join(t.TempDir(), "registry.password")
	if err := os.WriteFile(pwFile, []byte("regpass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startChutes(t, func(c *server.Config) { c.ChutesRegistryPasswordFile = pwFile })
	root := &servertest.Client{T: t, Base: a.base}
	under := &servertest.Client{T: t, Base: a.base + "/chutes"}
	auth := []string{"Authorization", "Basic " + a.root}
	// same sends a request at the root and under /chutes/ and fails unless
	// both answer want with the same body and Authorization header.
	same := func(want int, method, path string) servertest.Reply {
		t.Helper()
		r, u := root.Do(method, path, nil, auth...), under.Do(method, path, nil, auth...)
		if r.Status != want || u.Status != want || string(r.Body) != string(u.Body) || r.Header.Get("Authorization") != u.Header.Get("Authorization") {
			t.Fatalf("%s %s: root got %d %s, /chutes got %d %s, want %d and the same", method, path, r.Status, r.Body, u.Status, u.Body, want)
		}
		return r
	}

	same(200, "GET", "/ping")
	same(200, "GET", "/ping/")

	// Create, list, get and delete a secret at the root.
	r := root.Must(200, "POST", "/secrets/", map[string]string{"purpose": "my-chute", "key": "HF_TOKEN", "value": "hf_root"}, auth...)
	var sec chSecretCreated
	servertest.Strict(t, r.Body, &sec)
	if sec.SecretID != chSecretID(a.account, "my-chute", "HF_TOKEN") || sec.Purpose != "my-chute" || sec.Key != "HF_TOKEN" {
		t.Fatalf("create at the root: got %s", r.Body)
	}
	chDetail(t, root.Do("POST", "/secrets", map[string]string{"purpose": "my-chute", "key": "HF_TOKEN", "value": "v"}, auth...), 409,
		"A secret already exists for this purpose with this key.")
	for _, path := range []string{"/secrets/", "/secrets", "/secrets/?limit=1&page=0"} {
		var p chPage[chSecret]
		servertest.Strict(t, same(200, "GET", path).Body, &p)
		if p.Total != 1 || len(p.Items) != 1 || p.Items[0].SecretID != sec.SecretID {
			t.Errorf("GET %s: got %+v", path, p)
		}
	}
	same(200, "GET", "/secrets/"+sec.SecretID)
	same(200, "GET", "/secrets/"+sec.SecretID+"/")

	// API keys: create at the root, list and get alike, use it at the root.
	var k chKeyCreated
	servertest.Strict(t, root.Must(200, "POST", "/api_keys/", map[string]any{"admin": true, "name": "cli"}, auth...).Body, &k)
	same(200, "GET", "/api_keys/")
	same(200, "GET", "/api_keys")
	same(200, "GET", "/api_keys/"+k.APIKeyID)
	root.Must(200, "GET", "/secrets/", nil, "Authorization", "Basic "+k.SecretKey)

	// Registry auth for nginx, with the registry's credentials.
	r = same(200, "GET", "/registry/auth")
	same(200, "GET", "/registry/auth/")
	if r.Header.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte(":regpass")) {
		t.Errorf("registry auth at the root: Authorization %q", r.Header.Get("Authorization"))
	}

	// A hotkey-signed request, as the CLI sends it: the signature covers
	// the purpose or the body, never the path.
	a.native.Must(201, "POST", "/v1/hotkeys", map[string]string{"hotkey": vectorHotkey})
	s := servertest.NewChutesSigner(t)
	root.Must(200, "GET", "/secrets/", nil, s.Headers(time.Now(), "secrets")...)
	body := `{"name":"signed","admin":true}`
	root.Must(200, "POST", "/api_keys/", body, s.Headers(time.Now(), bodyHash(body))...)

	// Refusals and errors in Chutes' format, as under /chutes/.
	for _, path := range []string{"/secrets/", "/api_keys/", "/registry/auth"} {
		chDetail(t, root.Do("GET", path, nil), 401, "Can't find a user with that api key in our db :(")
		chDetail(t, root.Do("GET", path, nil, "Authorization", "Basic cpk_wrong"), 401, "Invalid token or user not found")
	}
	missing := chDashed(strings.Repeat("ab", 16))
	same(404, "GET", "/secrets/"+missing)
	same(404, "GET", "/api_keys/"+missing)
	same(404, "GET", "/secrets/a/b")
	same(404, "GET", "/api_keys/a/b")
	r = same(405, "PUT", "/secrets/")
	if r.Header.Get("Allow") != "GET, POST" {
		t.Errorf("Allow: got %q", r.Header.Get("Allow"))
	}
	same(405, "POST", "/registry/auth")
	same(405, "POST", "/ping")

	// Delete at the root.
	r = root.Must(200, "DELETE", "/api_keys/"+k.APIKeyID, nil, auth...)
	if !strings.Contains(string(r.Body), `"deleted":true`) {
		t.Errorf("delete key at the root: got %s", r.Body)
	}
	r = root.Must(200, "DELETE", "/secrets/"+sec.SecretID, nil, auth...)
	if want := `{"status":"Successfully deleted secret ` + sec.SecretID + `","secret_id":"` + sec.SecretID + `"}`; strings.TrimSpace(string(r.Body)) != want {
		t.Errorf("delete at the root: got %s, want %s", r.Body, want)
	}
	same(404, "GET", "/secrets/"+sec.SecretID)

	// Every other root path answers as before: Go's plain 404, or the
	// route it already had.
	for _, path := range []string{"/", "/nope", "/secretsx", "/secrets.json", "/api_keysx", "/registry", "/registry/", "/registry/other", "/registry/auth/x", "/ping/x", "/pingx"} {
		r := root.Do("GET", path, nil, auth...)
		if r.Status != 404 || string(r.Body) != "404 page not found\n" {
			t.Errorf("GET %s: got %d %q, want Go's plain 404", path, r.Status, r.Body)
		}
	}
	root.Must(200, "GET", "/healthz", nil)
	root.Must(200, "GET", "/v1/stores", nil, "Authorization", "Bearer "+a.root)

	// The root's requests are audited as the chutes face.
	events, _ := a.auditEvents(t)
	seen := map[string]bool{}
	for _, ev := range events {
		seen[ev.Face+" "+ev.Action+" "+ev.Outcome] = true
	}
	for _, want := range []string{"chutes secret.write ok", "chutes key.create ok", "chutes key.revoke ok", "chutes auth.fail unauthorized"} {
		if !seen[want] {
			t.Errorf("no %q event in %v", want, seen)
		}
	}
}

// TestChutesRootOff checks --chutes-root=false: the face answers only
// under /chutes/, and the root paths are Go's plain 404.
func TestChutesRootOff(t *testing.T) {
	a := startChutes(t, func(c *server.Config) { c.ChutesRoot = false })
	a.must(200, "GET", "/secrets/", nil)
	root := &servertest.Client{T: t, Base: a.base}
	for _, path := range []string{"/ping", "/secrets/", "/secrets", "/api_keys/", "/registry/auth"} {
		r := root.Do("GET", path, nil, "Authorization", "Basic "+a.root)
		if r.Status != 404 || string(r.Body) != "404 page not found\n" {
			t.Errorf("GET %s: got %d %q, want Go's plain 404", path, r.Status, r.Body)
		}
	}
}

// TestChutesLimitClamp checks that a limit above 1000, which Chutes does not
// bound, is served as 1000 and answered as such, so that a client paging by
// the limit it is told sees every item once.
func TestChutesLimitClamp(t *testing.T) {
	a := startChutes(t, nil)
	for i := range 3 {
		a.createKey(map[string]any{"admin": true, "name": "k" + strconv.Itoa(i)})
	}
	for _, path := range []string{"/api_keys/", "/secrets/"} {
		for _, limit := range []string{"1001", "5000", "99999999999999999999"} {
			var p chPage[json.RawMessage]
			servertest.Strict(t, a.must(200, "GET", path+"?page=0&limit="+limit, nil).Body, &p)
			if p.Limit != 1000 || p.Page != 0 || len(p.Items) != p.Total {
				t.Errorf("GET %s?limit=%s: got limit %d page %d, %d of %d items; want limit 1000, every item", path, limit, p.Limit, p.Page, len(p.Items), p.Total)
			}
		}
	}
	var p chPage[chKey]
	servertest.Strict(t, a.must(200, "GET", "/api_keys/?page=0&limit=5000", nil).Body, &p)
	if p.Total != 3 || len(p.Items) != 3 {
		t.Errorf("keys: got %d of %d, want 3", len(p.Items), p.Total)
	}
	// The page is counted in pages of the limit served.
	servertest.Strict(t, a.must(200, "GET", "/api_keys/?page=1&limit=5000", nil).Body, &p)
	if p.Limit != 1000 || p.Page != 1 || p.Total != 3 || len(p.Items) != 0 {
		t.Errorf("page 1: got %+v", p)
	}
}

// TestChutesPowerlessKey checks a key that is not admin and has no scope
// (scopes [], null or left out: the chutes CLI's "keys create --name X"):
// created as at Chutes, shown with "scopes": [], it authenticates and may do
// nothing, refused in Chutes' format.
func TestChutesPowerlessKey(t *testing.T) {
	a := startChutes(t, nil)
	sec := a.createSecret("my-chute", "HF_TOKEN", "hf_1")
	var keys []chKeyCreated
	for i, body := range []string{
		`{"name":"cli-default","admin":false,"scopes":[]}`,
		`{"name":"null-scopes","admin":false,"scopes":null}`,
		`{"name":"no-scopes","admin":false}`,
	} {
		var k chKeyCreated
		servertest.Strict(t, a.must(200, "POST", "/api_keys/", body).Body, &k)
		if !chToken.MatchString(k.SecretKey) || k.Admin || k.Scopes == nil || len(k.Scopes) != 0 {
			t.Fatalf("%d: got %+v, want a key with scopes []", i, k)
		}
		var g chKey
		servertest.Strict(t, a.must(200, "GET", "/api_keys/"+k.APIKeyID, nil).Body, &g)
		if !reflect.DeepEqual(g, k.chKey) {
			t.Errorf("GET: got %+v, want %+v", g, k.chKey)
		}
		keys = append(keys, k)
	}
	k := keys[0].SecretKey
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/secrets/", nil},
		{"GET", "/secrets/" + sec.SecretID, nil},
		{"POST", "/secrets/", map[string]string{"purpose": "p", "key": "K", "value": "v"}},
		{"DELETE", "/secrets/" + sec.SecretID, nil},
		{"GET", "/api_keys/", nil},
		{"GET", "/api_keys/" + keys[1].APIKeyID, nil},
		{"POST", "/api_keys/", map[string]any{"admin": false, "name": "child"}},
		{"DELETE", "/api_keys/" + keys[1].APIKeyID, nil},
		{"GET", "/registry/auth", nil},
	} {
		chDetail(t, a.do(r.method, r.path, "Basic "+k, r.body), 401, "Invalid token or user not found")
	}
	// It authenticates: natively a refusal is 403, not 401.
	(&servertest.Client{T: t, Base: a.base, Token: k}).Must(403, "GET", "/v1/stores/chutes/secrets", nil)
	(&servertest.Client{T: t, Base: a.base, Token: k + "x"}).Must(401, "GET", "/v1/stores/chutes/secrets", nil)
	// Nothing changed.
	var p chPage[chKey]
	servertest.Strict(t, a.must(200, "GET", "/api_keys/", nil).Body, &p)
	a.must(200, "GET", "/secrets/"+sec.SecretID, nil)
	if p.Total != 3 {
		t.Errorf("keys: got %d, want 3", p.Total)
	}
}

// chEvent is what the Chutes tests read of an audit event.
type chEvent struct {
	Action  string `json:"action"`
	Outcome string `json:"outcome"`
	Face    string `json:"face"`
}

// auditEvents returns the account's audit events (natively, up to 1000)
// and the response body they came in.
func (a *chAPI) auditEvents(t *testing.T) ([]chEvent, []byte) {
	t.Helper()
	var audit struct {
		Events []chEvent `json:"events"`
	}
	body := a.native.Must(200, "GET", "/v1/audit?limit=1000", nil).Body
	servertest.Decode(t, body, &audit)
	return audit.Events, body
}
