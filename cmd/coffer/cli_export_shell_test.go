package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dotenvShells are the shells an exported file is sourced in: sh (dash on
// Debian), dash and bash, each found on PATH; missing ones are skipped.
func dotenvShells(t testing.TB) []string {
	var shells []string
	for _, sh := range []string{"sh", "dash", "bash"} {
		if p, err := exec.LookPath(sh); err == nil {
			shells = append(shells, p)
		}
	}
	if len(shells) == 0 {
		t.Skip("no shell on PATH")
	}
	return shells
}

// sourceEnv runs script in shell in dir with a small fixed environment and
// returns the environment it exports (env -0), without "_", and what the
// shell wrote to stderr.
func sourceEnv(t testing.TB, shell, dir, script string) (map[string]string, string) {
	t.Helper()
	cmd := exec.Command(shell, "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s -c %q: %v\n%s", shell, script, err, stderr.String())
	}
	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(stdout.String(), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	delete(env, "_")
	return env, stderr.String()
}

// checkSourced sources the dotenv file in dir (named exported.env) in every
// shell and checks that it exports exactly want on top of the shell's own
// environment, writes nothing on stderr, and creates no file (a planted
// command such as $(touch planted) would).
func checkSourced(t testing.TB, dir string, want map[string]string) {
	t.Helper()
	for _, sh := range dotenvShells(t) {
		base, _ := sourceEnv(t, sh, dir, "set -a; env -0")
		got, stderr := sourceEnv(t, sh, dir, "set -a; . ./exported.env; env -0")
		if stderr != "" {
			t.Errorf("%s: sourcing wrote to stderr: %q", sh, stderr)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", sh, k, got[k], v)
			}
			base[k] = v
		}
		for k, v := range got {
			if bv, ok := base[k]; !ok || bv != v {
				t.Errorf("%s: sourcing set %s = %q, which the file does not hold", sh, k, v)
			}
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 1 || ents[0].Name() != "exported.env" {
			names := []string{}
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Fatalf("%s: sourcing the file created files (a planted command ran): %q", sh, names)
		}
	}
}

// dotenvShellSeeds are values a shell would expand, split or run if the
// quoting were wrong.
var dotenvShellSeeds = [][2]string{
	{"it's $(touch planted)", "a\n$(touch planted)"},
	{"`touch planted`", "'; touch planted; '"},
	{"\"; touch planted; \"", "$HOME ${X:-y} ${Z:=z} $((1+1)) $$ $0 $1 $@ $*"},
	{"*", "~"},
	{"back\\slash\\", "ends with quote'"},
	{"'", "''"},
	{"\\'", "'\\''"},
	{"line1\r\nline2\r", "\ttab ' \" \\ ` $"},
	{"$'\\n'", "{a,b} !! #not a comment"},
	{"grüße ☃", "\xff\xfe binary"},
	{"' > planted '", "a'\nb'\n'c"},
	{"", " leading and trailing "},
	{"-n", "a=b"},
}

// FuzzDotenvShell writes random values with writeDotenv, sources the file
// in real shells (sh, dash, bash: set -a; . ./file) and compares the
// exported environment with the values byte for byte; no planted command
// may run, and a name that is no shell variable name (db/x-1.y) sets nothing
// and runs nothing. The file must also read back with parseDotenv. Values
// holding a NUL byte, which no shell variable can hold, are left out.
func FuzzDotenvShell(f *testing.F) {
	for _, s := range dotenvShellSeeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.IndexByte(a, 0) >= 0 || strings.IndexByte(b, 0) >= 0 {
			return
		}
		// db/x-1.y is no shell name: its line must be inert too.
		entries := []dotenvEntry{{Key: "K1", Value: a}, {Key: "db/x-1.y", Value: a + b}, {Key: "k_2", Value: b}}
		dir := t.TempDir()
		var buf bytes.Buffer
		if err := writeDotenv(&buf, entries); err != nil {
			t.Fatal(err)
		}
		back, err := parseDotenv(buf.Bytes())
		if err != nil {
			t.Fatalf("parse %q: %v", buf.String(), err)
		}
		if !slices.EqualFunc(back, entries, func(x, y dotenvEntry) bool { return x.Key == y.Key && x.Value == y.Value }) {
			t.Fatalf("read back %+v, want %+v", back, entries)
		}
		if err := os.WriteFile(filepath.Join(dir, "exported.env"), buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		checkSourced(t, dir, map[string]string{"K1": a, "k_2": b})
	})
}

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
	checkSourced(t, dir, values)

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
