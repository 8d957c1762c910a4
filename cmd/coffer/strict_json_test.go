package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestDuplicateKeysRefused: a body that repeats an object key, at any depth
// or spelled with an escape ("\u0076alue" is "value"), is refused with 400
// in each face's own error format, and nothing is written: encoding/json
// would keep the last of the two while a proxy or policy engine in front
// may read the first (issue 17 item 4). So is a field name in another case
// ("Admin"), which encoding/json alone takes for the field.
func TestDuplicateKeysRefused(t *testing.T) {
	base, token := startServer(t)
	native := &rawAPI{t: t, base: base, token: token}

	// The stores and secrets the refused requests would touch exist, so
	// that a half-written change would show in the snapshot.
	native.must(201, "POST", "/v1/stores", `{"name":"prod"}`)
	native.must(201, "PUT", "/v1/stores/prod/secrets/db", `{"value":"one"}`)
	var accts struct {
		Accounts []struct {
			ID string `json:"id"`
		} `json:"accounts"`
	}
	if err := json.Unmarshal(native.must(200, "GET", "/v1/accounts", nil).Body, &accts); err != nil || len(accts.Accounts) != 1 {
		t.Fatalf("accounts: %v %+v", err, accts)
	}
	cf := "/cloudflare/client/v4/accounts/" + accts.Accounts[0].ID + "/secrets_store/stores"
	var store struct {
		Result []struct {
			ID string `json:"id"`
		} `json:"result"`
	}
	if err := json.Unmarshal(native.must(200, "GET", cf, nil).Body, &store); err != nil || len(store.Result) != 1 {
		t.Fatalf("cloudflare stores: %v %+v", err, store)
	}
	cfSecrets := cf + "/" + store.Result[0].ID + "/secrets"
	native.must(200, "POST", cfSecrets, `[{"name":"A","value":"one","scopes":["workers"]}]`)
	const tf = "/truefoundry/api/svc/v1/secret-groups"
	var group struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(native.must(200, "POST", tf, `{"name":"tfgroup","integrationId":"coffer","secrets":[{"key":"K","value":"one"}]}`).Body, &group); err != nil {
		t.Fatal(err)
	}
	native.must(200, "POST", "/chutes/secrets/", `{"purpose":"my-chute","key":"K","value":"one"}`)
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(native.must(200, "POST", "/bytenite/v1/auth/access_token", `{"apiKey":"`+token+`"}`).Body, &tok); err != nil {
		t.Fatal(err)
	}
	bytenite := &rawAPI{t: t, base: base, token: tok.Token}
	bytenite.must(200, "POST", "/bytenite/v1/auth/secrets", `{"secret":{"id":"my_aws","secretType":"aws","name":"b","accessKey":"AKIA1"},"secretKey":"one"}`)
	console := consoleSignIn(t, base, token)

	snapshot := func() string {
		var b strings.Builder
		b.Write(native.must(200, "GET", "/v1/stores", nil).Body)
		b.Write(native.must(200, "GET", "/v1/keys", nil).Body)
		for _, s := range []string{"prod", "tfgroup", "chutes", "bytenite"} {
			b.Write(native.must(200, "GET", "/v1/stores/"+s+"/secrets", nil).Body)
		}
		return b.String()
	}
	before := snapshot()

	// shape checks a face's error body.
	type shape func(t *testing.T, body []byte)
	nativeShape := func(t *testing.T, body []byte) {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error.Code != "invalid" || !strings.Contains(e.Error.Message, "duplicate object key") {
			t.Errorf("body %s: want a native invalid error naming the duplicate key", body)
		}
	}
	cfShape := func(t *testing.T, body []byte) {
		var e struct {
			Success *bool `json:"success"`
			Errors  []struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"errors"`
		}
		if json.Unmarshal(body, &e) != nil || e.Success == nil || *e.Success || len(e.Errors) != 1 || !strings.Contains(e.Errors[0].Message, "duplicate object key") {
			t.Errorf("body %s: want a Cloudflare error envelope", body)
		}
	}
	tfShape := func(t *testing.T, body []byte) {
		var e struct {
			StatusCode int    `json:"statusCode"`
			Code       string `json:"code"`
			Message    string `json:"message"`
		}
		if json.Unmarshal(body, &e) != nil || e.StatusCode != 400 || e.Code != "BAD_REQUEST" || !strings.Contains(e.Message, "duplicate object key") {
			t.Errorf("body %s: want a TrueFoundry BAD_REQUEST error", body)
		}
	}
	chutesShape := func(t *testing.T, body []byte) {
		var e struct {
			Detail string `json:"detail"`
		}
		if json.Unmarshal(body, &e) != nil || !strings.Contains(e.Detail, "duplicate object key") {
			t.Errorf("body %s: want a Chutes detail error", body)
		}
	}
	byteniteShape := func(t *testing.T, body []byte) {
		var e struct {
			OK    *bool `json:"ok"`
			Error *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.OK == nil || *e.OK || e.Error == nil || e.Error.Code != 400 {
			t.Errorf("body %s: want a ByteNite error envelope", body)
		}
	}
	consoleDo := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Origin", base)
		if path != "/ui/session" {
			req.AddCookie(&http.Cookie{Name: "coffer_session", Value: console.cookie})
			req.Header.Set("X-CSRF-Token", console.csrf)
		}
		return doRaw(t, req)
	}

	for _, c := range []struct {
		name, method, path, body string
		api                      *rawAPI
		shape                    shape
	}{
		{"Native/Store", "POST", "/v1/stores", `{"name":"a","name":"b"}`, native, nativeShape},
		{"Native/Value", "PUT", "/v1/stores/prod/secrets/db", `{"value":"a","value":"b"}`, native, nativeShape},
		{"Native/EscapedValue", "PUT", "/v1/stores/prod/secrets/new", `{"value":"a","\u0076alue":"b"}`, native, nativeShape},
		{"Native/Labels", "PATCH", "/v1/stores/prod/secrets/db", `{"labels":{"env":"a","env":"b"}}`, native, nativeShape},
		{"Native/KeyAdmin", "POST", "/v1/keys", `{"name":"k","admin":false,"scopes":[{"store":"prod","secret":"*","actions":["read"]}],"admin":true}`, native, nativeShape},
		{"Native/KeyScopeStore", "POST", "/v1/keys", `{"name":"k","scopes":[{"store":"prod","secret":"*","actions":["read"],"store":"*"}]}`, native, nativeShape},
		{"Native/Batch", "POST", "/v1/stores/prod/values", `{"names":["db"],"names":["db"]}`, native, nativeShape},
		{"Cloudflare/Store", "POST", cf, `[{"name":"x","name":"y"}]`, native, cfShape},
		{"Cloudflare/Secret", "POST", cfSecrets, `[{"name":"B","value":"a","scopes":["workers"]},{"name":"C","value":"a","scopes":["workers"],"value":"b"}]`, native, cfShape},
		{"TrueFoundry/Create", "POST", tf, `{"name":"g2","integrationId":"coffer","secrets":[{"key":"K","value":"a","\u0076alue":"b"}]}`, native, tfShape},
		{"TrueFoundry/Update", "PUT", tf + "/" + group.Data.ID, `{"secrets":[{"key":"K","value":"a"}],"secrets":[{"key":"K","value":"b"}]}`, native, tfShape},
		{"Chutes/Create", "POST", "/chutes/secrets/", `{"purpose":"my-chute","key":"K2","value":"a","value":"b"}`, native, chutesShape},
		{"ByteNite/Save", "POST", "/bytenite/v1/auth/secrets", `{"secret":{"id":"my_aws","secretType":"aws","name":"b","accessKey":"AKIA1","accessKey":"AKIA2"},"secretKey":"two"}`, bytenite, byteniteShape},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.api.do(c.method, c.path, c.body)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("%s %s: got %d %s, want 400", c.method, c.path, r.Status, r.Body)
			}
			c.shape(t, r.Body)
		})
	}
	t.Run("Console/SignIn", func(t *testing.T) {
		status, body := consoleDo("POST", "/ui/session", `{"key":"wrong","key":`+jsString(token)+`}`)
		if status != http.StatusBadRequest {
			t.Fatalf("sign-in: got %d %s, want 400", status, body)
		}
		nativeShape(t, body)
	})
	t.Run("Console/Value", func(t *testing.T) {
		status, body := consoleDo("PUT", "/v1/stores/prod/secrets/db", `{"value":"a","value":"b"}`)
		if status != http.StatusBadRequest {
			t.Fatalf("console write: got %d %s, want 400", status, body)
		}
		nativeShape(t, body)
	})
	// A field name in another case is a field to encoding/json and none to
	// other parsers: refused as an unknown field on every face that
	// decodes into Go structs (Chutes matches names exactly).
	for _, c := range []struct {
		name, method, path, body string
		api                      *rawAPI
		status                   int
		want                     string
	}{
		{"Folded/NativeKeyAdmin", "POST", "/v1/keys", `{"name":"k","Admin":true,"scopes":[{"store":"prod","secret":"*","actions":["read"]}]}`, native, 400, `"code":"invalid"`},
		{"Folded/NativeScopeStore", "POST", "/v1/keys", `{"name":"k","scopes":[{"Store":"*","secret":"*","actions":["read"]}]}`, native, 400, `"code":"invalid"`},
		{"Folded/Cloudflare", "POST", cfSecrets, `[{"name":"B","Value":"a","scopes":["workers"]}]`, native, 400, `"success":false`},
		{"Folded/TrueFoundry", "PUT", tf + "/" + group.Data.ID, `{"secrets":[{"key":"K","VALUE":"b"}]}`, native, 422, `"code":"VALIDATION_ERROR"`},
		{"Folded/ByteNite", "POST", "/bytenite/v1/auth/secrets", `{"secret":{"id":"my_aws","secretType":"aws","name":"b","accessKey":"AKIA1"},"SecretKey":"two"}`, bytenite, 400, `"ok":false`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.api.do(c.method, c.path, c.body)
			if r.Status != c.status || !strings.Contains(string(r.Body), c.want) || !strings.Contains(string(r.Body), "field") {
				t.Errorf("%s %s: got %d %s, want %d with %s naming the field", c.method, c.path, r.Status, r.Body, c.status, c.want)
			}
		})
	}
	t.Run("Folded/Console", func(t *testing.T) {
		status, body := consoleDo("PUT", "/v1/stores/prod/secrets/db", `{"Value":"b"}`)
		if status != http.StatusBadRequest || !strings.Contains(string(body), `unknown field \"Value\"`) {
			t.Errorf("console write: got %d %s, want 400 unknown field", status, body)
		}
	})
	if after := snapshot(); after != before {
		t.Errorf("a refused request changed the state:\nbefore %s\nafter  %s", before, after)
	}
}

// doRaw sends req and returns the status and body of the reply.
func doRaw(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body
}
