package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/servertest"
	"github.com/coffer-dev/coffer/server"
)

// rawAPI drives the native API with plain HTTP, as any client would
// (servertest.Client).
type rawAPI struct {
	t     *testing.T
	base  string
	token string
}

type reply = servertest.Reply

func (a *rawAPI) client() *servertest.Client {
	return &servertest.Client{T: a.t, Base: a.base, Token: a.token}
}

func (a *rawAPI) do(method, path string, body any, hdr ...string) reply {
	a.t.Helper()
	return a.client().Do(method, path, body, hdr...)
}

// must fails the test unless the reply has the wanted status.
func (a *rawAPI) must(want int, method, path string, body any, hdr ...string) reply {
	a.t.Helper()
	return a.client().Must(want, method, path, body, hdr...)
}

func value(t *testing.T, r reply) (string, float64) {
	t.Helper()
	return servertest.Value(t, r)
}

func TestAPIFlow(t *testing.T) {
	base, token := startServer(t)
	a := &rawAPI{t: t, base: base, token: token}

	a.must(201, "POST", "/v1/stores", map[string]any{"name": "prod", "comment": "production"})
	if got := a.do("POST", "/v1/stores", map[string]any{"name": "prod"}); got.Status != 409 || got.Code(t) != "conflict" {
		t.Fatalf("duplicate store: got %d %s, want 409 conflict", got.Status, got.Body)
	}

	r := a.must(201, "PUT", "/v1/stores/prod/secrets/DB_PASSWORD", map[string]any{"value": "one"})
	if got := r.Header.Get("ETag"); got != `"1"` {
		t.Errorf("ETag after create: got %s, want \"1\"", got)
	}
	r = a.must(200, "PUT", "/v1/stores/prod/secrets/DB_PASSWORD", map[string]any{"value": "two"})
	if got := r.Header.Get("ETag"); got != `"2"` {
		t.Errorf("ETag after second write: got %s, want \"2\"", got)
	}
	if v, n := value(t, a.must(200, "GET", "/v1/stores/prod/secrets/DB_PASSWORD/value", nil)); v != "two" || n != 2 {
		t.Errorf("latest value: got %q v%v, want two v2", v, n)
	}
	if v, n := value(t, a.must(200, "GET", "/v1/stores/prod/secrets/DB_PASSWORD/value?version=1", nil)); v != "one" || n != 1 {
		t.Errorf("version 1: got %q v%v, want one v1", v, n)
	}

	t.Run("CompareAndSet", func(t *testing.T) {
		a.must(412, "PUT", "/v1/stores/prod/secrets/DB_PASSWORD", map[string]any{"value": "x"}, "If-Match", `"1"`)
		a.must(412, "PUT", "/v1/stores/prod/secrets/DB_PASSWORD", map[string]any{"value": "x"}, "If-None-Match", "*")
		a.must(200, "PUT", "/v1/stores/prod/secrets/DB_PASSWORD", map[string]any{"value": "three"}, "If-Match", `"2"`)
		a.must(201, "PUT", "/v1/stores/prod/secrets/NEW_ONLY", map[string]any{"value": "n"}, "If-None-Match", "*")
		a.must(412, "PATCH", "/v1/stores/prod/secrets/DB_PASSWORD", map[string]any{"comment": "c"}, "If-Match", `"2"`)
		r := a.must(200, "PATCH", "/v1/stores/prod/secrets/DB_PASSWORD", map[string]any{"comment": "c", "labels": map[string]string{"team": "db"}}, "If-Match", `"3"`)
		if m := r.JSON(t); m["comment"] != "c" || m["version"] != 3.0 {
			t.Errorf("patch: got %s", r.Body)
		}
	})

	t.Run("BinaryValue", func(t *testing.T) {
		a.must(201, "PUT", "/v1/stores/prod/secrets/BLOB", map[string]any{"value": "/wCA", "encoding": "base64"})
		m := a.must(200, "GET", "/v1/stores/prod/secrets/BLOB/value", nil).JSON(t)
		if m["value"] != "/wCA" || m["encoding"] != "base64" {
			t.Errorf("binary value: got %v, want /wCA base64", m)
		}
	})

	t.Run("SlashInName", func(t *testing.T) {
		a.must(201, "PUT", "/v1/stores/prod/secrets/db%2Fpassword", map[string]any{"value": "slashed"})
		m := a.must(200, "GET", "/v1/stores/prod/secrets/db%2Fpassword", nil).JSON(t)
		if m["name"] != "db/password" {
			t.Errorf("name: got %v, want db/password", m["name"])
		}
		if v, _ := value(t, a.must(200, "GET", "/v1/stores/prod/secrets/db%2Fpassword/value", nil)); v != "slashed" {
			t.Errorf("value: got %q", v)
		}
	})

	t.Run("ListAndPaginate", func(t *testing.T) {
		a.must(201, "POST", "/v1/stores", map[string]any{"name": "many"})
		for i := 0; i < 25; i++ {
			a.must(201, "PUT", fmt.Sprintf("/v1/stores/many/secrets/app%%2FK%02d", i), map[string]any{"value": "v"})
		}
		a.must(201, "PUT", "/v1/stores/many/secrets/other", map[string]any{"value": "v"})
		var names []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
			m := a.must(200, "GET", "/v1/stores/many/secrets?prefix=app/&limit=10&cursor="+cursor, nil).JSON(t)
			for _, s := range m["secrets"].([]any) {
				names = append(names, s.(map[string]any)["name"].(string))
			}
			next, _ := m["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(names) != 25 || names[0] != "app/K00" || names[24] != "app/K24" {
			t.Errorf("listing: got %d names %v, want app/K00..app/K24", len(names), names)
		}
	})

	t.Run("VersionsRollbackDestroy", func(t *testing.T) {
		vs := a.must(200, "GET", "/v1/stores/prod/secrets/DB_PASSWORD/versions", nil).JSON(t)["versions"].([]any)
		if len(vs) != 3 || vs[0].(map[string]any)["version"] != 3.0 {
			t.Fatalf("versions: got %v, want 3, newest first", vs)
		}
		m := a.must(200, "POST", "/v1/stores/prod/secrets/DB_PASSWORD/rollback", map[string]any{"version": 1}).JSON(t)
		if m["version"] != 4.0 {
			t.Errorf("rollback: got version %v, want 4", m["version"])
		}
		if v, n := value(t, a.must(200, "GET", "/v1/stores/prod/secrets/DB_PASSWORD/value", nil)); v != "one" || n != 4 {
			t.Errorf("after rollback: got %q v%v, want one v4", v, n)
		}
		a.must(204, "DELETE", "/v1/stores/prod/secrets/DB_PASSWORD/versions/1", nil)
		a.must(404, "GET", "/v1/stores/prod/secrets/DB_PASSWORD/value?version=1", nil)
		a.must(404, "POST", "/v1/stores/prod/secrets/DB_PASSWORD/rollback", map[string]any{"version": 1})
		vs = a.must(200, "GET", "/v1/stores/prod/secrets/DB_PASSWORD/versions", nil).JSON(t)["versions"].([]any)
		if d := vs[3].(map[string]any)["destroyed_at"]; d == nil {
			t.Errorf("destroyed version 1 has no destroyed_at: %v", vs[3])
		}
		if m := a.must(200, "PUT", "/v1/stores/prod/secrets/DB_PASSWORD", map[string]any{"value": "five"}).JSON(t); m["version"] != 5.0 {
			t.Errorf("numbering after destroy: got %v, want 5", m["version"])
		}
	})

	t.Run("DeleteUndeletePurge", func(t *testing.T) {
		old := a.must(201, "PUT", "/v1/stores/prod/secrets/TEMP", map[string]any{"value": "old"}).JSON(t)["id"].(string)
		if m := a.must(200, "DELETE", "/v1/stores/prod/secrets/TEMP", nil).JSON(t); m["status"] != "deleted" {
			t.Errorf("delete: got status %v", m["status"])
		}
		a.must(404, "GET", "/v1/stores/prod/secrets/TEMP/value", nil)
		a.must(404, "GET", "/v1/stores/prod/secrets/TEMP", nil)
		// A new secret may take the name; the old one stays recoverable by id.
		nw := a.must(201, "PUT", "/v1/stores/prod/secrets/TEMP", map[string]any{"value": "new"}).JSON(t)
		if nw["id"] == old || nw["version"] != 1.0 {
			t.Errorf("new secret on a deleted name: got %v, want a new id at version 1", nw)
		}
		a.must(409, "POST", "/v1/stores/prod/secrets/"+old+"/undelete", nil)
		a.must(200, "DELETE", "/v1/stores/prod/secrets/TEMP", nil)
		if m := a.must(200, "POST", "/v1/stores/prod/secrets/"+old+"/undelete", nil).JSON(t); m["status"] != "active" {
			t.Errorf("undelete: got %v", m)
		}
		if v, _ := value(t, a.must(200, "GET", "/v1/stores/prod/secrets/TEMP/value", nil)); v != "old" {
			t.Errorf("undeleted value: got %q, want old", v)
		}
		a.must(409, "DELETE", "/v1/stores/prod/secrets/"+old+"?purge=true", nil)
		a.must(200, "DELETE", "/v1/stores/prod/secrets/TEMP", nil)
		a.must(204, "DELETE", "/v1/stores/prod/secrets/"+old+"?purge=true", nil)
		a.must(404, "POST", "/v1/stores/prod/secrets/"+old+"/undelete", nil)
	})

	t.Run("BatchValues", func(t *testing.T) {
		m := a.must(200, "POST", "/v1/stores/prod/values", map[string]any{"names": []string{"DB_PASSWORD", "NOPE", "db/password"}}).JSON(t)
		vals := m["values"].([]any)
		if len(vals) != 2 || fmt.Sprint(m["missing"]) != "[NOPE]" {
			t.Errorf("batch: got %s", must(json.Marshal(m)))
		}
		m = a.must(200, "POST", "/v1/stores/prod/values", map[string]any{"prefix": "db/"}).JSON(t)
		if vals := m["values"].([]any); len(vals) != 1 || vals[0].(map[string]any)["value"] != "slashed" {
			t.Errorf("batch by prefix: got %s", must(json.Marshal(m)))
		}
	})

	t.Run("ScopedKeys", func(t *testing.T) {
		m := a.must(201, "POST", "/v1/keys", map[string]any{"name": "reader", "scopes": []map[string]any{
			{"store": "prod", "secret": "db/*", "actions": []string{"list", "read", "reveal"}},
		}}).JSON(t)
		tok := m["token"].(string)
		id := m["key"].(map[string]any)["id"].(string)
		if _, leaked := m["key"].(map[string]any)["hash"]; leaked {
			t.Error("key hash is in the response")
		}
		ro := &rawAPI{t: t, base: base, token: tok}
		if v, _ := value(t, ro.must(200, "GET", "/v1/stores/prod/secrets/db%2Fpassword/value", nil)); v != "slashed" {
			t.Errorf("scoped read: got %q", v)
		}
		ro.must(403, "GET", "/v1/stores/prod/secrets/DB_PASSWORD/value", nil)
		ro.must(403, "PUT", "/v1/stores/prod/secrets/db%2Fpassword", map[string]any{"value": "x"})
		ro.must(403, "POST", "/v1/keys", map[string]any{"name": "escalate", "admin": true})
		ro.must(403, "GET", "/v1/stores/many/secrets", nil)
		stores := ro.must(200, "GET", "/v1/stores", nil).JSON(t)["stores"].([]any)
		if len(stores) != 1 {
			t.Errorf("scoped key sees %d stores, want 1", len(stores))
		}
		list := ro.must(200, "GET", "/v1/stores/prod/secrets", nil).JSON(t)["secrets"].([]any)
		if len(list) != 1 {
			t.Errorf("scoped key lists %d secrets, want 1 (db/password)", len(list))
		}
		a.must(204, "DELETE", "/v1/keys/"+id, nil)
		if r := ro.do("GET", "/v1/stores/prod/secrets/db%2Fpassword/value", nil); r.Status != 401 || r.Code(t) != "unauthorized" {
			t.Errorf("revoked key: got %d %s, want 401", r.Status, r.Body)
		}
	})

	t.Run("Audit", func(t *testing.T) {
		m := a.must(200, "GET", "/v1/audit?limit=1000", nil).JSON(t)
		actions := map[string]int{}
		for _, e := range m["events"].([]any) {
			ev := e.(map[string]any)
			actions[ev["action"].(string)+"/"+ev["outcome"].(string)]++
			if strings.Contains(fmt.Sprint(ev), "slashed") {
				t.Errorf("audit event holds a value: %v", ev)
			}
		}
		for _, want := range []string{"store.create/ok", "secret.write/ok", "secret.reveal/ok", "secret.delete/ok", "secret.reveal/forbidden", "key.revoke/ok", "store.create/conflict", "secret.write/precondition_failed"} {
			if actions[want] == 0 {
				t.Errorf("no %s event in %v", want, actions)
			}
		}
		if m := a.must(200, "GET", "/v1/audit/verify", nil).JSON(t); m["ok"] != true {
			t.Errorf("verify: got %v", m)
		}
	})

	t.Run("Operational", func(t *testing.T) {
		r := a.must(200, "GET", "/healthz", nil)
		a.must(200, "GET", "/readyz", nil)
		if r.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id")
		}
		r = a.must(200, "GET", "/v1/stores", nil, "X-Request-Id", "trace-42")
		if got := r.Header.Get("X-Request-Id"); got != "trace-42" {
			t.Errorf("request id: got %q, want it echoed", got)
		}
		r = a.must(200, "GET", "/v1/stores", nil, "X-Request-Id", "bad id\twith junk")
		if got := r.Header.Get("X-Request-Id"); got == "" || strings.Contains(got, "junk") {
			t.Errorf("unsafe request id: got %q, want a fresh one", got)
		}
		metrics := string(a.must(200, "GET", "/metrics", nil).Body)
		if !strings.Contains(metrics, `coffer_http_requests_total{code="200",route="GET /v1/stores/{store}/secrets/{secret}/value"}`) {
			t.Errorf("metrics lack the value-read route")
		}
		for _, leak := range []string{"DB_PASSWORD", "db/password", "slashed"} {
			if strings.Contains(metrics, leak) {
				t.Errorf("metrics mention %q", leak)
			}
		}
	})
}

func must[T any](v T, err error) T { return servertest.Must(v, err) }

// TestBadInput sends every kind of bad request and checks the answer and
// that nothing was written.
func TestBadInput(t *testing.T) {
	base, token := startServer(t)
	a := &rawAPI{t: t, base: base, token: token}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})
	a.must(201, "PUT", "/v1/stores/s/secrets/KEEP", map[string]any{"value": "original"})

	big := strings.Repeat("x", 64<<10+1)
	huge := `{"value":"` + strings.Repeat("x", 300<<10) + `"}`
	put := "/v1/stores/s/secrets/NEW"
	for _, tt := range []struct {
		name   string
		method string
		path   string
		body   any
		hdr    []string
		noAuth bool
		status int
		code   string
	}{
		{"ValueTooLarge", "PUT", put, map[string]any{"value": big}, nil, false, 413, "too_large"},
		{"BodyTooLarge", "PUT", put, huge, nil, false, 413, "too_large"},
		{"BadName", "PUT", "/v1/stores/s/secrets/bad%20name", map[string]any{"value": "v"}, nil, false, 400, "invalid"},
		{"TraversalName", "PUT", "/v1/stores/s/secrets/..%2F..%2Fetc", map[string]any{"value": "v"}, nil, false, 400, "invalid"},
		{"NameTooLong", "PUT", "/v1/stores/s/secrets/" + strings.Repeat("n", 256), map[string]any{"value": "v"}, nil, false, 400, "invalid"},
		{"BadJSON", "PUT", put, `{"value":`, nil, false, 400, "invalid"},
		{"NotAnObject", "PUT", put, `["value"]`, nil, false, 400, "invalid"},
		{"TwoValues", "PUT", put, `{"value":"a"}{"value":"b"}`, nil, false, 400, "invalid"},
		{"EmptyBody", "PUT", put, "", nil, false, 400, "invalid"},
		{"UnknownField", "PUT", put, map[string]any{"value": "v", "valu": "typo"}, nil, false, 400, "invalid"},
		{"MissingValue", "PUT", put, map[string]any{"comment": "c"}, nil, false, 400, "invalid"},
		{"WrongType", "PUT", put, map[string]any{"value": 42}, nil, false, 400, "invalid"},
		{"InvalidUTF8", "PUT", put, []byte("{\"value\":\"\xff\xfe\"}"), nil, false, 400, "invalid"},
		{"BadEncoding", "PUT", put, map[string]any{"value": "v", "encoding": "rot13"}, nil, false, 400, "invalid"},
		{"BadBase64", "PUT", put, map[string]any{"value": "!!", "encoding": "base64"}, nil, false, 400, "invalid"},
		{"WrongCASVersion", "PUT", "/v1/stores/s/secrets/KEEP", map[string]any{"value": "v"}, []string{"If-Match", `"7"`}, false, 412, "precondition_failed"},
		{"CASOnMissing", "PUT", put, map[string]any{"value": "v"}, []string{"If-Match", `"1"`}, false, 412, "precondition_failed"},
		{"GarbageIfMatch", "PUT", "/v1/stores/s/secrets/KEEP", map[string]any{"value": "v"}, []string{"If-Match", "soon"}, false, 400, "invalid"},
		{"BadIfNoneMatch", "PUT", put, map[string]any{"value": "v"}, []string{"If-None-Match", `"1"`}, false, 400, "invalid"},
		{"MissingToken", "PUT", put, map[string]any{"value": "v"}, nil, true, 401, "unauthorized"},
		{"InvalidToken", "PUT", put, map[string]any{"value": "v"}, []string{"Authorization", "Bearer cfr_0000000000000000_" + strings.Repeat("0", 64)}, true, 401, "unauthorized"},
		{"MalformedToken", "PUT", put, map[string]any{"value": "v"}, []string{"Authorization", "Bearer nope"}, true, 401, "unauthorized"},
		{"BasicAuth", "PUT", put, map[string]any{"value": "v"}, []string{"Authorization", "Basic dTpw"}, true, 401, "unauthorized"},
		{"UnknownStore", "PUT", "/v1/stores/nope/secrets/NEW", map[string]any{"value": "v"}, nil, false, 404, "not_found"},
		{"NegativeLimit", "GET", "/v1/stores/s/secrets?limit=-1", nil, nil, false, 400, "invalid"},
		{"HugeLimit", "GET", "/v1/stores/s/secrets?limit=99999999999999999999", nil, nil, false, 400, "invalid"},
		{"LimitOverMax", "GET", "/v1/stores/s/secrets?limit=1001", nil, nil, false, 400, "invalid"},
		{"TextLimit", "GET", "/v1/stores/s/secrets?limit=ten", nil, nil, false, 400, "invalid"},
		{"BadCursor", "GET", "/v1/stores/s/secrets?cursor=%%%", nil, nil, false, 400, "invalid"},
		{"ForgedCursor", "GET", "/v1/stores/s/secrets?cursor=Zm9v", nil, nil, false, 400, "invalid"},
		{"BadVersion", "GET", "/v1/stores/s/secrets/KEEP/value?version=abc", nil, nil, false, 400, "invalid"},
		{"MissingVersion", "GET", "/v1/stores/s/secrets/KEEP/value?version=99", nil, nil, false, 404, "not_found"},
		{"BadDestroyVersion", "DELETE", "/v1/stores/s/secrets/KEEP/versions/zero", nil, nil, false, 400, "invalid"},
		{"RollbackToZero", "POST", "/v1/stores/s/secrets/KEEP/rollback", map[string]any{"version": 0}, nil, false, 400, "invalid"},
		{"BadForce", "DELETE", "/v1/stores/s?force=maybe", nil, nil, false, 400, "invalid"},
		{"StoreNotEmpty", "DELETE", "/v1/stores/s", nil, nil, false, 409, "conflict"},
		{"BadStoreName", "POST", "/v1/stores", map[string]any{"name": "a b"}, nil, false, 400, "invalid"},
		{"KeyWithoutScopes", "POST", "/v1/keys", map[string]any{"name": "k"}, nil, false, 400, "invalid"},
		{"KeyBadAction", "POST", "/v1/keys", map[string]any{"name": "k", "scopes": []map[string]any{{"actions": []string{"fly"}}}}, nil, false, 400, "invalid"},
		{"UnknownRoute", "GET", "/v1/nothing", nil, nil, false, 404, "not_found"},
		{"TooManyBatchNames", "POST", "/v1/stores/s/values", map[string]any{"names": make([]string, 1001)}, nil, false, 400, "invalid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := a
			if tt.noAuth {
				c = &rawAPI{t: t, base: base}
			}
			r := c.do(tt.method, tt.path, tt.body, tt.hdr...)
			if r.Status != tt.status || r.Code(t) != tt.code {
				t.Errorf("got %d %s, want %d %s", r.Status, r.Body, tt.status, tt.code)
			}
			if strings.Contains(string(r.Body), "xxxxxxxx") || strings.Contains(string(r.Body), "typo") {
				t.Errorf("error body echoes the request: %s", r.Body)
			}
		})
	}

	// Nothing was written: one secret, still at version 1 with its value,
	// and no store but s.
	list := a.must(200, "GET", "/v1/stores/s/secrets?deleted=true", nil).JSON(t)["secrets"].([]any)
	if len(list) != 1 {
		t.Errorf("secrets after bad input: got %d, want 1", len(list))
	}
	if v, n := value(t, a.must(200, "GET", "/v1/stores/s/secrets/KEEP/value", nil)); v != "original" || n != 1 {
		t.Errorf("KEEP after bad input: got %q v%v, want original v1", v, n)
	}
	if stores := a.must(200, "GET", "/v1/stores", nil).JSON(t)["stores"].([]any); len(stores) != 1 {
		t.Errorf("stores after bad input: got %d, want 1", len(stores))
	}
	if keys := a.must(200, "GET", "/v1/keys", nil).JSON(t)["keys"].([]any); len(keys) != 1 {
		t.Errorf("keys after bad input: got %d, want 1", len(keys))
	}
}

// TestRestart checks that data, keys and the audit chain survive a restart,
// and that a wrong or missing master key stops the server.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", dir
	s := &Server{Config: cfg, Log: testLogger(t)}
	if err := s.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	token := s.RootToken
	a := &rawAPI{t: t, base: "http://" + s.Addr, token: token}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "s"})
	a.must(201, "PUT", "/v1/stores/s/secrets/A", map[string]any{"value": "canary-7f3a9c"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"", "master.key", "root.token", "coffer.db"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if f == "" {
			want = 0o700
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %q: got %v, want %v", f, got, want)
		}
	}
	if got := must(os.ReadFile(filepath.Join(dir, "root.token"))); strings.TrimSpace(string(got)) != token {
		t.Errorf("root.token does not hold the printed token")
	}

	t.Run("PlaintextNotOnDisk", func(t *testing.T) {
		for _, f := range must(filepath.Glob(filepath.Join(dir, "coffer.db*"))) {
			if bytes.Contains(must(os.ReadFile(f)), []byte("canary-7f3a9c")) {
				t.Errorf("%s holds the plaintext value", f)
			}
		}
	})

	s2 := mustOpenServer(t, dir)
	if s2.RootToken != "" {
		t.Error("second start made a new root token")
	}
	a.base = "http://" + s2.Addr
	if v, _ := value(t, a.must(200, "GET", "/v1/stores/s/secrets/A/value", nil)); v != "canary-7f3a9c" {
		t.Errorf("after restart: got %q", v)
	}
	if m := a.must(200, "GET", "/v1/audit/verify", nil).JSON(t); m["ok"] != true {
		t.Errorf("audit after restart: %v", m)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("WrongMasterKey", func(t *testing.T) {
		cfg := cfg
		cfg.MasterKey = strings.Repeat("ab", 32)
		err := (&Server{Config: cfg, Log: testLogger(t)}).Open(t.Context())
		if err == nil || !strings.Contains(err.Error(), "master key does not match") {
			t.Fatalf("got %v, want a master key mismatch", err)
		}
	})
	t.Run("MissingMasterKey", func(t *testing.T) {
		if err := os.Rename(filepath.Join(dir, "master.key"), filepath.Join(dir, "master.key.bak")); err != nil {
			t.Fatal(err)
		}
		err := (&Server{Config: cfg, Log: testLogger(t)}).Open(t.Context())
		if err == nil || !strings.Contains(err.Error(), "no master key") {
			t.Fatalf("got %v, want a missing master key error", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "master.key")); err == nil {
			t.Error("a new master key was written over an existing store")
		}
	})
}

// TestCachesFollowWrites reads values and listings (which the service caches
// by store generation) around every kind of write and checks that no read
// returns what a write replaced.
func TestCachesFollowWrites(t *testing.T) {
	base, token := startServer(t)
	a := &rawAPI{t: t, base: base, token: token}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "c"})
	names := func() string {
		var out []string
		for _, s := range a.must(200, "GET", "/v1/stores/c/secrets?deleted=true", nil).JSON(t)["secrets"].([]any) {
			m := s.(map[string]any)
			out = append(out, fmt.Sprintf("%s:%v:%v", m["name"], m["status"], m["version"]))
		}
		return strings.Join(out, ",")
	}
	check := func(step, wantList, wantValue string) {
		t.Helper()
		if got := names(); got != wantList {
			t.Errorf("%s: listing got %s, want %s", step, got, wantList)
		}
		r := a.do("GET", "/v1/stores/c/secrets/K/value", nil)
		got := fmt.Sprint(r.Status)
		if r.Status == 200 {
			got, _ = value(t, r)
		}
		if got != wantValue {
			t.Errorf("%s: value got %s, want %s", step, got, wantValue)
		}
	}
	check("empty", "", "404")
	a.must(201, "PUT", "/v1/stores/c/secrets/K", map[string]any{"value": "a"})
	check("create", "K:active:1", "a")
	a.must(200, "PUT", "/v1/stores/c/secrets/K", map[string]any{"value": "b"})
	check("new version", "K:active:2", "b")
	a.must(200, "POST", "/v1/stores/c/secrets/K/rollback", map[string]any{"version": 1})
	check("rollback", "K:active:3", "a")
	a.must(204, "DELETE", "/v1/stores/c/secrets/K/versions/3", nil)
	check("destroy latest", "K:active:3", "404")
	a.must(200, "PUT", "/v1/stores/c/secrets/K", map[string]any{"value": "d"})
	id := a.must(200, "GET", "/v1/stores/c/secrets/K", nil).JSON(t)["id"].(string)
	check("after destroy", "K:active:4", "d")
	a.must(200, "DELETE", "/v1/stores/c/secrets/K", nil)
	check("delete", "K:deleted:4", "404")
	a.must(200, "POST", "/v1/stores/c/secrets/"+id+"/undelete", nil)
	check("undelete", "K:active:4", "d")
}
