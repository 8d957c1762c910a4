package truefoundry_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/compat/truefoundry"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// seedValue is the value of the group's secret; only the routes that
// TrueFoundry lets return values (POST /secrets with withValue) may hold
// it.
const seedValue = "seed-CANARY-value"

type face struct {
	h     http.Handler
	token string
	group string
}

func mustOpenFace(tb testing.TB) *face {
	tb.Helper()
	env := svctest.Open(tb, service.Options{})
	f := &face{token: env.Token}
	f.h = (&truefoundry.Server{Secrets: env.Svc, Keys: env.Svc, Accounts: env.Svc, Powers: env.Svc, Auth: env.Svc}).Handler()
	w := f.do("POST", "secret-groups", `{"name":"main","integrationId":"internal:aws:aws-1:secret-store:internal-secret-store","secrets":[{"key":"SEED","value":"`+seedValue+`"}]}`)
	var g struct{ Data struct{ ID string } }
	if err := json.Unmarshal(w.Body.Bytes(), &g); err != nil || w.Code != 200 || g.Data.ID == "" {
		tb.Fatalf("set up group: %d %s", w.Code, w.Body)
	}
	f.group = g.Data.ID
	return f
}

func (f *face) do(method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, truefoundry.Prefix+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.token)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w
}

// FuzzBodies sends arbitrary bodies to every route of the face that reads
// one. Every answer is {"data": ...} (a PAT create's is {"token": ...}) or
// TrueFoundry's HttpError whose statusCode is the response's status, never
// a 5xx; a 422 names its field; no route but the value listing answers with
// a value.
func FuzzBodies(f *testing.F) {
	for _, s := range []string{
		`{"name":"g2","integrationId":"internal:aws:aws-1:secret-store:internal-secret-store","secrets":[{"key":"A","value":"v"}]}`,
		`{"secrets":[{"key":"SEED","value":"v2"},{"key":"B"}]}`, `{"secrets":[]}`,
		`{"limit":10,"offset":0,"withValue":true}`, `{"limit":-1}`, `{"offset":99999999999999999999}`,
		`{"secretFqns":["tenant:main:SEED","tfy-secret://x:y:z"]}`, `{"secretGroupId":"nope"}`,
		`{"name":"pat","expiresAt":"2099-01-01T00:00:00Z"}`, `{"manifest":{"type":"virtual-account","name":"va","permissions":[]}}`,
		`{"manifest":{"type":"secret-group","name":"main","integration_id":"x","collaborators":[]},"dryRun":true}`,
		`{}`, `[]`, `null`, `"x"`, `{"name":1}`, "{\"name\":\"\xff\"}", `{"unknown":true}`, `{"name":"a"} {}`,
		strings.Repeat(`{"manifest":`, 100) + `{}` + strings.Repeat(`}`, 100),
	} {
		f.Add(s)
	}
	fc := mustOpenFace(f)
	f.Fuzz(func(t *testing.T, body string) {
		for _, r := range []struct{ method, path string }{
			{"POST", "secret-groups"},
			{"PUT", "secret-groups"},
			{"PUT", "secret-groups/" + fc.group},
			{"POST", "secrets"},
			{"POST", "personal-access-tokens"},
			{"PUT", "virtual-accounts"},
		} {
			w := fc.do(r.method, r.path, body)
			what := r.method + " " + r.path
			if w.Code >= 500 {
				t.Fatalf("%s: got %d %s", what, w.Code, w.Body)
			}
			if w.Code >= 400 {
				var e struct {
					StatusCode int    `json:"statusCode"`
					Message    string `json:"message"`
					Details    []struct {
						Field string `json:"field"`
					} `json:"details"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.StatusCode != w.Code || e.Message == "" {
					t.Fatalf("%s: got %d %q, want an HttpError", what, w.Code, w.Body)
				}
				if w.Code == 422 && len(e.Details) == 0 {
					t.Fatalf("%s: a 422 without details: %s", what, w.Body)
				}
			} else {
				var d struct {
					Data  json.RawMessage `json:"data"`
					Token string          `json:"token"` // a PAT create answers {token}
				}
				if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil || len(d.Data) == 0 && (r.path != "personal-access-tokens" || d.Token == "") {
					t.Fatalf("%s: got %d %q, want {\"data\": ...}", what, w.Code, w.Body)
				}
			}
			if r.path != "secrets" && strings.Contains(w.Body.String(), seedValue) {
				t.Fatalf("%s: a value in the answer: %s", what, w.Body)
			}
		}
	})
}
