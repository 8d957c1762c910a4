package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/dotenv/dotenvtest"
)

// TestExportSourcesInert exports, through a real server, secrets whose
// values plant commands, sources the file in real shells and checks that
// each variable holds its value and nothing ran; a name that is not a shell
// variable name and a value with a NUL byte are named on stderr, and the
// file still imports back byte for byte.
func TestExportSourcesInert(t *testing.T) {
	e := newCLIE2E(t)
	e.OK("", "store", "create", "src")
	values := map[string]string{
		"QUOTE_AND_SUBST": "it's $(touch planted)",
		"NEWLINE_SUBST":   "line\n$(touch planted)\nend",
		"BACKQUOTES":      "`touch planted` \"$HOME\" \\",
		"PLAIN":           "plain-value",
	}
	for k, v := range values {
		e.OK(v, "secret", "put", "src", k)
	}
	r := e.Run("", "export", "src")
	if r.Code != 0 || r.Stderr != "" {
		t.Fatalf("export: %d %q", r.Code, r.Stderr)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "exported.env"), []byte(r.Stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	dotenvtest.CheckSourced(t, dir, values)

	// What a shell cannot load is named; the file still imports back byte
	// for byte.
	e.OK("x", "secret", "put", "src", "db/password")
	a := &rawAPI{t: t, base: e.addr, token: e.token}
	a.must(201, "PUT", "/v1/stores/src/secrets/BIN", map[string]any{"value": "/wAk", "encoding": "base64"}) // ff 00 '$'
	r = e.Run("", "export", "src")
	if r.Code != 0 || !strings.Contains(r.Stderr, "db/password is not a shell variable name") || !strings.Contains(r.Stderr, "the value of BIN holds a NUL byte") {
		t.Errorf("export: %d, stderr %q, want db/password and BIN named", r.Code, r.Stderr)
	}
	e.OK("", "store", "create", "back")
	e.OK(r.Stdout, "import", "back", "-")
	if got := e.OK("", "export", "back"); got != r.Stdout {
		t.Errorf("export of the imported copy:\n%q\nwant\n%q", got, r.Stdout)
	}
}
