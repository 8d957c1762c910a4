package bytenite_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/compat/bytenite"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// face is the ByteNite face over a real service on a fresh database, with a
// seed secret whose secretKey no answer may show.
type face struct {
	h     http.Handler
	token string
}

const seedKey = "seed-s3cr3t-key"

func mustOpenFace(tb testing.TB) *face {
	tb.Helper()
	env := svctest.Open(tb, service.Options{})
	f := &face{token: env.Token, h: (&bytenite.Server{Service: env.Svc, Auth: env.Svc}).Handler()}
	w := f.do("POST", "/secrets", `{"secret":{"id":"seed","secretType":"aws","params":{"a":"b"}},"secretKey":"`+seedKey+`"}`)
	if w.Code != 200 {
		tb.Fatalf("seed: %d %s", w.Code, w.Body)
	}
	return f
}

func (f *face) do(method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, bytenite.Prefix+strings.TrimPrefix(path, "/"), strings.NewReader(body))
	req.Header.Set("Authorization", f.token)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w
}

// FuzzBodies sends arbitrary bodies to every route that reads one. Whatever
// the body, the answer is JSON, never a 5xx; a failure has both error
// shapes; no answer holds a secretKey.
func FuzzBodies(f *testing.F) {
	for _, seed := range []string{
		`{"secret":{"id":"x","secretType":"s3","expiresAt":"2030-01-01T00:00:00Z","accessKey":"A","params":{"k":"v"},"name":"n"},"secretKey":"k"}`,
		`{"apiKey":"cfr_x"}`, `{"name":"k","validity":"60s"}`, `{"firstName":"a","contactInfo":{"city":"b"}}`,
		`{}`, `null`, `[]`, `{"secret":null}`, `{"secret":{"id":1}}`, "\xff", `{"secretKey":"` + seedKey + `"`,
	} {
		f.Add(seed)
	}
	fc := mustOpenFace(f)
	f.Fuzz(func(t *testing.T, body string) {
		for _, r := range []struct{ method, path string }{
			{"POST", "/access_token"}, {"POST", "/secrets"}, {"POST", "/api_keys"}, {"PATCH", "/user"},
		} {
			w := fc.do(r.method, r.path, body)
			var m map[string]json.RawMessage
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || w.Code >= 500 {
				t.Fatalf("%s %s: got %d %s", r.method, r.path, w.Code, w.Body)
			}
			if w.Code >= 300 && (m["ok"] == nil || m["code"] == nil || m["error"] == nil || m["message"] == nil || m["details"] == nil) {
				t.Fatalf("%s %s: an error without both shapes: %d %s", r.method, r.path, w.Code, w.Body)
			}
			// Keys and the user echo their names by design; the others
			// never echo what they are sent.
			if (r.path == "/secrets" || r.path == "/access_token") && strings.Contains(w.Body.String(), seedKey) {
				t.Fatalf("%s %s: a secretKey in the answer: %s", r.method, r.path, w.Body)
			}
		}
		if w := fc.do("GET", "/secrets", ""); w.Code != 200 || bytes.Contains(w.Body.Bytes(), []byte(seedKey)) {
			t.Fatalf("GET /secrets: got %d %s", w.Code, w.Body)
		}
	})
}

// TestTimestamps checks the face's timestamps against protojson's form:
// UTC, "Z", and 0, 3, 6 or 9 fractional digits.
func TestTimestamps(t *testing.T) {
	fc := mustOpenFace(t)
	cet := time.FixedZone("CET", 3600)
	for _, c := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), "2030-01-02T03:04:05Z"},
		{time.Date(2030, 1, 2, 3, 4, 5, 140000000, time.UTC), "2030-01-02T03:04:05.140Z"},
		{time.Date(2030, 1, 2, 3, 4, 5, 100, time.UTC), "2030-01-02T03:04:05.000000100Z"},
		{time.Date(2030, 1, 2, 3, 4, 5, 7000, time.UTC), "2030-01-02T03:04:05.000007Z"},
		{time.Date(2030, 1, 2, 4, 4, 5, 0, cet), "2030-01-02T03:04:05Z"},
	} {
		in := c.in.Format(time.RFC3339Nano)
		if w := fc.do("POST", "/secrets", `{"secret":{"id":"t","secretType":"ts","expiresAt":"`+in+`"},"secretKey":"k"}`); w.Code != 200 {
			t.Fatalf("POST with expiresAt %s: %d %s", in, w.Code, w.Body)
		}
		var got struct {
			Secrets []struct {
				ExpiresAt string `json:"expiresAt"`
			} `json:"secrets"`
		}
		w := fc.do("GET", "/secrets?secretType=ts", "")
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || len(got.Secrets) != 1 {
			t.Fatalf("GET: %d %s", w.Code, w.Body)
		}
		if got.Secrets[0].ExpiresAt != c.want {
			t.Errorf("expiresAt %s: got %s, want %s", in, got.Secrets[0].ExpiresAt, c.want)
		}
	}
}
