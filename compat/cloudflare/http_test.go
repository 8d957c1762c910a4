package cloudflare_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/servertest"
)

// These tests drive the Cloudflare face with plain HTTP, for what
// cloudflare-go does not expose: the legacy auth headers, account checks,
// malformed requests.

// cfReply is the envelope of a Cloudflare face response.
type cfReply = servertest.CloudflareReply

func decodeCF(t *testing.T, r servertest.Reply) cfReply {
	t.Helper()
	return servertest.DecodeCloudflare(t, r)
}

// wantCFError asserts a failure envelope with the status and first code, and
// that the SDKs are told not to retry a 4xx other than 429.
func wantCFError(t *testing.T, r servertest.Reply, status, code int) {
	t.Helper()
	e := decodeCF(t, r)
	if r.Status != status || e.Success || len(e.Errors) == 0 || e.Errors[0].Code != code || string(e.Result) != "null" {
		t.Fatalf("got %d %s, want %d with code %d", r.Status, r.Body, status, code)
	}
	if retry := r.Header.Get("X-Should-Retry"); status < 500 && status != 429 && retry != "false" {
		t.Fatalf("got x-should-retry %q on %d, want false", retry, status)
	}
}

// cfRaw returns a plain-HTTP client of the face, with the root key.
func cfRaw(t *testing.T, s *cfServer) *servertest.Client {
	return &servertest.Client{T: t, Base: s.Base, Token: s.Token}
}

// path returns the face's path of p under the account's secrets_store.
func (s *cfServer) path(p string) string {
	return "/cloudflare/client/v4/accounts/" + s.Account + "/secrets_store" + p
}

func TestCloudflareAuth(t *testing.T) {
	s := startCloudflare(t)
	anon := &servertest.Client{T: t, Base: s.Base}

	t.Run("XAuthKey", func(t *testing.T) {
		r := anon.Do("GET", s.path("/quota"), nil, "X-Auth-Email", "ops@example.com", "X-Auth-Key", s.Token)
		if e := decodeCF(t, r); r.Status != 200 || !e.Success {
			t.Fatalf("got %d %s, want 200", r.Status, r.Body)
		}
	})
	for _, tt := range []struct {
		name string
		hdr  []string
	}{
		{"ErrNoCredential", nil},
		{"ErrKeyWithoutEmail", []string{"X-Auth-Key", s.Token}},
		{"ErrWrongKey", []string{"X-Auth-Email", "ops@example.com", "X-Auth-Key", servertest.FlipLast(s.Token)}},
		{"ErrWrongBearer", []string{"Authorization", "Bearer nope"}},
		{"ErrBasic", []string{"Authorization", "Basic " + s.Token}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantCFError(t, anon.Do("GET", s.path("/quota"), nil, tt.hdr...), 401, 10000)
		})
	}

	t.Run("ErrRateLimited", func(t *testing.T) {
		s := startCloudflare(t)
		var r servertest.Reply
		for range 12 {
			r = (&servertest.Client{T: t, Base: s.Base, Token: "cfr_0000000000000000_" + strings.Repeat("0", 64)}).Do("GET", s.path("/quota"), nil)
		}
		wantCFError(t, r, 429, 1008)
		if r.Header.Get("Retry-After") == "" || r.Header.Get("X-Should-Retry") != "" {
			t.Fatalf("got headers %v, want Retry-After and no x-should-retry", r.Header)
		}
	})
}

func TestCloudflareAccounts(t *testing.T) {
	s := startCloudflare(t)
	root := cfRaw(t, s)
	st := root.Must(200, "POST", s.path("/stores"), map[string]any{"name": "root-store"})
	var store struct{ ID string }
	json.Unmarshal(decodeCF(t, st).Result, &store)

	// A second account with its own admin key.
	r := root.Must(201, "POST", "/v1/accounts", map[string]any{"name": "acme"})
	var acme struct {
		Account struct{ ID string } `json:"account"`
		Token   string              `json:"token"`
	}
	if err := json.Unmarshal(r.Body, &acme); err != nil {
		t.Fatal(err)
	}
	other := &cfServer{Base: s.Base, Token: acme.Token, Account: acme.Account.ID}
	acmeAPI := cfRaw(t, other)

	t.Run("ErrOtherAccount", func(t *testing.T) {
		// The root key on acme's account id: refused like any account the
		// key may not use, existing or not.
		wantCFError(t, root.Do("GET", other.path("/stores"), nil), 403, 10000)
		wantCFError(t, root.Do("GET", "/cloudflare/client/v4/accounts/"+strings.Repeat("0", 32)+"/secrets_store/stores", nil), 403, 10000)
		// Both refusals are in the caller's audit log.
		native := &servertest.Client{T: t, Base: s.Base, Token: s.Token}
		var log struct{ Events []coffer.AuditEvent }
		if err := json.Unmarshal(native.Must(200, "GET", "/v1/audit?limit=1000", nil).Body, &log); err != nil {
			t.Fatal(err)
		}
		refused := map[string]bool{}
		for _, e := range log.Events {
			if e.Action == "account.access" && e.Outcome == coffer.EFORBIDDEN && e.Face == "cloudflare" {
				refused[e.Name] = true
			}
		}
		if !refused[acme.Account.ID] || !refused[strings.Repeat("0", 32)] {
			t.Errorf("audited account refusals: got %v, want acme's id and the unknown one", refused)
		}
	})
	t.Run("ErrOtherAccountsStore", func(t *testing.T) {
		// acme, in its own account, asking for root's store: not found.
		wantCFError(t, acmeAPI.Do("GET", other.path("/stores/"+store.ID), nil), 404, 1002)
		wantCFError(t, acmeAPI.Do("GET", other.path("/stores/"+store.ID+"/secrets"), nil), 404, 1002)
		wantCFError(t, acmeAPI.Do("DELETE", other.path("/stores/"+store.ID+"?force=true"), nil), 404, 1002)
		if e := decodeCF(t, acmeAPI.Must(200, "GET", other.path("/stores"), nil)); string(e.Result) != "[]" {
			t.Fatalf("acme sees stores: %s", e.Result)
		}
		root.Must(200, "GET", s.path("/stores/"+store.ID), nil)
	})
	t.Run("OwnLimits", func(t *testing.T) {
		// Each account has its own quota: acme may make its one store.
		acmeAPI.Must(200, "POST", other.path("/stores"), map[string]any{"name": "acme-store"})
	})
}

func TestCloudflareRoutes(t *testing.T) {
	s := startCloudflare(t)
	a := cfRaw(t, s)
	for _, tt := range []struct {
		name, method, path string
		status, code       int
	}{
		{"ErrAccountNotHex", "GET", "/cloudflare/client/v4/accounts/xyz/secrets_store/quota", 400, 7003},
		{"ErrAccountUpper", "GET", "/cloudflare/client/v4/accounts/" + strings.ToUpper(s.Account) + "/secrets_store/quota", 400, 7003},
		{"ErrStoreNotHex", "GET", s.path("/stores/my-store"), 400, 7003},
		{"ErrSecretNotHex", "GET", s.path("/stores/" + strings.Repeat("a", 32) + "/secrets/MY_SECRET"), 400, 7003},
		{"ErrNoRoute", "GET", "/cloudflare/client/v4/accounts/" + s.Account + "/secrets_store/vaults", 404, 7000},
		{"ErrMethod", "PUT", s.path("/stores"), 404, 7000},
		{"ErrUnknownStore", "GET", s.path("/stores/" + strings.Repeat("a", 32)), 404, 1002},
		{"ErrUnknownStoreSecrets", "GET", s.path("/stores/" + strings.Repeat("a", 32) + "/secrets"), 404, 1002},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := a.Do(tt.method, tt.path, nil)
			wantCFError(t, r, tt.status, tt.code)
			if tt.code == 7003 && (len(decodeCF(t, r).Errors) != 2 || !strings.Contains(string(r.Body), "perhaps your object identifier is invalid")) {
				t.Fatalf("got %s, want Cloudflare's 7003 and 7000", r.Body)
			}
		})
	}
	t.Run("LegacyArrayStoreCreate", func(t *testing.T) {
		// cloudflare-go up to v6.6 sent [{name}] and read an array back.
		e := decodeCF(t, a.Must(200, "POST", s.path("/stores"), []map[string]any{{"name": "legacy"}}))
		var got []struct{ Name string }
		if err := json.Unmarshal(e.Result, &got); err != nil || len(got) != 1 || got[0].Name != "legacy" {
			t.Fatalf("got %s, want an array of one store", e.Result)
		}
	})
}

func TestCloudflareBadInput(t *testing.T) {
	s := startCloudflare(t, "stores=3,secrets=10")
	a := cfRaw(t, s)
	oas := newOASTransport(t)
	var st struct{ ID string }
	json.Unmarshal(decodeCF(t, a.Must(200, "POST", s.path("/stores"), map[string]any{"name": "main"})).Result, &st)
	e := decodeCF(t, a.Must(200, "POST", s.path("/stores/"+st.ID+"/secrets"),
		[]map[string]any{{"name": "EXISTING", "value": "value-existing", "scopes": []string{"workers"}}}))
	var made []struct{ ID string }
	json.Unmarshal(e.Result, &made)
	secrets := s.path("/stores/" + st.ID + "/secrets")
	one := secrets + "/" + made[0].ID

	item := func(kv ...any) []map[string]any {
		m := map[string]any{"name": "NEW", "value": "value-new", "scopes": []string{"workers"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return []map[string]any{m}
	}
	huge := `[{"name":"BIG","scopes":["workers"],"value":"` + strings.Repeat("x", 9<<20) + `"}]`
	for _, tt := range []struct {
		name, method, path string
		body               any
		status, code       int
	}{
		{"ErrOversizedCreate", "POST", secrets, huge, 413, 1007},
		{"ErrOversizedPatch", "PATCH", one, `{"value":"` + strings.Repeat("x", 600<<10) + `"}`, 413, 1007},
		{"ErrValueTooLarge", "POST", secrets, item("value", strings.Repeat("x", 64<<10+1)), 400, 1001},
		{"ErrUnknownField", "POST", secrets, item("labels", map[string]string{"a": "b"}), 400, 1001},
		{"ErrUnknownFieldStore", "POST", s.path("/stores"), map[string]any{"name": "x", "comment": "y"}, 400, 1001},
		{"ErrUnknownFieldPatch", "PATCH", one, map[string]any{"name": "RENAMED"}, 400, 1001},
		{"ErrNameDot", "POST", secrets, item("name", "my.secret"), 400, 1001},
		{"ErrNameSpace", "POST", secrets, item("name", "MY SECRET"), 400, 1001},
		{"ErrNameSlash", "POST", secrets, item("name", "a/b"), 400, 1001},
		{"ErrNameUnicode", "POST", secrets, item("name", "SCHLÜSSEL"), 400, 1001},
		{"ErrNameEmpty", "POST", secrets, item("name", ""), 400, 1001},
		{"ErrNameLong", "POST", secrets, item("name", strings.Repeat("A", 256)), 400, 1001},
		{"ErrNameMissing", "POST", secrets, item("name", nil), 400, 1001},
		{"ErrValueMissing", "POST", secrets, item("value", nil), 400, 1001},
		{"ErrValueEmpty", "POST", secrets, item("value", ""), 400, 1001},
		{"ErrValueNumber", "POST", secrets, item("value", 42), 400, 1001},
		{"ErrScopesMissing", "POST", secrets, item("scopes", nil), 400, 1001},
		{"ErrScopesString", "POST", secrets, item("scopes", "workers"), 400, 1001},
		{"ErrScopeBad", "POST", secrets, item("scopes", []string{"Workers!"}), 400, 1001},
		{"ErrCommentLong", "POST", secrets, item("comment", strings.Repeat("c", 1025)), 400, 1001},
		{"ErrBadUTF8", "POST", secrets, []byte("[{\"name\":\"NEW\",\"value\":\"\xff\xfe\",\"scopes\":[]}]"), 400, 1001},
		{"ErrBadJSON", "POST", secrets, `[{"name":"NEW",`, 400, 1001},
		{"ErrTrailingJSON", "POST", secrets, `[] []`, 400, 1001},
		{"ErrObjectNotArray", "POST", secrets, item()[0], 400, 1001},
		{"ErrEmptyArray", "POST", secrets, `[]`, 400, 1001},
		{"ErrEmptyBody", "POST", secrets, ``, 400, 1001},
		{"ErrNameTwice", "POST", secrets, append(item(), item()...), 400, 1001},
		{"ErrNameTaken", "POST", secrets, item("name", "EXISTING"), 409, 1005},
		{"ErrStoreNameBad", "POST", s.path("/stores"), map[string]any{"name": "../x"}, 400, 1001},
		{"ErrStoreNameMissing", "POST", s.path("/stores"), map[string]any{}, 400, 1001},
		{"ErrStoreTaken", "POST", s.path("/stores"), map[string]any{"name": "main"}, 409, 1005},
		{"ErrPatchValueEmpty", "PATCH", one, map[string]any{"value": ""}, 400, 1001},
		{"ErrPatchScopes", "PATCH", one, map[string]any{"scopes": []int{1}}, 400, 1001},
		{"ErrPatchBadUTF8", "PATCH", one, []byte("{\"comment\":\"\xc3\x28\"}"), 400, 1001},
		{"ErrLoneHighSurrogate", "POST", secrets, `[{"name":"NEW","value":"value-a\ud800b","scopes":["workers"]}]`, 400, 1001},
		{"ErrLoneLowSurrogate", "POST", secrets, `[{"name":"NEW","value":"value-\udc00","scopes":["workers"]}]`, 400, 1001},
		{"ErrPatchHighThenEscape", "PATCH", one, `{"value":"value-\ud800\u0041","comment":"c"}`, 400, 1001},
		{"ErrDuplicateNoScopes", "POST", one + "/duplicate", map[string]any{"name": "COPY"}, 400, 1001},
		{"ErrDuplicateBadName", "POST", one + "/duplicate", map[string]any{"name": "a.b", "scopes": []string{}}, 400, 1001},
		{"ErrDuplicateTaken", "POST", one + "/duplicate", map[string]any{"name": "EXISTING", "scopes": []string{}}, 409, 1005},
		{"ErrBulkNoBody", "DELETE", secrets, nil, 400, 1001},
		{"ErrBulkNoIDs", "DELETE", secrets, map[string]any{}, 400, 1001},
		{"ErrBulkBadID", "DELETE", secrets, map[string]any{"ids": []string{"EXISTING"}}, 400, 1001},
		{"ErrBulkUnknownID", "DELETE", secrets, map[string]any{"ids": []string{made[0].ID, strings.Repeat("c", 32)}}, 404, 1002},
		{"ErrForce", "DELETE", s.path("/stores/" + st.ID + "?force=maybe"), nil, 400, 1001},
		{"ErrPageZero", "GET", secrets + "?page=0", nil, 400, 1001},
		{"ErrPageNegative", "GET", secrets + "?page=-1", nil, 400, 1001},
		{"ErrPageText", "GET", secrets + "?page=two", nil, 400, 1001},
		{"ErrPageHuge", "GET", secrets + "?page=99999999999999999999", nil, 400, 1001},
		{"ErrPerPageZero", "GET", secrets + "?per_page=0", nil, 400, 1001},
		{"ErrPerPageHuge", "GET", secrets + "?per_page=1001", nil, 400, 1001},
		{"ErrStoresPerPage", "GET", s.path("/stores?per_page=x"), nil, 400, 1001},
		{"ErrOrder", "GET", secrets + "?order=value", nil, 400, 1001},
		{"ErrStoresOrder", "GET", s.path("/stores?order=comment"), nil, 400, 1001},
		{"ErrDirection", "GET", secrets + "?direction=up", nil, 400, 1001},
		{"ErrSearchUTF8", "GET", secrets + "?search=%ff", nil, 400, 1001},
		{"ErrMalformedQuery", "GET", secrets + "?page=%zz", nil, 400, 1001},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := a.Do(tt.method, tt.path, tt.body)
			wantCFError(t, r, tt.status, tt.code)
			oas.validateRaw(t, tt.method, s.Base+tt.path, r)
			if bytes.Contains(r.Body, []byte("value-")) || bytes.Contains(r.Body, []byte("xxxxxxxx")) {
				t.Fatalf("the error quotes a value: %s", r.Body)
			}
		})
	}

	// Nothing was written: one store, one secret, unchanged.
	if e := decodeCF(t, a.Must(200, "GET", s.path("/stores"), nil)); e.ResultInfo.TotalCount != 1 {
		t.Fatalf("got %d stores, want 1", e.ResultInfo.TotalCount)
	}
	e = decodeCF(t, a.Must(200, "GET", secrets, nil))
	if e.ResultInfo.TotalCount != 1 || !strings.Contains(string(e.Result), `"comment":""`) {
		t.Fatalf("got %s, want EXISTING unchanged", e.Result)
	}
	native := &servertest.Client{T: t, Base: s.Base, Token: s.Token}
	if v, n := servertest.Value(t, native.Must(200, "GET", fmt.Sprintf("/v1/stores/%s/secrets/EXISTING/value", st.ID), nil)); v != "value-existing" || n != 1 {
		t.Fatalf("got %q v%v, want value-existing v1", v, n)
	}
}

// TestCloudflareSurrogatePair checks that a value with a surrogate pair
// escape is stored as the character it encodes (the unpaired ones are
// refused in TestCloudflareBadInput).
func TestCloudflareSurrogatePair(t *testing.T) {
	s := startCloudflare(t)
	a := cfRaw(t, s)
	var st struct{ ID string }
	json.Unmarshal(decodeCF(t, a.Must(200, "POST", s.path("/stores"), map[string]any{"name": "main"})).Result, &st)
	a.Must(200, "POST", s.path("/stores/"+st.ID+"/secrets"), `[{"name":"EMOJI","value":"a\ud83d\ude00b\\ud800","scopes":["workers"]}]`)
	if v, _ := servertest.Value(t, a.Must(200, "GET", "/v1/stores/"+st.ID+"/secrets/EMOJI/value", nil)); v != "a\U0001F600b\\ud800" {
		t.Fatalf("got value %q, want %q", v, "a\U0001F600b\\ud800")
	}
}

// TestCloudflareReadKeepsModified checks that the first read of a value
// makes a pending secret active without changing its modified time: a read
// is not a modification.
func TestCloudflareReadKeepsModified(t *testing.T) {
	s := startCloudflare(t)
	a := cfRaw(t, s)
	var st struct{ ID string }
	json.Unmarshal(decodeCF(t, a.Must(200, "POST", s.path("/stores"), map[string]any{"name": "main"})).Result, &st)
	var made []struct{ ID string }
	json.Unmarshal(decodeCF(t, a.Must(200, "POST", s.path("/stores/"+st.ID+"/secrets"),
		[]map[string]any{{"name": "MODTEST", "value": "value-mod", "scopes": []string{"workers"}}})).Result, &made)
	type secret struct{ Status, Created, Modified string }
	get := func() secret {
		var sec secret
		json.Unmarshal(decodeCF(t, a.Must(200, "GET", s.path("/stores/"+st.ID+"/secrets/"+made[0].ID), nil)).Result, &sec)
		return sec
	}
	before := get()
	a.Must(200, "GET", "/v1/stores/"+st.ID+"/secrets/MODTEST/value", nil)
	after := get()
	if before.Status != "pending" || after.Status != "active" || after.Modified != before.Modified || after.Modified != before.Created {
		t.Fatalf("before the read %+v, after %+v: want pending then active, modified unchanged", before, after)
	}
}

// TestCloudflareLimitsCountAll checks that the account's limits count every
// store and live secret, also those a narrowly scoped key may not list: such
// a key sees the account's real usage on /quota and cannot create past the
// limits.
func TestCloudflareLimitsCountAll(t *testing.T) {
	s := startCloudflare(t, "stores=2,secrets=5")
	root := cfRaw(t, s)
	native := &servertest.Client{T: t, Base: s.Base, Token: s.Token}
	var st struct{ ID string }
	json.Unmarshal(decodeCF(t, root.Must(200, "POST", s.path("/stores"), map[string]any{"name": "main"})).Result, &st)
	root.Must(200, "POST", s.path("/stores"), map[string]any{"name": "other"})
	item := func(name string) map[string]any {
		return map[string]any{"name": name, "value": "value-" + name, "scopes": []string{"workers"}}
	}
	secrets := s.path("/stores/" + st.ID + "/secrets")
	root.Must(200, "POST", secrets, []map[string]any{item("A"), item("B"), item("C")})

	mint := func(scope map[string]any) *servertest.Client {
		r := root.Must(201, "POST", "/v1/keys", map[string]any{"name": "k", "scopes": []map[string]any{scope}})
		var k struct{ Token string }
		json.Unmarshal(r.Body, &k)
		return &servertest.Client{T: t, Base: s.Base, Token: k.Token}
	}
	z := mint(map[string]any{"secret": "Z*", "actions": []string{"write", "list", "read"}})
	if got, want := string(decodeCF(t, z.Must(200, "GET", s.path("/quota"), nil)).Result), `{"secrets":{"quota":5,"usage":3}}`; got != want {
		t.Fatalf("quota seen by the scoped key: got %s, want %s", got, want)
	}
	if e := decodeCF(t, z.Must(200, "GET", secrets, nil)); string(e.Result) != "[]" {
		t.Fatalf("the scoped key lists %s, want nothing", e.Result)
	}
	wantCFError(t, z.Do("POST", secrets, []map[string]any{item("Z1"), item("Z2"), item("Z3")}), 400, 1004)
	native.Must(404, "GET", "/v1/stores/"+st.ID+"/secrets/Z1", nil)
	z.Must(200, "POST", secrets, []map[string]any{item("Z1"), item("Z2")})
	wantCFError(t, z.Do("POST", secrets, []map[string]any{item("Z3")}), 400, 1004)
	native.Must(404, "GET", "/v1/stores/"+st.ID+"/secrets/Z3", nil)
	for _, a := range []*servertest.Client{root, z} {
		if got, want := string(decodeCF(t, a.Must(200, "GET", s.path("/quota"), nil)).Result), `{"secrets":{"quota":5,"usage":5}}`; got != want {
			t.Fatalf("quota: got %s, want %s", got, want)
		}
	}

	// A key that may make only the store "mine" sees no store, yet the
	// account's two count.
	mine := mint(map[string]any{"store": "mine", "actions": []string{"admin"}})
	if e := decodeCF(t, mine.Must(200, "GET", s.path("/stores"), nil)); string(e.Result) != "[]" {
		t.Fatalf("the store-scoped key lists %s, want nothing", e.Result)
	}
	wantCFError(t, mine.Do("POST", s.path("/stores"), map[string]any{"name": "mine"}), 400, 1003)
	native.Must(404, "GET", "/v1/stores/mine", nil)
}

// TestCloudflareStoreArrayAllOrNothing checks that the legacy array form of
// store creation makes all its stores or none.
func TestCloudflareStoreArrayAllOrNothing(t *testing.T) {
	s := startCloudflare(t, "stores=10")
	root := cfRaw(t, s)
	stores := s.path("/stores")
	root.Must(200, "POST", stores, []map[string]any{{"name": "arr1"}})
	count := func() int {
		t.Helper()
		return decodeCF(t, root.Must(200, "GET", stores, nil)).ResultInfo.TotalCount
	}

	wantCFError(t, root.Do("POST", stores, []map[string]any{{"name": "new1"}, {"name": "arr1"}}), 409, 1005)
	wantCFError(t, root.Do("POST", stores, []map[string]any{{"name": "new1"}, {"name": "new2"}, {"name": "new1"}}), 400, 1001)
	if n := count(); n != 1 {
		t.Fatalf("got %d stores after refused batches, want 1", n)
	}

	// A create that fails midway (this key may make new1 but not new2)
	// deletes the stores made before it.
	r := root.Must(201, "POST", "/v1/keys", map[string]any{"name": "k", "scopes": []map[string]any{
		{"store": "new1", "actions": []string{"admin"}}}})
	var k struct{ Token string }
	json.Unmarshal(r.Body, &k)
	scoped := &servertest.Client{T: t, Base: s.Base, Token: k.Token}
	wantCFError(t, scoped.Do("POST", stores, []map[string]any{{"name": "new1"}, {"name": "new2"}}), 403, 10000)
	if n := count(); n != 1 {
		t.Fatalf("got %d stores after a batch refused midway, want 1", n)
	}
	(&servertest.Client{T: t, Base: s.Base, Token: s.Token}).Must(404, "GET", "/v1/stores/new1", nil)

	e := decodeCF(t, root.Must(200, "POST", stores, []map[string]any{{"name": "new1"}, {"name": "new2"}}))
	var made []struct{ Name string }
	if json.Unmarshal(e.Result, &made); len(made) != 2 || made[0].Name != "new1" || made[1].Name != "new2" {
		t.Fatalf("got %s, want new1 and new2", e.Result)
	}
}

// TestCloudflareScopedKey checks that coffer's scopes hold through the
// face: a key that may only read metadata cannot write, and a key that may
// write but not reveal cannot copy a value with duplicate.
func TestCloudflareScopedKey(t *testing.T) {
	s := startCloudflare(t, "stores=2")
	root := cfRaw(t, s)
	var st struct{ ID string }
	json.Unmarshal(decodeCF(t, root.Must(200, "POST", s.path("/stores"), map[string]any{"name": "main"})).Result, &st)
	var made []struct{ ID string }
	json.Unmarshal(decodeCF(t, root.Must(200, "POST", s.path("/stores/"+st.ID+"/secrets"),
		[]map[string]any{{"name": "SRC", "value": "value-src", "scopes": []string{"workers"}}})).Result, &made)

	mint := func(actions ...string) *servertest.Client {
		r := root.Must(201, "POST", "/v1/keys", map[string]any{"name": "k", "scopes": []map[string]any{{"actions": actions}}})
		var k struct{ Token string }
		json.Unmarshal(r.Body, &k)
		return &servertest.Client{T: t, Base: s.Base, Token: k.Token}
	}
	reader := mint("list", "read")
	reader.Must(200, "GET", s.path("/stores/"+st.ID+"/secrets"), nil)
	reader.Must(200, "GET", s.path("/stores/"+st.ID+"/secrets/"+made[0].ID), nil)
	wantCFError(t, reader.Do("POST", s.path("/stores"), map[string]any{"name": "other"}), 403, 10000)
	wantCFError(t, reader.Do("POST", s.path("/stores/"+st.ID+"/secrets"), []map[string]any{{"name": "X", "value": "v", "scopes": []string{}}}), 403, 10000)
	wantCFError(t, reader.Do("DELETE", s.path("/stores/"+st.ID+"/secrets/"+made[0].ID), nil), 403, 10000)

	writer := mint("list", "read", "write")
	writer.Must(200, "PATCH", s.path("/stores/"+st.ID+"/secrets/"+made[0].ID), map[string]any{"comment": "ok"})
	wantCFError(t, writer.Do("POST", s.path("/stores/"+st.ID+"/secrets/"+made[0].ID+"/duplicate"), map[string]any{"name": "COPY", "scopes": []string{}}), 403, 10000)
	(&servertest.Client{T: t, Base: s.Base, Token: s.Token}).Must(404, "GET", "/v1/stores/"+st.ID+"/secrets/COPY", nil)
}

// TestCloudflareMetrics checks that requests to the face are counted by its
// route patterns, never by the ids a caller puts in the path.
func TestCloudflareMetrics(t *testing.T) {
	s := startCloudflare(t)
	a := cfRaw(t, s)
	a.Must(200, "GET", s.path("/quota"), nil)
	a.Do("GET", s.path("/stores/"+strings.Repeat("d", 32)), nil)
	m := string(a.Must(200, "GET", "/metrics", nil).Body)
	for _, want := range []string{
		`{code="200",route="GET /cloudflare/client/v4/accounts/{account_id}/secrets_store/quota"}`,
		`{code="404",route="GET /cloudflare/client/v4/accounts/{account_id}/secrets_store/stores/{store_id}"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, s.Account) || strings.Contains(m, strings.Repeat("d", 32)) {
		t.Error("metrics carry an id from a request path")
	}
}
