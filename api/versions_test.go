package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/api"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
	"github.com/prometheus/client_golang/prometheus"
)

func TestVersionDeleteRoutes(t *testing.T) {
	env := svctest.Open(t, service.Options{})
	s := &api.Server{Secrets: env.Svc, Keys: env.Svc, Audit: env.Svc, Accounts: env.Svc, Hotkeys: env.Svc, Auth: env.Svc,
		Ready: env.DB.Ping, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Registry: prometheus.NewRegistry()}
	h := s.Handler()
	do := func(method, target, body string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+env.Token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	for _, r := range []struct{ method, target, body string }{
		{"POST", "/v1/stores", `{"name":"s"}`},
		{"PUT", "/v1/stores/s/secrets/db%2Fpw", `{"value":"v1"}`},
		{"PUT", "/v1/stores/s/secrets/db%2Fpw", `{"value":"v2"}`},
	} {
		if w := do(r.method, r.target, r.body); w.Code/100 != 2 {
			t.Fatalf("set up %s %s: %d %s", r.method, r.target, w.Code, w.Body)
		}
	}
	const base = "/v1/stores/s/secrets/db%2Fpw"

	w := do("POST", base+"/versions/delete", `{"versions":[2]}`)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"name":"db/pw"`) || w.Header().Get("ETag") != `"2"` {
		t.Fatalf("delete: got %d %s (ETag %s), want 200 with the secret", w.Code, w.Body, w.Header().Get("ETag"))
	}
	w = do("GET", base+"/versions", "")
	var hist struct {
		Versions []struct {
			Version   int     `json:"version"`
			DeletedAt *string `json:"deleted_at"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &hist); err != nil || len(hist.Versions) != 2 {
		t.Fatalf("history: got %d %s, %v", w.Code, w.Body, err)
	}
	if hist.Versions[0].DeletedAt == nil || hist.Versions[1].DeletedAt != nil {
		t.Fatalf("history: got %s, want deleted_at on version 2 only", w.Body)
	}
	if w = do("GET", base+"/value", ""); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "deleted") {
		t.Fatalf("value of a deleted latest version: got %d %s, want 404 saying it is deleted", w.Code, w.Body)
	}
	if w = do("GET", base+"/value?version=1", ""); w.Code != http.StatusOK {
		t.Fatalf("value of version 1: got %d %s, want 200", w.Code, w.Body)
	}
	if w = do("POST", base+"/versions/undelete", `{"versions":[2]}`); w.Code != http.StatusOK {
		t.Fatalf("undelete: got %d %s, want 200", w.Code, w.Body)
	}
	if w = do("GET", base+"/value", ""); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"value":"v2"`) {
		t.Fatalf("value after undelete: got %d %s, want 200 v2", w.Code, w.Body)
	}

	for _, c := range []struct{ name, target, body string }{
		{"EmptyList", base + "/versions/delete", `{"versions":[]}`},
		{"NoList", base + "/versions/undelete", `{}`},
		{"Zero", base + "/versions/delete", `{"versions":[0]}`},
		{"NotNumbers", base + "/versions/delete", `{"versions":["1"]}`},
		{"UnknownField", base + "/versions/delete", `{"versions":[1],"all":true}`},
	} {
		t.Run("ErrInvalid/"+c.name, func(t *testing.T) {
			if w := do("POST", c.target, c.body); w.Code != http.StatusBadRequest {
				t.Fatalf("got %d %s, want 400", w.Code, w.Body)
			}
		})
	}
	if w = do("POST", "/v1/stores/s/secrets/nope/versions/delete", `{"versions":[1]}`); w.Code != http.StatusNotFound {
		t.Fatalf("missing secret: got %d %s, want 404", w.Code, w.Body)
	}
}
