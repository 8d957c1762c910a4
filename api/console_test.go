package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/api"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
	"github.com/coffer-dev/coffer/ui"
	"github.com/prometheus/client_golang/prometheus"
)

// fakeClock is a settable clock for session timeouts.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// console is the native API with the web console, over a real service on a
// fresh database, with a store "s" holding the secret KEEP.
type console struct {
	h       http.Handler
	token   string
	clock   *fakeClock
	console *api.Console
	db      coffer.Storage
}

const (
	testIdle = 15 * time.Minute
	testMax  = 8 * time.Hour
)

func mustOpenConsole(tb testing.TB, opts ...func(*api.Console)) *console {
	tb.Helper()
	env := svctest.Open(tb, service.Options{})
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	clock := &fakeClock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	con := &api.Console{Files: ui.Files(), Audit: env.Svc, Sessions: env.Svc, Idle: testIdle, Max: testMax, Now: clock.Now}
	for _, o := range opts {
		o(con)
	}
	s := &api.Server{Secrets: env.Svc, Keys: env.Svc, Audit: env.Svc, Accounts: env.Svc, Hotkeys: env.Svc, Auth: env.Svc,
		Ready: env.DB.Ping, Log: log, Registry: prometheus.NewRegistry(), Console: con}
	c := &console{h: s.Handler(), token: env.Token, clock: clock, console: con, db: env.DB}
	for _, r := range []struct{ method, target, body string }{
		{"POST", "/v1/stores", `{"name":"s"}`},
		{"PUT", "/v1/stores/s/secrets/KEEP", `{"value":"` + keepValue + `"}`},
	} {
		req := httptest.NewRequest(r.method, r.target, strings.NewReader(r.body))
		req.Header.Set("Authorization", "Bearer "+env.Token)
		w := httptest.NewRecorder()
		c.h.ServeHTTP(w, req)
		if w.Code/100 != 2 {
			tb.Fatalf("set up %s %s: %d %s", r.method, r.target, w.Code, w.Body)
		}
	}
	return c
}

// session is a signed-in browser: its cookie and CSRF token.
type session struct {
	cookie *http.Cookie
	csrf   string
}

func (c *console) signIn(t testing.TB, key string) (*session, *httptest.ResponseRecorder) {
	t.Helper()
	w := c.do(nil, "POST", "/ui/session", `{"key":`+jsonString(key)+`}`, "Sec-Fetch-Site", "same-origin", "Origin", "http://example.com")
	if w.Code != http.StatusOK {
		return nil, w
	}
	var body struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.CSRF == "" {
		t.Fatalf("sign-in body %s: %v", w.Body, err)
	}
	for _, ck := range w.Result().Cookies() {
		if ck.Name == api.SessionCookie {
			return &session{cookie: ck, csrf: body.CSRF}, w
		}
	}
	t.Fatalf("sign-in set no %s cookie", api.SessionCookie)
	return nil, w
}

// mustSignIn signs in with key and fails the test unless that works.
func (c *console) mustSignIn(t *testing.T, key string) (*session, *httptest.ResponseRecorder) {
	t.Helper()
	s, w := c.signIn(t, key)
	if s == nil {
		t.Fatalf("sign-in: got %d %s, want 200", w.Code, w.Body)
	}
	return s, w
}

// stored reports whether the database still holds the session.
func (c *console) stored(t *testing.T, s *session) bool {
	t.Helper()
	_, err := c.db.ConsoleSession(t.Context(), service.SessionStorageID(s.cookie.Value))
	if err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND {
		t.Fatalf("read session: %v", err)
	}
	return err == nil
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// do serves one request with the session's cookie (when s is not nil) and
// the given header pairs.
func (c *console) do(s *session, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if s != nil {
		req.AddCookie(&http.Cookie{Name: s.cookie.Name, Value: s.cookie.Value})
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, req)
	return w
}

func TestConsoleSignIn(t *testing.T) {
	c := mustOpenConsole(t)
	t.Run("OK", func(t *testing.T) {
		s, w := c.mustSignIn(t, c.token)
		ck := s.cookie
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure {
			t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", ck)
		}
		if len(ck.Value) < 43 { // 256 bits in base64url
			t.Errorf("session id %d characters, want at least 43", len(ck.Value))
		}
		if strings.Contains(w.Body.String(), c.token) {
			t.Errorf("sign-in response holds the API key")
		}
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", got)
		}
	})
	t.Run("SecureOverTLS", func(t *testing.T) {
		req := httptest.NewRequest("POST", "https://example.com/ui/session", strings.NewReader(`{"key":`+jsonString(c.token)+`}`))
		w := httptest.NewRecorder()
		c.h.ServeHTTP(w, req)
		cks := w.Result().Cookies()
		if w.Code != 200 || len(cks) != 1 || !cks[0].Secure {
			t.Fatalf("got %d cookies %v, want one Secure cookie", w.Code, cks)
		}
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		_, w := c.signIn(t, "cfr_not-a-key")
		if w.Code != http.StatusUnauthorized || len(w.Result().Cookies()) != 0 {
			t.Fatalf("got %d with cookies %v, want 401 and none", w.Code, w.Result().Cookies())
		}
	})
	t.Run("ErrCrossSite", func(t *testing.T) {
		w := c.do(nil, "POST", "/ui/session", `{"key":`+jsonString(c.token)+`}`, "Sec-Fetch-Site", "cross-site")
		if w.Code != http.StatusForbidden || len(w.Result().Cookies()) != 0 {
			t.Fatalf("got %d, want 403 and no cookie", w.Code)
		}
	})
}

func TestConsoleCSRF(t *testing.T) {
	c := mustOpenConsole(t)
	s, _ := c.mustSignIn(t, c.token)
	for _, tt := range []struct {
		name string
		hdr  []string
		want int
	}{
		{"ErrNoToken", nil, http.StatusForbidden},
		{"ErrWrongToken", []string{api.CSRFHeader, s.csrf[:len(s.csrf)-1] + "x"}, http.StatusForbidden},
		{"ErrCrossSite", []string{api.CSRFHeader, s.csrf, "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"ErrSameSiteOtherOrigin", []string{api.CSRFHeader, s.csrf, "Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		{"ErrOtherOrigin", []string{api.CSRFHeader, s.csrf, "Origin", "http://evil.example"}, http.StatusForbidden},
		{"OK", []string{api.CSRFHeader, s.csrf, "Sec-Fetch-Site", "same-origin", "Origin", "http://example.com"}, http.StatusCreated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := c.do(s, "POST", "/v1/stores", `{"name":"`+strings.ToLower(tt.name)+`"}`, tt.hdr...)
			if w.Code != tt.want {
				t.Fatalf("POST /v1/stores: got %d %s, want %d", w.Code, w.Body, tt.want)
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
		})
	}
	// A refused state change changed nothing.
	w := c.do(s, "GET", "/v1/stores", "")
	if w.Code != 200 || strings.Contains(w.Body.String(), "errnotoken") || !strings.Contains(w.Body.String(), `"ok"`) {
		t.Fatalf("stores after CSRF attempts: %d %s", w.Code, w.Body)
	}
	t.Run("ErrNoTokenDelete", func(t *testing.T) {
		if w := c.do(s, "DELETE", "/v1/stores/s/secrets/KEEP", ""); w.Code != http.StatusForbidden {
			t.Fatalf("got %d, want 403", w.Code)
		}
	})
	t.Run("ErrCrossSiteRead", func(t *testing.T) {
		if w := c.do(s, "GET", "/v1/stores/s/secrets/KEEP/value", "", "Sec-Fetch-Site", "cross-site"); w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), keepValue) {
			t.Fatalf("got %d, want 403 without the value", w.Code)
		}
	})
	t.Run("ErrNoSession", func(t *testing.T) {
		bogus := &session{cookie: &http.Cookie{Name: api.SessionCookie, Value: "bogus"}, csrf: s.csrf}
		if w := c.do(bogus, "GET", "/v1/stores", ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("got %d, want 401", w.Code)
		}
	})
}

// TestConsoleAudit checks that sign-in and sign-out are audited, that
// requests made in a session are audited under the console face, and that
// no event holds the key or the session's id or CSRF token.
func TestConsoleAudit(t *testing.T) {
	c := mustOpenConsole(t)
	s, _ := c.mustSignIn(t, c.token)
	same := []string{api.CSRFHeader, s.csrf, "Sec-Fetch-Site", "same-origin"}
	if w := c.do(s, "PUT", "/v1/stores/s/secrets/FROM_CONSOLE", `{"value":"v"}`, same...); w.Code != http.StatusCreated {
		t.Fatalf("create in a session: %d %s", w.Code, w.Body)
	}
	w := c.do(s, "GET", "/v1/stores/s/secrets/FROM_CONSOLE", "")
	var sec struct {
		Origin string `json:"origin"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &sec); err != nil || sec.Origin != "console" {
		t.Fatalf("secret created in a session: %s (%v), want origin console", w.Body, err)
	}
	if w := c.do(s, "DELETE", "/ui/session", "", same...); w.Code != http.StatusNoContent {
		t.Fatalf("sign-out: %d %s", w.Code, w.Body)
	}
	w = c.do(nil, "GET", "/v1/audit", "", "Authorization", "Bearer "+c.token)
	if w.Code != 200 {
		t.Fatalf("audit: %d %s", w.Code, w.Body)
	}
	for _, secret := range []string{c.token, s.cookie.Value, s.csrf} {
		if strings.Contains(w.Body.String(), secret) {
			t.Fatalf("the audit log holds a credential of the session")
		}
	}
	var page struct {
		Events []struct {
			Action, Face, Name, Outcome string
			KeyID                       string `json:"key_id"`
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range page.Events {
		if e.Face == "console" {
			got = append(got, e.Action+" "+e.Name+" "+e.Outcome)
			if e.KeyID == "" {
				t.Errorf("console event %s names no key", e.Action)
			}
		}
	}
	want := []string{"console.signin  ok", "secret.write FROM_CONSOLE ok", "console.signout  ok"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("console events:\n got %q\nwant %q", got, want)
	}
}

// TestConsoleOrigin checks Console.Origin, the public origin behind a
// proxy that rewrites Host: only that Origin passes.
func TestConsoleOrigin(t *testing.T) {
	c := mustOpenConsole(t, func(con *api.Console) { con.Origin = "https://coffer.example.org" })
	body := `{"key":` + jsonString(c.token) + `}`
	// httptest requests address example.com: an Origin naming the Host is
	// no longer enough.
	if w := c.do(nil, "POST", "/ui/session", body, "Origin", "http://example.com"); w.Code != http.StatusForbidden {
		t.Fatalf("Origin of the Host: got %d, want 403", w.Code)
	}
	if w := c.do(nil, "POST", "/ui/session", body, "Origin", "https://coffer.example.org.evil.example"); w.Code != http.StatusForbidden {
		t.Fatalf("Origin with the public one as a prefix: got %d, want 403", w.Code)
	}
	w := c.do(nil, "POST", "/ui/session", body, "Origin", "https://coffer.example.org", "Sec-Fetch-Site", "same-origin")
	if w.Code != http.StatusOK {
		t.Fatalf("public Origin: got %d %s, want 200", w.Code, w.Body)
	}
}

func TestConsoleSessionExpiry(t *testing.T) {
	c := mustOpenConsole(t)
	get := func(s *session) int { return c.do(s, "GET", "/v1/stores", "").Code }
	t.Run("Idle", func(t *testing.T) {
		s, _ := c.signIn(t, c.token)
		c.clock.Add(testIdle - time.Second)
		if got := get(s); got != 200 {
			t.Fatalf("just inside the idle timeout: got %d, want 200", got)
		}
		c.clock.Add(testIdle - time.Second) // used a moment ago: still alive
		if got := get(s); got != 200 {
			t.Fatalf("idle timeout restarted by use: got %d, want 200", got)
		}
		c.clock.Add(testIdle)
		if got := get(s); got != http.StatusUnauthorized {
			t.Fatalf("after the idle timeout: got %d, want 401", got)
		}
		c.clock.Add(-testIdle) // the session is gone, not just timed out
		if got := get(s); got != http.StatusUnauthorized {
			t.Fatalf("an expired session came back: got %d, want 401", got)
		}
	})
	t.Run("Absolute", func(t *testing.T) {
		s, _ := c.signIn(t, c.token)
		for elapsed := time.Duration(0); elapsed+10*time.Minute < testMax; elapsed += 10 * time.Minute {
			c.clock.Add(10 * time.Minute)
			if got := get(s); got != 200 {
				t.Fatalf("at %s, in constant use: got %d, want 200", elapsed+10*time.Minute, got)
			}
		}
		c.clock.Add(10 * time.Minute)
		if got := get(s); got != http.StatusUnauthorized {
			t.Fatalf("after the absolute lifetime: got %d, want 401", got)
		}
		if w := c.do(s, "GET", "/ui/session", ""); w.Code != http.StatusUnauthorized {
			t.Fatalf("GET /ui/session after expiry: got %d, want 401", w.Code)
		}
	})
}

func TestConsoleSignOut(t *testing.T) {
	c := mustOpenConsole(t)
	s, _ := c.signIn(t, c.token)
	if w := c.do(s, "DELETE", "/ui/session", ""); w.Code != http.StatusForbidden {
		t.Fatalf("sign-out without CSRF token: got %d, want 403", w.Code)
	}
	if w := c.do(s, "GET", "/ui/session", ""); w.Code != 200 || !strings.Contains(w.Body.String(), s.csrf) {
		t.Fatalf("session after a refused sign-out: got %d, want 200", w.Code)
	}
	w := c.do(s, "DELETE", "/ui/session", "", api.CSRFHeader, s.csrf)
	if w.Code != http.StatusNoContent {
		t.Fatalf("sign-out: got %d %s, want 204", w.Code, w.Body)
	}
	if cks := w.Result().Cookies(); len(cks) != 1 || cks[0].MaxAge >= 0 {
		t.Errorf("sign-out cookies %v, want the session cookie cleared", cks)
	}
	if c.stored(t, s) {
		t.Error("the database still holds the session after sign-out")
	}
	if w := c.do(s, "GET", "/v1/stores", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("API after sign-out: got %d, want 401", w.Code)
	}
}

func TestConsoleHeaders(t *testing.T) {
	c := mustOpenConsole(t)
	const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	for _, tt := range []struct{ target, ctype string }{
		{"/ui/", "text/html; charset=utf-8"},
		{"/ui/index.html", "text/html; charset=utf-8"},
		{"/ui/app.js", "text/javascript; charset=utf-8"},
		{"/ui/app.css", "text/css; charset=utf-8"},
		{"/ui/no/such/page", "text/html; charset=utf-8"},
		{"/ui/session", "application/json"},
	} {
		w := c.do(nil, "GET", tt.target, "")
		h := w.Header()
		for k, want := range map[string]string{"Content-Security-Policy": csp, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
			"X-Content-Type-Options": "nosniff", "Content-Type": tt.ctype, "Cache-Control": "no-store"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", tt.target, k, got, want)
			}
		}
	}
}

// TestConsoleNoInlineScript checks that the console's files hold no inline
// script or style that the CSP would block (and that would be an XSS
// foothold), and no reference to another origin.
func TestConsoleNoInlineScript(t *testing.T) {
	files := ui.Files()
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|\son[a-z]+\s*=|style\s*=|<style|javascript:|https?://`)
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".html") {
			if m := inline.Find(b); m != nil {
				t.Errorf("%s: inline script, style or external reference: %q", p, m)
			}
		}
		if strings.HasSuffix(p, ".js") && regexp.MustCompile(`innerHTML|outerHTML|eval\(|new Function|https?://`).Match(b) {
			t.Errorf("%s uses innerHTML, eval or an external URL", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConsoleCanary signs in and loads everything the console loads before
// a reveal: its files, the session, and every API listing and metadata
// page it calls. None may hold the secret's value; the reveal does (which
// shows the scan would see it).
func TestConsoleCanary(t *testing.T) {
	c := mustOpenConsole(t)
	s, w := c.mustSignIn(t, c.token)
	if strings.Contains(w.Body.String(), keepValue) {
		t.Fatalf("sign-in response holds the canary")
	}
	targets := []string{"/ui/", "/ui/app.js", "/ui/app.css", "/ui/session",
		"/v1/stores?limit=20", "/v1/stores/s", "/v1/stores/s/secrets?limit=20", "/v1/stores/s/secrets?limit=20&prefix=KE",
		"/v1/stores/s/secrets?limit=20&deleted=true", "/v1/stores/s/secrets/KEEP", "/v1/stores/s/secrets/KEEP/versions",
		"/v1/keys", "/v1/audit?order=desc&limit=50", "/v1/audit?order=desc&limit=50&object=KEEP&action=secret.", "/v1/audit/verify"}
	for _, target := range targets {
		w := c.do(s, "GET", target, "")
		if w.Code != 200 {
			t.Errorf("GET %s: %d %s", target, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), keepValue) {
			t.Errorf("GET %s: the response holds the secret value before reveal", target)
		}
	}
	w = c.do(s, "GET", "/v1/stores/s/secrets/KEEP/value", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), keepValue) {
		t.Fatalf("reveal: got %d, want 200 with the value", w.Code)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("reveal Cache-Control %q, want no-store", got)
	}
}

// TestConsoleRevokedKey checks that a session whose key is revoked is
// refused at once, and ended.
func TestConsoleRevokedKey(t *testing.T) {
	c := mustOpenConsole(t)
	admin, _ := c.signIn(t, c.token)
	w := c.do(admin, "POST", "/v1/keys", `{"name":"temp","admin":true,"scopes":[]}`, api.CSRFHeader, admin.csrf)
	var created struct {
		Key struct {
			ID string `json:"id"`
		} `json:"key"`
		Token string `json:"token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &created); w.Code != 201 || err != nil {
		t.Fatalf("create key: %d %s", w.Code, w.Body)
	}
	s, _ := c.signIn(t, created.Token)
	if s == nil {
		t.Fatal("sign in with the new key failed")
	}
	if w := c.do(s, "GET", "/v1/stores", ""); w.Code != 200 {
		t.Fatalf("before revoke: got %d, want 200", w.Code)
	}
	if w := c.do(admin, "DELETE", "/v1/keys/"+created.Key.ID, "", api.CSRFHeader, admin.csrf); w.Code != 204 {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	if w := c.do(s, "GET", "/v1/stores", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("after revoke: got %d, want 401", w.Code)
	}
	if !c.stored(t, s) {
		t.Fatal("the revoked key's session is gone before it was checked")
	}
	if w := c.do(s, "GET", "/ui/session", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("GET /ui/session after revoke: got %d, want 401", w.Code)
	}
	if c.stored(t, s) {
		t.Error("the database still holds the revoked key's session after it was checked")
	}
}

// TestConsoleSessionStorage checks what the database's copy of a session
// is worth without the browser's cookie: its id is no cookie, and its
// sealed key opens under no other session id.
func TestConsoleSessionStorage(t *testing.T) {
	c := mustOpenConsole(t)
	s, _ := c.mustSignIn(t, c.token)
	row, err := c.db.ConsoleSession(t.Context(), service.SessionStorageID(s.cookie.Value))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(row.Sealed, []byte(c.token)) {
		t.Fatal("the stored session holds the API key in the clear")
	}
	// A session row under another id, holding this session's sealed key.
	other := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	moved := *row
	moved.ID = service.SessionStorageID(other)
	if err := c.db.CreateConsoleSession(t.Context(), &moved); err != nil {
		t.Fatal(err)
	}
	for name, cookie := range map[string]string{
		"the stored id as a cookie":        base64.RawURLEncoding.EncodeToString(row.ID),
		"another id over this sealed key":  other,
		"a cookie that is no session id":   "not-a-session",
		"a session id with a byte missing": s.cookie.Value[:len(s.cookie.Value)-2],
	} {
		fake := &session{cookie: &http.Cookie{Name: api.SessionCookie, Value: cookie}}
		if w := c.do(fake, "GET", "/v1/stores", ""); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: got %d, want 401", name, w.Code)
		}
	}
	if w := c.do(s, "GET", "/v1/stores", ""); w.Code != 200 {
		t.Fatalf("the real session: got %d, want 200", w.Code)
	}
}
