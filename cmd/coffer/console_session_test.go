package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// consoleSession is a signed-in console: its cookie value and CSRF token.
type consoleSession struct {
	cookie, csrf string
}

// consoleSignIn signs in to the console of the server at base with key, as
// the browser does (same origin).
func consoleSignIn(t *testing.T, base, key string) consoleSession {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/ui/session", strings.NewReader(`{"key":`+jsString(key)+`}`))
	req.Header.Set("Origin", base)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		t.Fatalf("sign-in: got %d (%v)", res.StatusCode, err)
	}
	for _, ck := range res.Cookies() {
		if ck.Name == "coffer_session" {
			return consoleSession{cookie: ck.Value, csrf: body.CSRF}
		}
	}
	t.Fatal("sign-in set no session cookie")
	return consoleSession{}
}

// do sends a request with the session to the server at base, with its
// CSRF token unless it is a GET, and returns the status.
func (s consoleSession) do(t *testing.T, base, method, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.AddCookie(&http.Cookie{Name: "coffer_session", Value: s.cookie})
	req.Header.Set("Origin", base)
	if method != "GET" {
		req.Header.Set("X-CSRF-Token", s.csrf)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestConsoleSessionRestart checks that a console session is kept in the
// database: it outlives a restart of the server, and its sign-out then
// ends it.
func TestConsoleSessionRestart(t *testing.T) {
	dir := t.TempDir()
	first := mustOpenServer(t, dir)
	base, token := "http://"+first.Addr, first.RootToken
	s := consoleSignIn(t, base, token)
	if got := s.do(t, base, "GET", "/v1/stores", ""); got != 200 {
		t.Fatalf("before the restart: got %d, want 200", got)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second := mustOpenServer(t, dir)
	base = "http://" + second.Addr
	if got := s.do(t, base, "GET", "/v1/stores", ""); got != 200 {
		t.Fatalf("after the restart: got %d, want 200", got)
	}
	if got := s.do(t, base, "POST", "/v1/stores", `{"name":"after-restart"}`); got != 201 {
		t.Fatalf("a state change with the CSRF token after the restart: got %d, want 201", got)
	}
	if got := s.do(t, base, "DELETE", "/ui/session", ""); got != 204 {
		t.Fatalf("sign-out: got %d, want 204", got)
	}
	if got := s.do(t, base, "GET", "/v1/stores", ""); got != 401 {
		t.Fatalf("after sign-out: got %d, want 401", got)
	}
}

// TestConsoleSessionPostgresServers checks that every server of a
// PostgreSQL database serves a console session: signed in on one, used on
// the other, signed out there, and refused on the first.
func TestConsoleSessionPostgresServers(t *testing.T) {
	t.Parallel() // on a PostgreSQL cluster of its own
	_, url := startPostgres(t)
	srvA := mustOpenPGServer(t, url, t.TempDir(), "")
	key := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(srvA.Config.DataDir, "master.key")))))
	srvB := mustOpenPGServer(t, url, t.TempDir(), key)
	a, b := "http://"+srvA.Addr, "http://"+srvB.Addr
	s := consoleSignIn(t, a, srvA.RootToken)
	if got := s.do(t, b, "POST", "/v1/stores", `{"name":"made-on-b"}`); got != 201 {
		t.Fatalf("a session made on A, used on B: got %d, want 201", got)
	}
	if got := s.do(t, a, "GET", "/v1/stores/made-on-b", ""); got != 200 {
		t.Fatalf("back on A: got %d, want 200", got)
	}
	if got := s.do(t, b, "DELETE", "/ui/session", ""); got != 204 {
		t.Fatalf("sign-out on B: got %d, want 204", got)
	}
	if got := s.do(t, a, "GET", "/v1/stores", ""); got != 401 {
		t.Fatalf("on A after sign-out on B: got %d, want 401", got)
	}
}
