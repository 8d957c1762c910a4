package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/dotenv"
)

// cliTestToken is the token the CLI tests send; no output may contain it.
const cliTestToken = "cfr_test-TOKEN-never-printed"

// cliRoute answers one request of a cliFake.
type cliRoute func(r *http.Request, body []byte) (status int, reply string)

// cliReply is a route with a canned answer.
func cliReply(status int, reply string) cliRoute {
	return func(*http.Request, []byte) (int, string) { return status, reply }
}

// cliRequest is a request a cliFake received.
type cliRequest struct {
	Method, Path, Query string // Path escaped, as on the wire
	Header              http.Header
	Body                []byte
}

// cliFake is a canned native API for CLI tests: routes are keyed by method
// and escaped path ("PUT /v1/stores/prod/secrets/db%2Fpw"), and every
// request is recorded.
type cliFake struct {
	URL  string
	mu   sync.Mutex
	reqs []cliRequest
}

func newCLIFake(t *testing.T, routes map[string]cliRoute) *cliFake {
	t.Helper()
	f := &cliFake{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, cliRequest{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), body})
		f.mu.Unlock()
		route, ok := routes[r.Method+" "+r.URL.EscapedPath()]
		if !ok {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.EscapedPath())
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"code":"not_found","message":"no such route"}}`)
			return
		}
		if got, want := r.Header.Get("Authorization"), "Bearer "+cliTestToken; got != want {
			t.Errorf("Authorization: got %q, want %q", got, want)
		}
		status, reply := route(r, body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, reply)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// Requests returns the requests received so far.
func (f *cliFake) Requests() []cliRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cliRequest(nil), f.reqs...)
}

// cliResult is what one in-process run of the coffer command did.
type cliResult struct {
	Code           int
	Stdout, Stderr string
}

// cliExec runs Main in-process with stdin and COFFER_ADDR/COFFER_TOKEN set
// to addr and token (unset when empty).
func cliExec(t *testing.T, addr, token, stdin string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
		switch k {
		case "COFFER_ADDR":
			return addr
		case "COFFER_TOKEN":
			return token
		}
		return ""
	}}
	code := Main(context.Background(), env, args)
	r := cliResult{code, stdout.String(), stderr.String()}
	if strings.Contains(r.Stderr, cliTestToken) {
		t.Errorf("coffer %s: stderr reveals the token: %q", strings.Join(args, " "), r.Stderr)
	}
	return r
}

const (
	cliSecretJSON  = `{"id":"0123456789abcdef0123456789abcdef","store_id":"s","name":"db/password","status":"active","version":3,"created_at":"2025-01-02T03:04:05Z","updated_at":"2025-01-02T03:04:05Z"}`
	cliDeletedJSON = `{"id":"0123456789abcdef0123456789abcdef","name":"db/password","status":"deleted","version":3}`
)

// TestCLI_Commands checks the request each command sends and its output.
func TestCLI_Commands(t *testing.T) {
	valueFile := filepath.Join(t.TempDir(), "value.bin")
	if err := os.WriteFile(valueFile, []byte("\xff\x00exact\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		stdin      string
		route      string // METHOD /escaped/path
		status     int
		reply      string
		wantQuery  string
		wantHeader map[string]string
		wantBody   string // JSON, "" for none
		wantStdout string
	}{
		{name: "StoreCreate", args: []string{"store", "create", "prod", "--comment", "production"},
			route: "POST /v1/stores", status: 201, reply: `{"id":"0123456789abcdef0123456789abcdef","name":"prod"}`,
			wantBody: `{"name":"prod","comment":"production"}`, wantStdout: "prod id 0123456789abcdef0123456789abcdef\n"},
		{name: "StoreDelete", args: []string{"store", "delete", "prod"},
			route: "DELETE /v1/stores/prod", status: 204, wantStdout: "prod deleted\n"},
		{name: "StoreDeleteForce", args: []string{"store", "delete", "--force", "prod"},
			route: "DELETE /v1/stores/prod", status: 204, wantQuery: "force=true", wantStdout: "prod deleted\n"},

		{name: "PutStdin", args: []string{"secret", "put", "prod", "db/password"}, stdin: "s3cret\n",
			route: "PUT /v1/stores/prod/secrets/db%2Fpassword", reply: cliSecretJSON,
			wantBody: `{"value":"s3cret"}`, wantStdout: "db/password version 3\n"},
		{name: "PutStripsOneNewline", args: []string{"secret", "put", "prod", "db/password"}, stdin: "s3cret\n\n",
			route: "PUT /v1/stores/prod/secrets/db%2Fpassword", reply: cliSecretJSON,
			wantBody: `{"value":"s3cret\n"}`, wantStdout: "db/password version 3\n"},
		{name: "PutKeepsOtherBytes", args: []string{"secret", "put", "prod", "db/password"}, stdin: " s3 cret \r\n",
			route: "PUT /v1/stores/prod/secrets/db%2Fpassword", reply: cliSecretJSON,
			wantBody: `{"value":" s3 cret \r"}`, wantStdout: "db/password version 3\n"},
		{name: "PutRaw", args: []string{"secret", "put", "prod", "db/password", "--raw"}, stdin: "s3cret\n",
			route: "PUT /v1/stores/prod/secrets/db%2Fpassword", reply: cliSecretJSON,
			wantBody: `{"value":"s3cret\n"}`, wantStdout: "db/password version 3\n"},
		{name: "PutEmpty", args: []string{"secret", "put", "prod", "db/password"}, stdin: "",
			route: "PUT /v1/stores/prod/secrets/db%2Fpassword", reply: cliSecretJSON,
			wantBody: `{"value":""}`, wantStdout: "db/password version 3\n"},
		{name: "PutFileExactBytes", args: []string{"secret", "put", "--file", valueFile, "prod", "db/password"}, stdin: "ignored",
			route: "PUT /v1/stores/prod/secrets/db%2Fpassword", reply: cliSecretJSON,
			wantBody: `{"value":"/wBleGFjdAo=","encoding":"base64"}`, wantStdout: "db/password version 3\n"},
		{name: "PutFlagsFirst", args: []string{"secret", "put", "--if-version", "3", "--comment", "rotated", "prod", "db/password"}, stdin: "v",
			route: "PUT /v1/stores/prod/secrets/db%2Fpassword", reply: cliSecretJSON,
			wantHeader: map[string]string{"If-Match": `"3"`}, wantBody: `{"value":"v","comment":"rotated"}`, wantStdout: "db/password version 3\n"},
		{name: "PutCreateOnly", args: []string{"secret", "put", "prod", "db/password", "--if-version=0"}, stdin: "v",
			route: "PUT /v1/stores/prod/secrets/db%2Fpassword", reply: cliSecretJSON,
			wantHeader: map[string]string{"If-None-Match": "*"}, wantBody: `{"value":"v"}`, wantStdout: "db/password version 3\n"},
		{name: "PutEmptyComment", args: []string{"secret", "put", "prod", "db/password", "--comment", ""}, stdin: "v",
			route: "PUT /v1/stores/prod/secrets/db%2Fpassword", reply: cliSecretJSON,
			wantBody: `{"value":"v","comment":""}`, wantStdout: "db/password version 3\n"},

		{name: "Get", args: []string{"secret", "get", "prod", "db/password"},
			route: "GET /v1/stores/prod/secrets/db%2Fpassword/value", reply: `{"name":"db/password","version":3,"value":"s3cret"}`,
			wantStdout: "s3cret\n"},
		{name: "GetKeepsNewlines", args: []string{"secret", "get", "prod", "db/password"},
			route: "GET /v1/stores/prod/secrets/db%2Fpassword/value", reply: `{"name":"db/password","version":3,"value":"a\nb\n"}`,
			wantStdout: "a\nb\n\n"},
		{name: "GetVersionRaw", args: []string{"secret", "get", "--raw", "prod", "db/password", "--version", "2"},
			route: "GET /v1/stores/prod/secrets/db%2Fpassword/value", reply: `{"name":"db/password","version":2,"value":"/wBh","encoding":"base64"}`,
			wantQuery: "version=2", wantStdout: "\xff\x00a"},

		{name: "History", args: []string{"secret", "history", "prod", "db/password"},
			route: "GET /v1/stores/prod/secrets/db%2Fpassword/versions",
			reply: `{"versions":[{"version":3,"created_at":"2025-01-02T03:04:06Z","created_by":"alice","deleted_at":"2025-01-04T00:00:00Z"},{"version":2,"created_at":"2025-01-02T03:04:05Z","created_by":"alice"},{"version":1,"created_at":"2025-01-01T00:00:00Z","created_by":"bob","destroyed_at":"2025-01-03T00:00:00Z"}]}`,
			wantStdout: "VERSION  CREATED               BY     DESTROYED             DELETED\n" +
				"3        2025-01-02T03:04:06Z  alice  -                     2025-01-04T00:00:00Z\n" +
				"2        2025-01-02T03:04:05Z  alice  -                     -\n" +
				"1        2025-01-01T00:00:00Z  bob    2025-01-03T00:00:00Z  -\n"},
		{name: "Rollback", args: []string{"secret", "rollback", "prod", "db/password", "1"},
			route: "POST /v1/stores/prod/secrets/db%2Fpassword/rollback", reply: cliSecretJSON,
			wantBody: `{"version":1}`, wantStdout: "db/password version 3\n"},
		{name: "RollbackIfVersion", args: []string{"secret", "rollback", "prod", "db/password", "1", "--if-version", "2"},
			route: "POST /v1/stores/prod/secrets/db%2Fpassword/rollback", reply: cliSecretJSON,
			wantHeader: map[string]string{"If-Match": `"2"`}, wantBody: `{"version":1}`, wantStdout: "db/password version 3\n"},
		{name: "Delete", args: []string{"secret", "delete", "prod", "db/password"},
			route: "DELETE /v1/stores/prod/secrets/db%2Fpassword", reply: cliDeletedJSON,
			wantStdout: "db/password deleted, id 0123456789abcdef0123456789abcdef\n"},
		{name: "Undelete", args: []string{"secret", "undelete", "prod", "0123456789abcdef0123456789abcdef"},
			route: "POST /v1/stores/prod/secrets/0123456789abcdef0123456789abcdef/undelete", reply: cliSecretJSON,
			wantStdout: "db/password version 3\n"},
		{name: "Destroy", args: []string{"secret", "destroy", "prod", "db/password", "2"},
			route: "DELETE /v1/stores/prod/secrets/db%2Fpassword/versions/2", status: 204,
			wantStdout: "db/password version 2 destroyed\n"},
		{name: "Purge", args: []string{"secret", "purge", "prod", "0123456789abcdef0123456789abcdef"},
			route: "DELETE /v1/stores/prod/secrets/0123456789abcdef0123456789abcdef", status: 204, wantQuery: "purge=true",
			wantStdout: "0123456789abcdef0123456789abcdef purged\n"},

		{name: "KeyCreateScopes", args: []string{"key", "create", "deploy", "--scope", "prod:db/*:read,reveal", "--scope", "*:*:list"},
			route: "POST /v1/keys", status: 201, reply: `{"key":{"id":"k1","name":"deploy","scopes":[]},"token":"cfr_new-token"}`,
			wantBody:   `{"name":"deploy","admin":false,"scopes":[{"store":"prod","secret":"db/*","actions":["read","reveal"]},{"store":"*","secret":"*","actions":["list"]}]}`,
			wantStdout: "cfr_new-token\n"},
		{name: "KeyCreateAdmin", args: []string{"key", "create", "--admin", "root2"},
			route: "POST /v1/keys", status: 201, reply: `{"key":{"id":"k2","name":"root2","admin":true,"scopes":[]},"token":"cfr_admin"}`,
			wantBody: `{"name":"root2","admin":true,"scopes":[]}`, wantStdout: "cfr_admin\n"},
		{name: "KeyCreatePrincipal", args: []string{"key", "create", "ci-deploy", "--principal", "p2", "--scope", "prod:deploy/*:reveal"},
			route: "POST /v1/keys", status: 201, reply: `{"key":{"id":"k3","principal_id":"p2","name":"ci-deploy","scopes":[]},"token":"cfr_p2"}`,
			wantBody:   `{"name":"ci-deploy","principal_id":"p2","admin":false,"scopes":[{"store":"prod","secret":"deploy/*","actions":["reveal"]}]}`,
			wantStdout: "cfr_p2\n"},
		{name: "KeyList", args: []string{"key", "list"},
			route: "GET /v1/keys",
			reply: `{"keys":[{"id":"k1","principal_id":"p1","name":"deploy","scopes":[{"store":"prod","secret":"db/*","actions":["read","reveal"]}],"created_at":"2025-01-02T03:04:05Z"},` +
				`{"id":"k2","principal_id":"p1","name":"old","admin":true,"scopes":[],"created_at":"2025-01-02T03:04:05Z","revoked_at":"2025-01-03T00:00:00Z"},` +
				`{"id":"k3","principal_id":"p2","name":"tmp","scopes":[{"actions":["list"]}],"created_at":"2025-01-02T03:04:05Z","expires_at":"2025-01-03T00:00:00Z"}]}`,
			wantStdout: "ID  NAME    RIGHTS                 STATUS   CREATED               EXPIRES               LAST USED  PRINCIPAL\n" +
				"k1  deploy  prod:db/*:read,reveal  active   2025-01-02T03:04:05Z  -                     -          p1\n" +
				"k2  old     admin                  revoked  2025-01-02T03:04:05Z  -                     -          p1\n" +
				"k3  tmp     *:*:list               expired  2025-01-02T03:04:05Z  2025-01-03T00:00:00Z  -          p2\n"},
		{name: "KeyRevoke", args: []string{"key", "revoke", "k1"},
			route: "DELETE /v1/keys/k1", status: 204, wantStdout: "key k1 revoked\n"},

		{name: "AccountCreate", args: []string{"account", "create", "acme"},
			route: "POST /v1/accounts", status: 201,
			reply: `{"account":{"id":"acc2","name":"acme","created_at":"2025-01-02T03:04:05Z"},"principal":{"id":"p1","account_id":"acc2","name":"admin","kind":"user"},` +
				`"key":{"id":"k1","account_id":"acc2","principal_id":"p1","name":"admin","admin":true,"scopes":[]},"token":"cfr_acme-admin"}`,
			wantBody: `{"name":"acme"}`, wantStdout: "acme id acc2\ncfr_acme-admin\n"},
		{name: "AccountList", args: []string{"account", "list"},
			route: "GET /v1/accounts",
			reply: `{"accounts":[{"id":"acc1","name":"default","created_at":"2025-01-01T00:00:00Z"},{"id":"acc2","name":"acme","created_at":"2025-01-02T03:04:05Z"}]}`,
			wantStdout: "ID    NAME     CREATED\n" +
				"acc1  default  2025-01-01T00:00:00Z\n" +
				"acc2  acme     2025-01-02T03:04:05Z\n"},
		{name: "PrincipalCreate", args: []string{"principal", "create", "ci"},
			route: "POST /v1/principals", status: 201, reply: `{"id":"p2","account_id":"acc2","name":"ci","kind":"service"}`,
			wantBody: `{"name":"ci","kind":"service"}`, wantStdout: "ci id p2\n"},
		{name: "PrincipalCreateUser", args: []string{"principal", "create", "--kind", "user", "alice"},
			route: "POST /v1/principals", status: 201, reply: `{"id":"p3","account_id":"acc2","name":"alice","kind":"user"}`,
			wantBody: `{"name":"alice","kind":"user"}`, wantStdout: "alice id p3\n"},
		{name: "PrincipalList", args: []string{"principal", "list"},
			route: "GET /v1/principals",
			reply: `{"principals":[{"id":"p1","name":"admin","kind":"user","created_at":"2025-01-02T03:04:05Z"},{"id":"p2","name":"ci","kind":"service","created_at":"2025-01-02T03:04:05Z"}]}`,
			wantStdout: "ID  NAME   KIND     CREATED\n" +
				"p1  admin  user     2025-01-02T03:04:05Z\n" +
				"p2  ci     service  2025-01-02T03:04:05Z\n"},

		{name: "HotkeyAdd", args: []string{"hotkey", "add", "0123456789abcdef0123456789abcdef", "5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu"},
			route: "POST /v1/principals/0123456789abcdef0123456789abcdef/hotkeys", status: 201,
			reply:      `{"hotkey":"5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu","account_id":"acc","principal_id":"0123456789abcdef0123456789abcdef","created_at":"2025-01-02T03:04:05Z"}`,
			wantBody:   `{"hotkey":"5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu"}`,
			wantStdout: "hotkey 5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu registered to principal 0123456789abcdef0123456789abcdef\n"},
		{name: "HotkeyList", args: []string{"hotkey", "list"},
			route: "GET /v1/hotkeys",
			reply: `{"hotkeys":[{"hotkey":"5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu","account_id":"acc","principal_id":"p1","created_at":"2025-01-02T03:04:05Z"}]}`,
			wantStdout: "HOTKEY                                            PRINCIPAL  CREATED\n" +
				"5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu  p1         2025-01-02T03:04:05Z\n"},
		{name: "HotkeyRemove", args: []string{"hotkey", "remove", "5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu"},
			route: "DELETE /v1/hotkeys/5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu", status: 204,
			wantStdout: "hotkey 5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu removed\n"},

		{name: "AuditVerifyOK", args: []string{"audit", "verify"},
			route: "GET /v1/audit/verify", reply: `{"ok":true,"events":12,"head_seq":12,"head_hash":"q80="}`,
			wantStdout: "audit log OK: 12 events, head 12 abcd\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status := tt.status
			if status == 0 {
				status = 200
			}
			f := newCLIFake(t, map[string]cliRoute{tt.route: cliReply(status, tt.reply)})
			r := cliExec(t, f.URL, cliTestToken, tt.stdin, tt.args...)
			if r.Code != 0 {
				t.Fatalf("exit status %d, stderr %q", r.Code, r.Stderr)
			}
			if r.Stdout != tt.wantStdout {
				t.Errorf("stdout: got %q, want %q", r.Stdout, tt.wantStdout)
			}
			reqs := f.Requests()
			if len(reqs) != 1 {
				t.Fatalf("got %d requests, want 1", len(reqs))
			}
			req := reqs[0]
			if req.Query != tt.wantQuery {
				t.Errorf("query: got %q, want %q", req.Query, tt.wantQuery)
			}
			for _, h := range []string{"If-Match", "If-None-Match"} {
				if got, want := req.Header.Get(h), tt.wantHeader[h]; got != want {
					t.Errorf("%s: got %q, want %q", h, got, want)
				}
			}
			cliCheckJSON(t, req.Body, tt.wantBody)
		})
	}
}

// cliCheckJSON compares a request body with the JSON it should equal,
// ignoring the fields the test cannot know (expires_at).
func cliCheckJSON(t *testing.T, body []byte, want string) {
	t.Helper()
	if want == "" {
		if len(body) > 0 {
			t.Errorf("body: got %s, want none", body)
		}
		return
	}
	var g, w any
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad test JSON %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body: got %s, want %s", body, want)
	}
}

func TestCLI_KeyCreate_Output(t *testing.T) {
	var body []byte
	f := newCLIFake(t, map[string]cliRoute{"POST /v1/keys": func(r *http.Request, b []byte) (int, string) {
		body = b
		return 201, `{"key":{"id":"k9","name":"ci"},"token":"cfr_once"}`
	}})
	r := cliExec(t, f.URL, cliTestToken, "", "key", "create", "ci", "--scope", "staging:*:reveal", "--expires", "2d")
	if r.Code != 0 {
		t.Fatalf("exit status %d, stderr %q", r.Code, r.Stderr)
	}
	if got, want := r.Stdout, "cfr_once\n"; got != want {
		t.Errorf("stdout: got %q, want %q", got, want)
	}
	if !strings.Contains(r.Stderr, "id k9") || strings.Contains(r.Stderr, "cfr_once") {
		t.Errorf("stderr: got %q, want the id and not the token", r.Stderr)
	}
	var in struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(in.ExpiresAt); d < 47*time.Hour || d > 48*time.Hour {
		t.Errorf("expires_at %v is %v away, want 48h", in.ExpiresAt, d)
	}
}

func TestCLI_AccountCreate_Output(t *testing.T) {
	f := newCLIFake(t, map[string]cliRoute{"POST /v1/accounts": cliReply(201,
		`{"account":{"id":"acc2","name":"acme"},"principal":{"id":"p1","name":"admin","kind":"user"},"key":{"id":"k1","admin":true},"token":"cfr_once"}`)})
	r := cliExec(t, f.URL, cliTestToken, "", "account", "create", "acme")
	if r.Code != 0 {
		t.Fatalf("exit status %d, stderr %q", r.Code, r.Stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if got, want := lines[len(lines)-1], "cfr_once"; got != want {
		t.Errorf("last line of stdout: got %q, want %q", got, want)
	}
	for _, want := range []string{"account acme", "admin (id p1)", "key id k1", "shown only this once"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr: got %q, want it to say %q", r.Stderr, want)
		}
	}
	if strings.Contains(r.Stderr, "cfr_once") {
		t.Errorf("stderr shows the token: %q", r.Stderr)
	}
}

// TestCLI_RateLimited checks that a 429 prints the server's message and how
// long to wait.
func TestCLI_RateLimited(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		want       string
	}{
		{"OK", "42", "coffer store list: too many failed authentications (rate_limited); retry in 42s\n"},
		{"Minutes", "90", "coffer store list: too many failed authentications (rate_limited); retry in 1m30s\n"},
		{"NoHeader", "", "coffer store list: too many failed authentications (rate_limited); retry later\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, `{"error":{"code":"rate_limited","message":"too many failed authentications"}}`)
			}))
			defer srv.Close()
			r := cliExec(t, srv.URL, cliTestToken, "", "store", "list")
			if r.Code != 1 || r.Stderr != tt.want || r.Stdout != "" {
				t.Errorf("got %d, stdout %q, stderr %q; want 1 and %q", r.Code, r.Stdout, r.Stderr, tt.want)
			}
		})
	}
}

func TestCLIParseExpiry(t *testing.T) {
	for in, want := range map[string]time.Duration{"90m": 90 * time.Minute, "24h": 24 * time.Hour, "30d": 30 * 24 * time.Hour, "1h30m": 90 * time.Minute} {
		if got, err := cliParseExpiry(in); err != nil || got != want {
			t.Errorf("%q: got %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "0d", "-1h", "d", "1.5d", "soon", "99999999d"} {
		if got, err := cliParseExpiry(in); err == nil {
			t.Errorf("%q: got %v, want an error", in, got)
		}
	}
}

// TestCLI_ServerErrors checks that server errors show message and code,
// exit with status 1 and print nothing on stdout.
func TestCLI_ServerErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		route  string
		status int
		reply  string
		want   string
	}{
		{"NotFound", []string{"secret", "get", "prod", "x"}, "GET /v1/stores/prod/secrets/x/value", 404,
			`{"error":{"code":"not_found","message":"secret \"x\" not found"}}`,
			"coffer secret get: secret \"x\" not found (not_found)\n"},
		{"Unauthorized", []string{"store", "list"}, "GET /v1/stores", 401,
			`{"error":{"code":"unauthorized","message":"unauthorized"}}`,
			"coffer store list: unauthorized (unauthorized); check COFFER_TOKEN or --token\n"},
		{"Precondition", []string{"secret", "put", "--if-version", "2", "prod", "x"}, "PUT /v1/stores/prod/secrets/x", 412,
			`{"error":{"code":"precondition_failed","message":"latest version is 3, not 2"}}`,
			"coffer secret put: latest version is 3, not 2 (precondition_failed); see the latest version with 'coffer secret history'\n"},
		{"Conflict", []string{"store", "delete", "prod"}, "DELETE /v1/stores/prod", 409,
			`{"error":{"code":"conflict","message":"store holds 3 live secrets; use --force"}}`,
			"coffer store delete: store holds 3 live secrets; use --force (conflict)\n"},
		{"NotCoffer", []string{"key", "list"}, "GET /v1/keys", 502, `<html>`,
			"coffer key list: GET /v1/keys: unexpected response 502 Bad Gateway without a coffer error body\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newCLIFake(t, map[string]cliRoute{tt.route: cliReply(tt.status, tt.reply)})
			r := cliExec(t, f.URL, cliTestToken, "value-not-shown", tt.args...)
			if r.Code != 1 {
				t.Errorf("exit status: got %d, want 1", r.Code)
			}
			if r.Stderr != tt.want {
				t.Errorf("stderr: got %q, want %q", r.Stderr, tt.want)
			}
			if r.Stdout != "" {
				t.Errorf("stdout: got %q, want nothing", r.Stdout)
			}
		})
	}
}

func TestCLI_Token(t *testing.T) {
	t.Chdir(t.TempDir())
	var gotAuth []string
	f := newCLIFake(t, map[string]cliRoute{"GET /v1/keys": func(r *http.Request, _ []byte) (int, string) {
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		return 200, `{"keys":[]}`
	}})
	t.Run("ErrNoToken", func(t *testing.T) {
		r := cliExec(t, f.URL, "", "", "key", "list")
		if r.Code != 1 || !strings.Contains(r.Stderr, "set COFFER_TOKEN") {
			t.Errorf("got %d %q, want 1 and a hint to set COFFER_TOKEN", r.Code, r.Stderr)
		}
	})
	t.Run("TokenFile", func(t *testing.T) {
		if err := os.MkdirAll("coffer-data", 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("coffer-data/root.token", []byte(cliTestToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := cliExec(t, f.URL, "", "", "key", "list"); r.Code != 0 {
			t.Errorf("exit status %d, stderr %q", r.Code, r.Stderr)
		}
	})
	t.Run("FlagsWin", func(t *testing.T) {
		// The environment names an address and token that do not work.
		r := cliExec(t, "http://127.0.0.1:1", "wrong", "", "key", "list", "--addr", f.URL, "--token", cliTestToken)
		if r.Code != 0 {
			t.Errorf("exit status %d, stderr %q", r.Code, r.Stderr)
		}
	})
	if want := []string{"Bearer " + cliTestToken, "Bearer " + cliTestToken}; !reflect.DeepEqual(gotAuth, want) {
		t.Errorf("Authorization: got %q, want %q", gotAuth, want)
	}
}

// TestCLI_Usage checks argument errors (status 2, nothing sent) and --help
// (status 0, on stdout).
func TestCLI_Usage(t *testing.T) {
	f := newCLIFake(t, nil) // any request fails the test
	tests := []struct {
		args []string
		code int
		want string // in stdout for status 0, else in stderr
	}{
		{[]string{"secret"}, 2, "Commands:\n  put "},
		{[]string{"secret", "--help"}, 0, "Usage: coffer secret COMMAND"},
		{[]string{"secret", "nope"}, 2, `unknown command "nope"`},
		{[]string{"secret", "put", "prod"}, 2, "coffer secret put: missing NAME\nUsage: coffer secret put STORE NAME [flags]\n"},
		{[]string{"secret", "get"}, 2, "missing STORE NAME"},
		{[]string{"secret", "get", "a", "b", "c"}, 2, `unexpected argument "c"`},
		{[]string{"secret", "put", "--bogus", "a", "b"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"secret", "put", "a", "b", "--if-version", "-3"}, 2, "--if-version must be a positive version number"},
		{[]string{"secret", "delete", "a", "b", "--if-version", "0"}, 2, "--if-version must be a positive version number"},
		{[]string{"secret", "rollback", "p", "n", "latest"}, 2, `VERSION must be a positive number, not "latest"`},
		{[]string{"secret", "destroy", "p", "n", "0"}, 2, "VERSION must be a positive number"},
		{[]string{"secret", "get", "p", "n", "--version", "-1"}, 2, "--version must be a positive version number"},
		{[]string{"key", "create", "k"}, 2, "a key needs --admin or at least one --scope"},
		{[]string{"key", "create", "k", "--scope", "prod:read"}, 2, "want STORE:SECRET:ACTION[,ACTION...]"},
		{[]string{"key", "create", "k", "--scope", "prod:*:peek"}, 2, `unknown action "peek"`},
		{[]string{"key", "create", "k", "--admin", "--expires", "tomorrow"}, 2, "want a duration like 90m, 24h or 30d"},
		{[]string{"audit", "list", "--after", "-1"}, 2, "must not be negative"},
		{[]string{"account", "create"}, 2, "coffer account create: missing NAME\nUsage: coffer account create NAME [flags]\n"},
		{[]string{"account", "list", "x"}, 2, `unexpected argument "x"`},
		{[]string{"principal", "create", "ci", "--kind", "robot"}, 2, `--kind must be user or service, not "robot"`},
		{[]string{"principal"}, 2, "Commands:\n  create "},
		{[]string{"account", "create", "--help"}, 0, "shown only this once"},
		{[]string{"account", "create", "--help"}, 0, "Only the operator may create accounts"},
		{[]string{"principal", "create", "--help"}, 0, "--kind KIND"},
		{[]string{"principal", "create", "--help"}, 0, "(default service)"},
		{[]string{"key", "create", "--help"}, 0, "a key can only mint keys narrower than itself"},
		{[]string{"key", "create", "--help"}, 0, "--principal ID"},
		{[]string{"import", "prod", "x.env", "--format", "yaml"}, 2, "--format must be dotenv or json"},
		{[]string{"export", "prod", "--format", "yaml"}, 2, "--format must be dotenv or json"},
		{[]string{"run", "--store", "prod"}, 2, "missing CMD"},
		{[]string{"run", "--", "true"}, 2, "--store is required"},
		{[]string{"key", "create", "--help"}, 0, "Usage: coffer key create NAME [flags]"},
		{[]string{"key", "create", "-h"}, 0, "STORE:SECRET:ACTION[,ACTION...]"},
		{[]string{"key", "create", "--help"}, 0, "coffer key create deploy --scope 'prod:db/*:read,reveal'"},
		{[]string{"key", "create", "--help"}, 0, "reveal  read values"},
		{[]string{"run", "--help"}, 0, "Usage: coffer run --store STORE [--prefix PREFIX] -- CMD [ARGS...]"},
		{[]string{"secret", "put", "--help"}, 0, "one trailing newline"},
		{[]string{"import", "--help"}, 0, "KEY=\"line one\\nline two\""},
	}
	for _, tt := range tests {
		r := cliExec(t, f.URL, cliTestToken, "", tt.args...)
		out := r.Stderr
		if tt.code == 0 {
			out = r.Stdout
		}
		if r.Code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("coffer %s: got %d, stdout %q, stderr %q; want %d and %q", strings.Join(tt.args, " "), r.Code, r.Stdout, r.Stderr, tt.code, tt.want)
		}
	}
}

// TestCLI_HelpEverywhere checks that every client command has a full --help.
func TestCLI_HelpEverywhere(t *testing.T) {
	for _, group := range []string{"store", "secret", "key", "audit", "account", "principal", "hotkey"} {
		r := cliExec(t, "", "", "", group, "--help")
		if r.Code != 0 {
			t.Fatalf("coffer %s --help: status %d", group, r.Code)
		}
		for _, line := range strings.Split(r.Stdout, "\n") {
			if !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   ") {
				continue
			}
			sub := strings.Fields(line)[0]
			c := cliExec(t, "", "", "", group, sub, "--help")
			if c.Code != 0 || !strings.HasPrefix(c.Stdout, "Usage: coffer "+group+" "+sub) ||
				!strings.Contains(c.Stdout, "Examples:\n  coffer "+group+" "+sub) || !strings.Contains(c.Stdout, "--addr URL") {
				t.Errorf("coffer %s %s --help: status %d, output %q", group, sub, c.Code, c.Stdout)
			}
		}
	}
	for _, cmd := range []string{"import", "export", "run"} {
		c := cliExec(t, "", "", "", cmd, "--help")
		if c.Code != 0 || !strings.HasPrefix(c.Stdout, "Usage: coffer "+cmd) || !strings.Contains(c.Stdout, "Examples:\n") {
			t.Errorf("coffer %s --help: status %d, output %q", cmd, c.Code, c.Stdout)
		}
	}
}

func TestCLIParseInterspersed(t *testing.T) {
	tests := []struct {
		args    []string
		pos     []string
		comment string
		raw     bool
	}{
		{[]string{"a", "b"}, []string{"a", "b"}, "", false},
		{[]string{"a", "--comment", "c", "b", "--raw"}, []string{"a", "b"}, "c", true},
		{[]string{"--raw", "a", "-comment=x y", "b"}, []string{"a", "b"}, "x y", true},
		{[]string{"a", "--", "--raw", "-x"}, []string{"a", "--raw", "-x"}, "", false},
		{[]string{"--comment", "--", "a", "--raw"}, []string{"a"}, "--", true},
		{[]string{"--raw", "--", "a"}, []string{"a"}, "", true},
		{[]string{"-", "a"}, []string{"-", "a"}, "", false},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		comment := fs.String("comment", "", "")
		raw := fs.Bool("raw", false, "")
		pos, err := cliParseInterspersed(fs, tt.args)
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if !reflect.DeepEqual(pos, tt.pos) || *comment != tt.comment || *raw != tt.raw {
			t.Errorf("%q: got %q comment %q raw %v, want %q %q %v", tt.args, pos, *comment, *raw, tt.pos, tt.comment, tt.raw)
		}
	}
}

func TestCLI_SecretList(t *testing.T) {
	f := newCLIFake(t, map[string]cliRoute{"GET /v1/stores/prod/secrets": func(r *http.Request, _ []byte) (int, string) {
		switch r.URL.RawQuery {
		case "deleted=true&prefix=db%2F":
			return 200, `{"secrets":[{"id":"id1","name":"db/a","status":"active","version":2,"updated_at":"2025-01-02T03:04:05Z"}],"next_cursor":"c1"}`
		case "cursor=c1&deleted=true&prefix=db%2F":
			return 200, `{"secrets":[{"id":"id2","name":"db/b","status":"deleted","version":1,"updated_at":"2025-01-02T03:04:05Z"}]}`
		}
		t.Errorf("unexpected query %q", r.URL.RawQuery)
		return 400, `{"error":{"code":"invalid","message":"bad query"}}`
	}})
	r := cliExec(t, f.URL, cliTestToken, "", "secret", "list", "prod", "--prefix", "db/", "--deleted")
	want := "NAME  VERSION  STATUS   UPDATED               ID\n" +
		"db/a  2        active   2025-01-02T03:04:05Z  id1\n" +
		"db/b  1        deleted  2025-01-02T03:04:05Z  id2\n"
	if r.Code != 0 || r.Stdout != want {
		t.Errorf("got %d %q (stderr %q), want 0 %q", r.Code, r.Stdout, r.Stderr, want)
	}
}

func TestCLI_StoreList_RepeatedCursor(t *testing.T) {
	f := newCLIFake(t, map[string]cliRoute{"GET /v1/stores": cliReply(200, `{"stores":[{"name":"a"}],"next_cursor":"same"}`)})
	r := cliExec(t, f.URL, cliTestToken, "", "store", "list")
	if r.Code != 1 || !strings.Contains(r.Stderr, "same page cursor twice") {
		t.Errorf("got %d %q, want an error about the cursor", r.Code, r.Stderr)
	}
	if n := len(f.Requests()); n != 2 {
		t.Errorf("got %d requests, want 2", n)
	}
}

func TestCLI_Audit(t *testing.T) {
	f := newCLIFake(t, map[string]cliRoute{
		"GET /v1/audit": func(r *http.Request, _ []byte) (int, string) {
			switch r.URL.RawQuery {
			case "after=4", "after=4&limit=3":
				return 200, `{"events":[` +
					`{"seq":5,"time":"2025-01-02T03:04:05.123Z","action":"secret.reveal","outcome":"ok","store_id":"st","secret_id":"se","name":"db/pw","version":2,"key_id":"k1","reason":"prod:db/*:reveal","face":"native","remote":"127.0.0.1","request_id":"r1"},` +
					`{"seq":6,"time":"2025-01-02T03:04:06Z","action":"key.create","outcome":"forbidden","reason":"not an admin key"}],"next":6}`
			case "after=6", "after=6&limit=1":
				return 200, `{"events":[{"seq":7,"time":"2025-01-02T03:04:07Z","action":"store.create","outcome":"ok","name":"prod"}]}`
			}
			t.Errorf("unexpected query %q", r.URL.RawQuery)
			return 400, `{"error":{"code":"invalid","message":"bad query"}}`
		},
		"GET /v1/audit/verify": cliReply(200, `{"ok":false,"events":4,"head_seq":4,"head_hash":"AQI=","broken_at":5,"problem":"event content does not match its hash (edited)"}`),
	})
	lines := []string{
		`5 2025-01-02T03:04:05.123Z secret.reveal ok store=st secret=se name=db/pw version=2 key=k1 reason=prod:db/*:reveal face=native remote=127.0.0.1 request=r1`,
		`6 2025-01-02T03:04:06.000Z key.create forbidden reason="not an admin key"`,
		`7 2025-01-02T03:04:07.000Z store.create ok name=prod`,
	}
	r := cliExec(t, f.URL, cliTestToken, "", "audit", "list", "--after", "4")
	if want := strings.Join(lines, "\n") + "\n"; r.Code != 0 || r.Stdout != want {
		t.Errorf("list: got %d %q (stderr %q), want %q", r.Code, r.Stdout, r.Stderr, want)
	}
	r = cliExec(t, f.URL, cliTestToken, "", "audit", "list", "--after", "4", "--limit", "3")
	if want := strings.Join(lines, "\n") + "\n"; r.Code != 0 || r.Stdout != want {
		t.Errorf("list --limit 3: got %d %q (stderr %q), want %q", r.Code, r.Stdout, r.Stderr, want)
	}
	r = cliExec(t, f.URL, cliTestToken, "", "audit", "verify")
	want := "audit log BROKEN at event 5: event content does not match its hash (edited)\n4 events verified before it, head 4 0102\n"
	if r.Code != 1 || r.Stdout != want || r.Stderr != "" {
		t.Errorf("verify: got %d %q %q, want 1 %q", r.Code, r.Stdout, r.Stderr, want)
	}
}

func TestCLI_Import(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	put := func(r *http.Request, body []byte) (int, string) {
		name := strings.TrimPrefix(r.URL.Path, "/v1/stores/prod/secrets/")
		return 201, `{"name":"` + name + `","status":"active","version":1}`
	}
	routes := map[string]cliRoute{
		"PUT /v1/stores/prod/secrets/DB_PASSWORD": put,
		"PUT /v1/stores/prod/secrets/db%2Fuser":   put,
		"PUT /v1/stores/prod/secrets/EMPTY":       put,
	}
	t.Run("Dotenv", func(t *testing.T) {
		f := newCLIFake(t, routes)
		file := write("prod.env", "# database\nexport DB_PASSWORD=\"s3 cret\\n\"\n\ndb/user=admin # inline\nEMPTY=\n")
		r := cliExec(t, f.URL, cliTestToken, "", "import", "prod", file)
		if want := "DB_PASSWORD version 1\ndb/user version 1\nEMPTY version 1\n"; r.Code != 0 || r.Stdout != want {
			t.Fatalf("got %d %q (stderr %q), want %q", r.Code, r.Stdout, r.Stderr, want)
		}
		reqs := f.Requests()
		for i, want := range []string{`{"value":"s3 cret\n"}`, `{"value":"admin"}`, `{"value":""}`} {
			cliCheckJSON(t, reqs[i].Body, want)
		}
	})
	t.Run("JSONByExtension", func(t *testing.T) {
		f := newCLIFake(t, routes)
		file := write("prod.JSON", `{"db/user": "admin", "DB_PASSWORD": "s3cret"}`)
		r := cliExec(t, f.URL, cliTestToken, "", "import", "prod", file)
		if want := "db/user version 1\nDB_PASSWORD version 1\n"; r.Code != 0 || r.Stdout != want {
			t.Fatalf("got %d %q (stderr %q), want %q", r.Code, r.Stdout, r.Stderr, want)
		}
	})
	t.Run("StdinWithFormat", func(t *testing.T) {
		f := newCLIFake(t, routes)
		r := cliExec(t, f.URL, cliTestToken, `{"EMPTY": ""}`, "import", "--format", "json", "prod", "-")
		if want := "EMPTY version 1\n"; r.Code != 0 || r.Stdout != want {
			t.Fatalf("got %d %q (stderr %q), want %q", r.Code, r.Stdout, r.Stderr, want)
		}
	})
	t.Run("ErrBadLineWritesNothing", func(t *testing.T) {
		f := newCLIFake(t, routes)
		file := write("bad.env", "DB_PASSWORD=fine\n# ok\nthis line is wrong\n")
		r := cliExec(t, f.URL, cliTestToken, "", "import", "prod", file)
		if want := "coffer import: " + file + ": line 3: want KEY=value\n"; r.Code != 1 || r.Stderr != want {
			t.Errorf("got %d %q, want 1 %q", r.Code, r.Stderr, want)
		}
		if n := len(f.Requests()); n != 0 {
			t.Errorf("got %d requests, want none", n)
		}
	})
	t.Run("ErrMidway", func(t *testing.T) {
		f := newCLIFake(t, map[string]cliRoute{
			"PUT /v1/stores/prod/secrets/DB_PASSWORD": put,
			"PUT /v1/stores/prod/secrets/EMPTY":       cliReply(403, `{"error":{"code":"forbidden","message":"the key's scopes do not allow write"}}`),
		})
		file := write("two.env", "DB_PASSWORD=x\nEMPTY=\n")
		r := cliExec(t, f.URL, cliTestToken, "", "import", "prod", file)
		want := "coffer import: EMPTY (line 2): the key's scopes do not allow write (forbidden); 1 of 2 secrets were written\n"
		if r.Code != 1 || r.Stderr != want {
			t.Errorf("got %d %q, want 1 %q", r.Code, r.Stderr, want)
		}
	})
}

func TestCLI_Export(t *testing.T) {
	routes := map[string]cliRoute{"POST /v1/stores/prod/values": func(r *http.Request, body []byte) (int, string) {
		switch string(body) {
		case `{"prefix":"p/"}`:
			return 200, `{"values":[{"name":"p/a","version":1,"value":"plain"},{"name":"p/b","version":3,"value":"it's \"quoted\"\nand multiline"}],"next_cursor":"n1"}`
		case `{"prefix":"p/","cursor":"n1"}`:
			return 200, `{"values":[{"name":"p/c","version":1,"value":""}]}`
		case `{}`:
			return 200, `{"values":[{"name":"bin","version":1,"value":"/wA=","encoding":"base64"}]}`
		}
		t.Errorf("unexpected body %s", body)
		return 400, `{"error":{"code":"invalid","message":"bad body"}}`
	}}
	f := newCLIFake(t, routes)

	r := cliExec(t, f.URL, cliTestToken, "", "export", "prod", "--prefix", "p/")
	want := ": p/a=plain\n: p/b='it'\\''s \"quoted\"\nand multiline'\n: p/c=\n"
	if r.Code != 0 || r.Stdout != want {
		t.Fatalf("dotenv: got %d %q (stderr %q), want %q", r.Code, r.Stdout, r.Stderr, want)
	}
	back, err := dotenv.Parse([]byte(r.Stdout), cliImportKey)
	if err != nil || len(back) != 3 || back[1].Value != "it's \"quoted\"\nand multiline" {
		t.Errorf("dotenv does not read back: %#v, %v", back, err)
	}

	r = cliExec(t, f.URL, cliTestToken, "", "export", "--format", "json", "prod", "--prefix", "p/")
	want = "{\n  \"p/a\": \"plain\",\n  \"p/b\": \"it's \\\"quoted\\\"\\nand multiline\",\n  \"p/c\": \"\"\n}\n"
	if r.Code != 0 || r.Stdout != want {
		t.Fatalf("json: got %d %q (stderr %q), want %q", r.Code, r.Stdout, r.Stderr, want)
	}

	r = cliExec(t, f.URL, cliTestToken, "", "export", "--format", "json", "prod")
	if r.Code != 1 || r.Stdout != "" || !strings.Contains(r.Stderr, "bin holds binary data") {
		t.Errorf("binary as json: got %d %q %q, want an error and no output", r.Code, r.Stdout, r.Stderr)
	}
	r = cliExec(t, f.URL, cliTestToken, "", "export", "prod")
	if r.Code != 0 || r.Stdout != "bin='\xff\x00'\n" {
		t.Errorf("binary as dotenv: got %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
}

// cliValuesRoute answers RevealMany with the given name/value pairs.
func cliValuesRoute(t *testing.T, wantBody string, nameValues ...string) cliRoute {
	return func(r *http.Request, body []byte) (int, string) {
		if string(body) != wantBody {
			t.Errorf("RevealMany body: got %s, want %s", body, wantBody)
		}
		var vals []string
		for i := 0; i < len(nameValues); i += 2 {
			n, _ := json.Marshal(nameValues[i])
			v, _ := json.Marshal(nameValues[i+1])
			vals = append(vals, `{"name":`+string(n)+`,"version":1,"value":`+string(v)+`}`)
		}
		return 200, `{"values":[` + strings.Join(vals, ",") + `]}`
	}
}

func TestCLI_Run(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh")
	}
	t.Run("ValuesAndExitStatus", func(t *testing.T) {
		f := newCLIFake(t, map[string]cliRoute{"POST /v1/stores/prod/values": cliValuesRoute(t, `{}`,
			"DB_PASSWORD", "s3cret", "db/user", "ad min", "HOME", "/override")})
		r := cliExec(t, f.URL, cliTestToken, "", "run", "--store", "prod", "--allow", "HOME", "--", "sh", "-c",
			`test "$DB_PASSWORD" = s3cret && test "$db_user" = "ad min" && test "$HOME" = /override && echo child-ran && exit 7`)
		if r.Code != 7 || r.Stdout != "child-ran\n" {
			t.Errorf("got %d %q %q, want 7 and the child's output", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("Prefix", func(t *testing.T) {
		f := newCLIFake(t, map[string]cliRoute{"POST /v1/stores/prod/values": cliValuesRoute(t, `{"prefix":"app/"}`,
			"app/db-password", "pw")})
		r := cliExec(t, f.URL, cliTestToken, "in", "run", "--prefix", "app/", "--store", "prod", "sh", "-c", `read x; test "$db_password$x" = pwin`)
		if r.Code != 0 {
			t.Errorf("got %d %q %q, want 0", r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("ErrCollisionStartsNothing", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "started")
		f := newCLIFake(t, map[string]cliRoute{"POST /v1/stores/prod/values": cliValuesRoute(t, `{}`, "a.b", "1", "a-b", "2")})
		r := cliExec(t, f.URL, cliTestToken, "", "run", "--store", "prod", "--", "touch", marker)
		if want := "coffer run: secrets \"a.b\" and \"a-b\" both map to the variable a_b\n"; r.Code != 1 || r.Stderr != want {
			t.Errorf("got %d %q, want 1 %q", r.Code, r.Stderr, want)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Error("the command was started")
		}
	})
	t.Run("ErrBadName", func(t *testing.T) {
		f := newCLIFake(t, map[string]cliRoute{"POST /v1/stores/prod/values": cliValuesRoute(t, `{}`, "9lives", "x")})
		r := cliExec(t, f.URL, cliTestToken, "", "run", "--store", "prod", "--", "true")
		if r.Code != 1 || !strings.Contains(r.Stderr, `secret "9lives" does not make a valid environment variable name`) || strings.Contains(r.Stderr, "x\n") {
			t.Errorf("got %d %q", r.Code, r.Stderr)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		f := newCLIFake(t, map[string]cliRoute{"POST /v1/stores/prod/values": cliValuesRoute(t, `{}`)})
		r := cliExec(t, f.URL, cliTestToken, "", "run", "--store", "prod", "--", "/nonexistent/cmd")
		if r.Code != 127 || !strings.Contains(r.Stderr, "coffer run: ") {
			t.Errorf("got %d %q, want 127", r.Code, r.Stderr)
		}
	})
	t.Run("KilledBySignal", func(t *testing.T) {
		f := newCLIFake(t, map[string]cliRoute{"POST /v1/stores/prod/values": cliValuesRoute(t, `{}`)})
		r := cliExec(t, f.URL, cliTestToken, "", "run", "--store", "prod", "--", "sh", "-c", "kill -KILL $$")
		if r.Code != 128+9 {
			t.Errorf("got %d %q, want 137", r.Code, r.Stderr)
		}
	})
	t.Run("ForwardsSIGTERM", func(t *testing.T) {
		f := newCLIFake(t, map[string]cliRoute{"POST /v1/stores/prod/values": cliValuesRoute(t, `{}`)})
		ready := make(chan struct{})
		stdout := &cliSignalWriter{ready: ready}
		env := &Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: io.Discard, Getenv: func(k string) string {
			return map[string]string{"COFFER_ADDR": f.URL, "COFFER_TOKEN": cliTestToken}[k]
		}}
		done := make(chan int, 1)
		go func() {
			done <- Main(context.Background(), env, []string{"run", "--store", "prod", "--", "sh", "-c",
				`trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done`})
		}()
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			t.Fatal("the child did not start")
		}
		// coffer is subscribed to SIGTERM from before the child started.
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case code := <-done:
			if code != 42 {
				t.Errorf("got exit status %d, want 42 from the child's trap", code)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the child did not exit after SIGTERM")
		}
	})
}

// cliSignalWriter closes ready at its first write.
type cliSignalWriter struct {
	once  sync.Once
	ready chan struct{}
}

func (w *cliSignalWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.ready) })
	return len(p), nil
}
