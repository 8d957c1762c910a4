package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/api"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/internal/web"
	"github.com/coffer-dev/coffer/service"
	"github.com/prometheus/client_golang/prometheus"
)

// keepValue is the value of the secret the fuzz tests set up; no answer
// but a value read may hold it.
const keepValue = "keep-CANARY-value"

// native is the native API over a real service on a fresh database, with a
// store "s" holding the secret KEEP.
type native struct {
	h     http.Handler
	token string
}

func mustOpenNative(tb testing.TB) *native {
	tb.Helper()
	env := svctest.Open(tb, service.Options{})
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	s := &api.Server{Secrets: env.Svc, Keys: env.Svc, Audit: env.Svc, Accounts: env.Svc, Hotkeys: env.Svc, Auth: env.Svc,
		Ready: env.DB.Ping, Log: log, Registry: prometheus.NewRegistry()}
	n := &native{h: s.Handler(), token: env.Token}
	if w := n.do("POST", "/v1/stores", `{"name":"s"}`); w.Code != 201 {
		tb.Fatalf("set up store: %d %s", w.Code, w.Body)
	}
	if w := n.do("PUT", "/v1/stores/s/secrets/KEEP", `{"value":"`+keepValue+`"}`); w.Code != 201 {
		tb.Fatalf("set up secret: %d %s", w.Code, w.Body)
	}
	return n
}

// do serves one request. A target that no HTTP/1.1 request line can carry
// (net/http's server refuses it before routing) is not served: do returns
// nil.
func (n *native) do(method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	if _, err := url.ParseRequestURI(target); err != nil || strings.ContainsAny(target, " \t") {
		return nil
	}
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+n.token)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	n.h.ServeHTTP(w, req)
	return w
}

// checkAnswer fails unless w is a success with a JSON body, a redirect
// of the mux's path cleaning, or a native error whose status is the one
// its code maps to; never a 5xx.
func checkAnswer(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	switch {
	case w == nil:
	case w.Code >= 500:
		t.Fatalf("%s: got %d %s", what, w.Code, w.Body)
	case w.Code == http.StatusMovedPermanently || w.Code == http.StatusTemporaryRedirect || w.Code == http.StatusPermanentRedirect:
		if w.Header().Get("Location") == "" || strings.ContainsAny(w.Header().Get("Location"), "\r\n") {
			t.Fatalf("%s: redirect to %q", what, w.Header().Get("Location"))
		}
	case w.Code >= 400:
		var e struct {
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("%s: got %d %q, want a native error body", what, w.Code, w.Body)
		}
		if web.Status(e.Error.Code) != w.Code {
			t.Fatalf("%s: got %d with code %s, which maps to %d", what, w.Code, e.Error.Code, web.Status(e.Error.Code))
		}
	case !json.Valid(w.Body.Bytes()):
		t.Fatalf("%s: got %d with a body that is not JSON: %q", what, w.Code, w.Body)
	}
}

// FuzzBodies sends arbitrary bodies to every native route that reads one.
// Every answer is a success or a native error of the status its code maps
// to, never a 5xx; only value reads answer with a value; and a secret
// written from a fuzzed body reads back as the value the body gave.
func FuzzBodies(f *testing.F) {
	for _, s := range []string{
		`{"name":"s2","comment":"c"}`, `{"comment":"c2"}`, `{"value":"v","comment":"c","labels":{"a":"b"}}`,
		`{"value":"/wCA","encoding":"base64"}`, `{"value":"v","expires_at":"2099-01-01T00:00:00Z"}`,
		`{"value":"v","expires_at":null}`, `{"version":1}`, `{"names":["KEEP","NOPE"]}`,
		`{"name":"k","scopes":[{"store":"s","secret":"*","actions":["read"]}]}`, `{"name":"acct"}`,
		`{"name":"p","kind":"service"}`, `{"hotkey":"5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu"}`,
		`{}`, `[]`, `null`, `"x"`, `{"value":1}`, `{"value":"v"} {}`, "{\"value\":\"\xff\"}", `{"value":"\u0000"}`,
		strings.Repeat(`{"labels":`, 100) + `{}` + strings.Repeat(`}`, 100),
	} {
		f.Add(s)
	}
	n := mustOpenNative(f)
	f.Fuzz(func(t *testing.T, body string) {
		for _, r := range []struct{ method, path string }{
			{"POST", "/v1/stores"},
			{"PATCH", "/v1/stores/s"},
			{"PUT", "/v1/stores/s/secrets/FUZZ"},
			{"PATCH", "/v1/stores/s/secrets/KEEP"},
			{"POST", "/v1/stores/s/secrets/KEEP/rollback"},
			{"POST", "/v1/stores/s/values"},
			{"POST", "/v1/keys"},
			{"POST", "/v1/accounts"},
			{"POST", "/v1/principals"},
			{"POST", "/v1/hotkeys"},
		} {
			w := n.do(r.method, r.path, body)
			checkAnswer(t, r.method+" "+r.path, w)
			if r.path != "/v1/stores/s/values" && strings.Contains(w.Body.String(), keepValue) {
				t.Fatalf("%s %s: a value in the answer: %s", r.method, r.path, w.Body)
			}
			if r.method == "PUT" && w.Code < 300 {
				var in struct{ Value, Encoding string }
				json.Unmarshal([]byte(body), &in)
				want := in.Value
				if in.Encoding == "base64" {
					b, _ := base64.StdEncoding.DecodeString(in.Value)
					want = base64.StdEncoding.EncodeToString(b)
				}
				var got struct{ Value, Encoding string }
				rw := n.do("GET", r.path+"/value", "")
				if err := json.Unmarshal(rw.Body.Bytes(), &got); err != nil || rw.Code != 200 {
					t.Fatalf("read back: %d %s", rw.Code, rw.Body)
				}
				if got.Encoding == "base64" && in.Encoding != "base64" {
					b, _ := base64.StdEncoding.DecodeString(got.Value)
					got.Value = string(b)
				}
				if got.Value != want {
					t.Fatalf("read back %q (%s), want %q", got.Value, got.Encoding, want)
				}
			}
		}
	})
}

// FuzzPaths puts arbitrary store and secret names, raw paths and query
// strings into the native routes' path parameters. Every answer is a native
// error, a redirect or a success, never a 5xx; a name the API accepts
// passes coffer.ValidateName (so no traversal segment), and reads back
// under exactly that name.
func FuzzPaths(f *testing.F) {
	for _, s := range [][3]string{
		{"s", "KEEP", ""}, {"s", "NEW", "version=1"}, {"s", "a/b", "limit=5"}, {"s", "../KEEP", ""}, {"..", "KEEP", ""},
		{"s", "%2e%2e", ""}, {"s", "a%2Fb", "cursor=%%%"}, {"s", ".", ""}, {"s", "a//b", ""}, {"s", "\r\nX-Injected: 1", ""},
		{"s", "\xff", "limit=-1"}, {"s", strings.Repeat("n", 256), "limit=99999999999999999999"}, {"", "", ""},
		{"s", "KEEP/value", "version=0"}, {"s", "KEEP/versions/1", ""}, {"s\x00", "K\x00", "deleted=maybe"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	n := mustOpenNative(f)
	f.Fuzz(func(t *testing.T, store, secret, query string) {
		base := "/v1/stores/" + url.PathEscape(store) + "/secrets/" + url.PathEscape(secret)
		if query != "" {
			base += "?" + query
		}
		for _, method := range []string{"GET", "DELETE", "PATCH"} {
			checkAnswer(t, method+" "+base, n.do(method, base, `{"comment":"c"}`))
		}
		checkAnswer(t, "GET value", n.do("GET", "/v1/stores/"+url.PathEscape(store)+"/secrets/"+url.PathEscape(secret)+"/value?"+query, ""))
		// The raw forms: the names unescaped, as a client that builds paths
		// by concatenation sends them.
		raw := "/v1/stores/" + store + "/secrets/" + secret
		if !strings.ContainsAny(raw, "?#") {
			checkAnswer(t, "GET raw "+raw, n.do("GET", raw, ""))
		}

		w := n.do("PUT", "/v1/stores/s/secrets/"+url.PathEscape(secret), `{"value":"v"}`)
		checkAnswer(t, "PUT "+secret, w)
		if w == nil || w.Code >= 300 {
			return
		}
		if err := coffer.ValidateName("secret", secret); err != nil {
			t.Fatalf("PUT accepted the name %q: %v", secret, err)
		}
		var got struct{ Name string }
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Name != secret {
			t.Fatalf("PUT %q answered the name %q", secret, got.Name)
		}
		if rw := n.do("GET", "/v1/stores/s/secrets/"+url.PathEscape(secret)+"/value", ""); rw.Code != 200 || !bytes.Contains(rw.Body.Bytes(), []byte(`"value":"v"`)) {
			t.Fatalf("read back %q: %d %s", secret, rw.Code, rw.Body)
		}
	})
}
