package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/dotenv"
)

// cliE2E runs client commands in-process against the real server started
// by startServer, checking that no output ever shows the token.
type cliE2E struct {
	t           *testing.T
	addr, token string
}

func newCLIE2E(t *testing.T) *cliE2E {
	t.Helper()
	addr, token := startServer(t)
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return &cliE2E{t: t, addr: addr, token: token}
}

// Run runs coffer with args, as the root key unless token is set.
func (e *cliE2E) Run(stdin string, args ...string) cliResult {
	return e.RunAs(e.token, stdin, args...)
}

func (e *cliE2E) RunAs(token, stdin string, args ...string) cliResult {
	e.t.Helper()
	r := cliExec(e.t, e.addr, token, stdin, args...)
	for _, tok := range []string{token, e.token} {
		if strings.Contains(r.Stderr, tok) || (args[0] != "key" && strings.Contains(r.Stdout, tok)) {
			e.t.Errorf("coffer %s: output reveals a token", strings.Join(args, " "))
		}
	}
	return r
}

// OK runs coffer and fails the test unless it exits with status 0.
func (e *cliE2E) OK(stdin string, args ...string) string {
	e.t.Helper()
	r := e.Run(stdin, args...)
	if r.Code != 0 {
		e.t.Fatalf("coffer %s: exit status %d, stderr %q", strings.Join(args, " "), r.Code, r.Stderr)
	}
	return r.Stdout
}

// Fail runs coffer and checks that it fails with status 1 and the error
// code in its message.
func (e *cliE2E) Fail(code, stdin string, args ...string) cliResult {
	e.t.Helper()
	return e.FailAs(e.token, code, stdin, args...)
}

func (e *cliE2E) FailAs(token, code, stdin string, args ...string) cliResult {
	e.t.Helper()
	r := e.RunAs(token, stdin, args...)
	if r.Code != 1 || !strings.Contains(r.Stderr, "("+code+")") {
		e.t.Errorf("coffer %s: got %d %q, want status 1 and (%s)", strings.Join(args, " "), r.Code, r.Stderr, code)
	}
	if r.Stdout != "" {
		e.t.Errorf("coffer %s: stdout %q, want nothing", strings.Join(args, " "), r.Stdout)
	}
	return r
}

// cliRows splits table output into rows of fields, without the header.
func cliRows(out string) [][]string {
	var rows [][]string
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if i > 0 && line != "" {
			rows = append(rows, strings.Fields(line))
		}
	}
	return rows
}

// cliRow returns the row whose first field is first, or nil.
func cliRow(out, first string) []string {
	for _, r := range cliRows(out) {
		if r[0] == first {
			return r
		}
	}
	return nil
}

func TestCLIE2E_StoresAndSecrets(t *testing.T) {
	e := newCLIE2E(t)

	out := e.OK("", "store", "create", "prod", "--comment", "production")
	if !regexp.MustCompile(`^prod id [0-9a-f]{32}\n$`).MatchString(out) {
		t.Errorf("store create: got %q", out)
	}
	e.OK("", "store", "create", "staging")
	e.Fail("conflict", "", "store", "create", "prod")
	out = e.OK("", "store", "list")
	if r := cliRow(out, "prod"); r == nil || r[len(r)-1] != "production" || cliRow(out, "staging") == nil {
		t.Errorf("store list: got %q", out)
	}

	// put from stdin strips one newline; get prints value + "\n".
	if out := e.OK("s3cret\n", "secret", "put", "prod", "db/password"); out != "db/password version 1\n" {
		t.Errorf("put: got %q", out)
	}
	if out := e.OK("", "secret", "get", "prod", "db/password"); out != "s3cret\n" {
		t.Errorf("get: got %q, want %q", out, "s3cret\n")
	}
	// --file keeps exact bytes, binary included; --raw prints them back.
	bin := []byte("\x00\xff\xfebinary\n")
	file := filepath.Join(t.TempDir(), "key.bin")
	if err := os.WriteFile(file, bin, 0o600); err != nil {
		t.Fatal(err)
	}
	if out := e.OK("", "secret", "put", "prod", "tls/key", "--file", file); out != "tls/key version 1\n" {
		t.Errorf("put --file: got %q", out)
	}
	if out := e.OK("", "secret", "get", "--raw", "prod", "tls/key"); out != string(bin) {
		t.Errorf("get --raw: got %q, want %q", out, bin)
	}
	// --raw on put keeps the newline.
	e.OK("line\n", "secret", "put", "prod", "raw", "--raw")
	if out := e.OK("", "secret", "get", "prod", "raw", "--raw"); out != "line\n" {
		t.Errorf("put --raw: got %q, want %q", out, "line\n")
	}

	// Versions and compare-and-set.
	if out := e.OK("n3w\n", "secret", "put", "prod", "db/password"); out != "db/password version 2\n" {
		t.Errorf("put v2: got %q", out)
	}
	if out := e.OK("", "secret", "get", "prod", "db/password"); out != "n3w\n" {
		t.Errorf("get v2: got %q", out)
	}
	if out := e.OK("", "secret", "get", "prod", "db/password", "--version", "1"); out != "s3cret\n" {
		t.Errorf("get --version 1: got %q", out)
	}
	r := e.Fail("precondition_failed", "lost\n", "secret", "put", "--if-version", "1", "prod", "db/password")
	if strings.Contains(r.Stderr, "lost") {
		t.Errorf("error shows the value: %q", r.Stderr)
	}
	e.Fail("precondition_failed", "x", "secret", "put", "--if-version", "0", "prod", "db/password")
	if out := e.OK("v3\n", "secret", "put", "--if-version", "2", "prod", "db/password"); out != "db/password version 3\n" {
		t.Errorf("put --if-version 2: got %q", out)
	}
	if out := e.OK("new\n", "secret", "put", "--if-version", "0", "prod", "fresh"); out != "fresh version 1\n" {
		t.Errorf("put --if-version 0: got %q", out)
	}

	// History, rollback, destroy.
	out = e.OK("", "secret", "history", "prod", "db/password")
	rows := cliRows(out)
	if len(rows) != 3 || rows[0][0] != "3" || rows[2][0] != "1" || rows[0][3] != "-" {
		t.Errorf("history: got %q", out)
	}
	if out := e.OK("", "secret", "rollback", "prod", "db/password", "1"); out != "db/password version 4\n" {
		t.Errorf("rollback: got %q", out)
	}
	if out := e.OK("", "secret", "get", "prod", "db/password"); out != "s3cret\n" {
		t.Errorf("get after rollback: got %q", out)
	}
	if out := e.OK("", "secret", "destroy", "prod", "db/password", "2"); out != "db/password version 2 destroyed\n" {
		t.Errorf("destroy: got %q", out)
	}
	e.Fail("not_found", "", "secret", "get", "prod", "db/password", "--version", "2")
	if r := cliRow(e.OK("", "secret", "history", "prod", "db/password"), "2"); r == nil || r[3] == "-" {
		t.Errorf("history after destroy: version 2 row %q, want a destroyed time", r)
	}

	// List, delete, undelete, purge.
	out = e.OK("", "secret", "list", "prod")
	if r := cliRow(out, "db/password"); r == nil || r[1] != "4" || r[2] != "active" {
		t.Errorf("list: got %q", out)
	}
	if r := cliRows(e.OK("", "secret", "list", "prod", "--prefix", "tls/")); len(r) != 1 || r[0][0] != "tls/key" {
		t.Errorf("list --prefix: got %q", r)
	}
	out = e.OK("", "secret", "delete", "prod", "db/password")
	m := regexp.MustCompile(`^db/password deleted, id ([0-9a-f]{32})\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("delete: got %q", out)
	}
	id := m[1]
	e.Fail("not_found", "", "secret", "get", "prod", "db/password")
	if cliRow(e.OK("", "secret", "list", "prod"), "db/password") != nil {
		t.Error("list shows the deleted secret")
	}
	if r := cliRow(e.OK("", "secret", "list", "prod", "--deleted"), "db/password"); r == nil || r[2] != "deleted" || r[4] != id {
		t.Errorf("list --deleted: got %q", r)
	}
	if out := e.OK("", "secret", "undelete", "prod", "db/password"); out != "db/password version 4\n" {
		t.Errorf("undelete: got %q", out)
	}
	if out := e.OK("", "secret", "get", "prod", "db/password"); out != "s3cret\n" {
		t.Errorf("get after undelete: got %q", out)
	}
	e.OK("", "secret", "delete", "prod", "db/password")
	if out := e.OK("", "secret", "purge", "prod", id); out != id+" purged\n" {
		t.Errorf("purge: got %q", out)
	}
	e.Fail("not_found", "", "secret", "undelete", "prod", id)

	// A store with secrets is deleted only with --force.
	e.Fail("conflict", "", "store", "delete", "prod")
	e.OK("", "store", "delete", "prod", "--force")
	e.Fail("not_found", "", "secret", "get", "prod", "tls/key")
	if cliRow(e.OK("", "store", "list"), "prod") != nil {
		t.Error("store list shows the deleted store")
	}
}

func TestCLIE2E_ImportExport(t *testing.T) {
	e := newCLIE2E(t)
	for _, s := range []string{"src", "viajson", "viadotenv"} {
		e.OK("", "store", "create", s)
	}
	dir := t.TempDir()
	envFile := filepath.Join(dir, "app.env")
	content := "# app settings\n" +
		"export DB_PASSWORD=\"p@ss \\\"word\\\"\\n\"\n" +
		"API_KEY='it is $literal'\n" +
		"EMPTY=\n" +
		"db/url=postgres://u@h/db?sslmode=require # inline comment\n" +
		"PEM=\"-----BEGIN-----\nabc\n-----END-----\"\n"
	if err := os.WriteFile(envFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"DB_PASSWORD": "p@ss \"word\"\n",
		"API_KEY":     "it is $literal",
		"EMPTY":       "",
		"db/url":      "postgres://u@h/db?sslmode=require",
		"PEM":         "-----BEGIN-----\nabc\n-----END-----",
	}
	out := e.OK("", "import", "src", envFile)
	if n := strings.Count(out, " version 1\n"); n != len(want) {
		t.Errorf("import: got %q, want %d secrets", out, len(want))
	}
	for k, v := range want {
		if got := e.OK("", "secret", "get", "src", k, "--raw"); got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	// A bad file writes nothing.
	bad := filepath.Join(dir, "bad.env")
	os.WriteFile(bad, []byte("NEW_ONE=1\nnot a line\n"), 0o600)
	if r := e.Run("", "import", "src", bad); r.Code != 1 || !strings.Contains(r.Stderr, "line 2") {
		t.Errorf("bad import: got %d %q", r.Code, r.Stderr)
	}
	e.Fail("not_found", "", "secret", "get", "src", "NEW_ONE")

	// export | import round trips, through dotenv and through JSON.
	exported := e.OK("", "export", "src")
	got, err := dotenv.Parse([]byte(exported), cliImportKey)
	if err != nil {
		t.Fatalf("export does not parse: %v\n%s", err, exported)
	}
	gotMap := map[string]string{}
	for _, en := range got {
		gotMap[en.Key] = en.Value
	}
	if len(gotMap) != len(want) {
		t.Errorf("export: got %q, want %q", gotMap, want)
	}
	for k, v := range want {
		if gotMap[k] != v {
			t.Errorf("export %s: got %q, want %q", k, gotMap[k], v)
		}
	}
	e.OK(exported, "import", "viadotenv", "-")
	jsonOut := e.OK("", "export", "src", "--format", "json")
	jsonFile := filepath.Join(dir, "src.json")
	os.WriteFile(jsonFile, []byte(jsonOut), 0o600)
	e.OK("", "import", "viajson", jsonFile)
	for _, s := range []string{"viadotenv", "viajson"} {
		if got := e.OK("", "export", s); got != exported {
			t.Errorf("export of %s: got %q, want %q", s, got, exported)
		}
	}
	// --prefix
	if got := e.OK("", "export", "src", "--prefix", "db/"); got != ": db/url='postgres://u@h/db?sslmode=require'\n" {
		t.Errorf("export --prefix: got %q", got)
	}
}

func TestCLIE2E_KeysAndAudit(t *testing.T) {
	e := newCLIE2E(t)
	e.OK("", "store", "create", "prod")
	e.OK("t0k\n", "secret", "put", "prod", "app/token")
	e.OK("db\n", "secret", "put", "prod", "db/password")

	r := e.Run("", "key", "create", "reader", "--scope", "prod:app/*:list,read,reveal", "--expires", "1h")
	if r.Code != 0 {
		t.Fatalf("key create: %d %q", r.Code, r.Stderr)
	}
	token := strings.TrimSuffix(r.Stdout, "\n")
	if token == "" || strings.ContainsAny(token, " \n") {
		t.Fatalf("key create: stdout %q, want the token alone", r.Stdout)
	}
	m := regexp.MustCompile(`id (\S+);`).FindStringSubmatch(r.Stderr)
	if m == nil {
		t.Fatalf("key create: stderr %q, want the id", r.Stderr)
	}
	keyID := m[1]

	// The scoped key reads what its scope allows, and nothing else.
	if out := e.RunAs(token, "", "secret", "get", "prod", "app/token"); out.Code != 0 || out.Stdout != "t0k\n" {
		t.Errorf("scoped get: got %d %q %q", out.Code, out.Stdout, out.Stderr)
	}
	e.FailAs(token, "forbidden", "", "secret", "get", "prod", "db/password")
	e.FailAs(token, "forbidden", "x", "secret", "put", "prod", "app/new")
	// It lists only its own principal's keys no wider than itself: itself.
	if out := e.RunAs(token, "", "key", "list"); out.Code != 0 || cliRow(out.Stdout, keyID) == nil || strings.Contains(out.Stdout, "admin") {
		t.Errorf("scoped key list: got %d %q %q, want itself and no admin key", out.Code, out.Stdout, out.Stderr)
	}
	e.FailAs(token, "forbidden", "", "audit", "verify")
	if out := e.RunAs(token, "", "export", "prod"); out.Code != 0 || out.Stdout != ": app/token=t0k\n" {
		t.Errorf("scoped export: got %d %q %q", out.Code, out.Stdout, out.Stderr)
	}

	out := e.OK("", "key", "list")
	if row := cliRow(out, keyID); row == nil || row[1] != "reader" || row[2] != "prod:app/*:list,read,reveal" || row[3] != "active" {
		t.Errorf("key list: got %q", out)
	}
	if out := e.OK("", "key", "revoke", keyID); out != "key "+keyID+" revoked\n" {
		t.Errorf("key revoke: got %q", out)
	}
	if row := cliRow(e.OK("", "key", "list"), keyID); row == nil || row[3] != "revoked" {
		t.Errorf("key list after revoke: got %q", row)
	}
	e.FailAs(token, "unauthorized", "", "secret", "get", "prod", "app/token")
	e.FailAs("cfr_not-a-real-token", "unauthorized", "", "store", "list")

	// Audit: one line per event in sequence order; values never appear.
	out = e.OK("", "audit", "list")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 10 {
		t.Fatalf("audit list: got %d lines, want at least 10:\n%s", len(lines), out)
	}
	prev := int64(0)
	for _, l := range lines {
		seq, err := strconv.ParseInt(strings.Fields(l)[0], 10, 64)
		if err != nil || seq <= prev {
			t.Errorf("audit line %q: sequence does not increase after %d", l, prev)
		}
		prev = seq
		if strings.Contains(l, "t0k") || strings.Contains(l, token) {
			t.Errorf("audit line reveals a value or token: %q", l)
		}
	}
	if !strings.Contains(out, " forbidden") {
		t.Errorf("audit list: no refused event in\n%s", out)
	}
	first, _ := strconv.ParseInt(strings.Fields(lines[0])[0], 10, 64)
	if got := e.OK("", "audit", "list", "--limit", "3"); got != strings.Join(lines[:3], "\n")+"\n" {
		t.Errorf("audit list --limit 3: got %q", got)
	}
	if got := e.OK("", "audit", "list", "--after", strconv.FormatInt(first, 10), "--limit", "2"); got != strings.Join(lines[1:3], "\n")+"\n" {
		t.Errorf("audit list --after: got %q", got)
	}
	// The filters are the server's: every line printed matches, none is lost.
	if got := e.OK("", "audit", "list", "--newest", "--before", strconv.FormatInt(prev+1, 10), "--limit", "2"); got != lines[len(lines)-1]+"\n"+lines[len(lines)-2]+"\n" {
		t.Errorf("audit list --newest --limit 2: got %q, want the last two lines of %q, newest first", got, out)
	}
	for _, c := range []struct {
		flags []string
		field int    // the field of each line that must equal want
		want  string // "" for any
	}{
		{[]string{"--action", "secret.reveal"}, 2, "secret.reveal"},
		{[]string{"--outcome", "forbidden"}, 3, "forbidden"},
		{[]string{"--action", "secret.", "--newest"}, -1, ""},
	} {
		args := append([]string{"audit", "list", "--before", strconv.FormatInt(prev+1, 10)}, c.flags...)
		got := strings.Split(strings.TrimSuffix(e.OK("", args...), "\n"), "\n")
		var want []string
		for _, l := range lines {
			f := strings.Fields(l)
			if (c.want != "" && f[c.field] == c.want) || (c.want == "" && strings.HasPrefix(f[2], "secret.")) {
				want = append(want, l)
			}
		}
		if slices.Contains(c.flags, "--newest") {
			slices.Reverse(want)
		}
		if len(want) == 0 || len(want) == len(lines) || !slices.Equal(got, want) {
			t.Errorf("coffer %s: got %q, want %q (some of the %d events)", strings.Join(args, " "), got, want, len(lines))
		}
	}
	if got := e.OK("", "audit", "list", "--until", "1h"); got != "" {
		t.Errorf("audit list --until 1h: got %q, want nothing (every event is newer)", got)
	}
	if r := e.Run("", "audit", "list", "--since", "yesterday"); r.Code != 2 || r.Stdout != "" {
		t.Errorf("audit list --since yesterday: got %d %q, want usage error 2", r.Code, r.Stdout)
	}
	if got := e.OK("", "audit", "verify"); !strings.HasPrefix(got, "audit log OK: ") {
		t.Errorf("audit verify: got %q", got)
	}
}

func TestCLIE2E_Run(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh")
	}
	e := newCLIE2E(t)
	e.OK("", "store", "create", "app")
	e.OK("s3cret\n", "secret", "put", "app", "DB_PASSWORD")
	e.OK("admin\n", "secret", "put", "app", "svc/db-user")

	r := e.Run("", "run", "--store", "app", "--", "sh", "-c", `test "$DB_PASSWORD" = s3cret && test "$svc_db_user" = admin && exit 7`)
	if r.Code != 7 {
		t.Errorf("run: got exit status %d (stderr %q), want 7", r.Code, r.Stderr)
	}
	if strings.Contains(r.Stdout+r.Stderr, "s3cret") {
		t.Error("run printed a value")
	}
	r = e.Run("", "run", "--store", "app", "--prefix", "svc/", "--", "sh", "-c", `test "$db_user" = admin && test -z "$DB_PASSWORD"`)
	if r.Code != 0 {
		t.Errorf("run --prefix: got exit status %d (stderr %q), want 0", r.Code, r.Stderr)
	}
	e.Fail("not_found", "", "run", "--store", "nope", "--", "true")

	// Two secrets that map to one variable: nothing starts.
	e.OK("x\n", "secret", "put", "app", "svc.db-user")
	marker := filepath.Join(t.TempDir(), "started")
	r = e.Run("", "run", "--store", "app", "--", "touch", marker)
	if r.Code != 1 || !strings.Contains(r.Stderr, "both map to the variable svc_db_user") {
		t.Errorf("collision: got %d %q", r.Code, r.Stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command was started")
	}
}
