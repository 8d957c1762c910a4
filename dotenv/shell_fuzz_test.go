package dotenv_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/dotenv"
	"github.com/coffer-dev/coffer/dotenv/dotenvtest"
)

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

// FuzzDotenvShell writes random values with Write, sources the file
// in real shells (sh, dash, bash: set -a; . ./file) and compares the
// exported environment with the values byte for byte; no planted command
// may run, and a name that is no shell variable name (db/x-1.y) sets nothing
// and runs nothing. The file must also read back with Parse. Values
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
		entries := []dotenv.Entry{{Key: "K1", Value: a}, {Key: "db/x-1.y", Value: a + b}, {Key: "k_2", Value: b}}
		dir := t.TempDir()
		var buf bytes.Buffer
		if err := dotenv.Write(&buf, entries); err != nil {
			t.Fatal(err)
		}
		back, err := dotenv.Parse(buf.Bytes(), secretKey)
		if err != nil {
			t.Fatalf("parse %q: %v", buf.String(), err)
		}
		if !slices.EqualFunc(back, entries, func(x, y dotenv.Entry) bool { return x.Key == y.Key && x.Value == y.Value }) {
			t.Fatalf("read back %+v, want %+v", back, entries)
		}
		if err := os.WriteFile(filepath.Join(dir, "exported.env"), buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		dotenvtest.CheckSourced(t, dir, map[string]string{"K1": a, "k_2": b})
	})
}
