package cloudflare_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/cloudflare"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// face is the Cloudflare face over a real service on a fresh database.
type face struct {
	h                     http.Handler
	token, account, store string
	secret                string
}

func mustOpenFace(tb testing.TB) *face {
	tb.Helper()
	env := svctest.Open(tb, service.Options{})
	f := &face{token: env.Token, account: coffer.CallerFrom(env.Root).AccountID}
	f.h = (&cloudflare.Server{Secrets: env.Svc, Auth: env.Svc, Limits: cloudflare.Limits{MaxSecrets: 1 << 20}}).Handler()
	var st struct{ Result struct{ ID string } }
	json.Unmarshal(f.do(tb, "POST", "/stores", []byte(`{"name":"main"}`)).Body.Bytes(), &st)
	f.store = st.Result.ID
	var secs struct{ Result []struct{ ID string } }
	json.Unmarshal(f.do(tb, "POST", "/stores/"+f.store+"/secrets", []byte(`[{"name":"SEED","value":"seed-value","scopes":["workers"]}]`)).Body.Bytes(), &secs)
	if f.store == "" || len(secs.Result) != 1 {
		tb.Fatal("set up: no store or secret")
	}
	f.secret = secs.Result[0].ID
	return f
}

func (f *face) do(tb testing.TB, method, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, cloudflare.Prefix+"accounts/"+f.account+"/secrets_store"+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.token)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w
}

// FuzzBodies sends arbitrary bodies to every route that reads one. Whatever
// the body, the answer is Cloudflare's envelope, never a 5xx, and never
// holds a value.
func FuzzBodies(f *testing.F) {
	for _, seed := range []string{
		`[{"name":"A","value":"v","scopes":["workers"],"comment":"c"}]`,
		`{"name":"s2"}`, `[{"name":"s3"}]`, `{"comment":"c","scopes":["dex"],"value":"v2"}`,
		`{"name":"COPY","scopes":[]}`, `{"ids":["0123456789abcdef0123456789abcdef"]}`,
		`[]`, `{}`, `null`, `[{"name":1}]`, "\xff", `[{"name":"A","value":"v","scopes":["workers"]}] x`,
	} {
		f.Add(seed)
	}
	fc := mustOpenFace(f)
	f.Fuzz(func(t *testing.T, body string) {
		for _, r := range []struct{ method, path string }{
			{"POST", "/stores"},
			{"POST", "/stores/" + fc.store + "/secrets"},
			{"PATCH", "/stores/" + fc.store + "/secrets/" + fc.secret},
			{"POST", "/stores/" + fc.store + "/secrets/" + fc.secret + "/duplicate"},
			{"DELETE", "/stores/" + fc.store + "/secrets"},
		} {
			w := fc.do(t, r.method, r.path, []byte(body))
			var env struct {
				Success  *bool            `json:"success"`
				Errors   []map[string]any `json:"errors"`
				Messages []map[string]any `json:"messages"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Success == nil || env.Errors == nil || env.Messages == nil {
				t.Fatalf("%s %s: not an envelope: %d %s", r.method, r.path, w.Code, w.Body)
			}
			if w.Code >= 500 || *env.Success != (w.Code < 300) {
				t.Fatalf("%s %s: got %d %s", r.method, r.path, w.Code, w.Body)
			}
			if strings.Contains(w.Body.String(), "seed-value") {
				t.Fatalf("%s %s: a value in the response: %s", r.method, r.path, w.Body)
			}
		}
	})
}
