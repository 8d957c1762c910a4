package coffer_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// layers says which project packages each package may import: the layers
// of STYLE.md. A key ending in "/*" covers every package below that
// directory; a package with no rule fails the test, and so does a rule for
// a package that does not exist.
var layers = map[string][]string{
	"":         {}, // the domain: standard library only
	"envelope": {},
	"service":  {"", "envelope", "internal/jwt"},
	// The engines and their conformance suite.
	"sqlite":    {""},
	"postgres":  {""},
	"storetest": {""},
	// HTTP: plumbing, the native API and console, one package per face.
	// A face imports no engine and no other face.
	"internal/web":       {""},
	"api":                {"", "internal/web"},
	"compat/bytenite":    {"", "internal/web"},
	"compat/cloudflare":  {"", "internal/web"},
	"compat/truefoundry": {"", "internal/web"},
	"compat/chutes":      {"", "internal/web", "internal/sr25519"},
	"compat/vault":       {"", "internal/web"},
	"ui":                 {},
	"client":             {""},
	// The file formats of import and export, and the environment of 'coffer
	// run'.
	"dotenv":            {},
	"dotenv/dotenvtest": {},
	"runenv":            {"", "dotenv"},
	// Operations: the one opener of a data directory or database URL, the
	// backup file format, migrate over both, doctor's checks.
	"engine":  {"", "sqlite", "postgres"},
	"backup":  {"", "envelope"},
	"migrate": {"", "engine", "backup"},
	"doctor":  {"", "engine", "envelope", "service"},
	// The composition of everything, and the binary that parses flags and
	// calls it.
	"server": {"", "api", "compat/*", "engine", "envelope", "internal/web", "service", "ui"},
	"cmd/*":  {"*"},
	// Leaves: the load generator, the sr25519 verifier.
	"internal/loadgen": {},
	"internal/sr25519": {},
	// The JWT verifier of workload identity: standard library crypto only.
	"internal/jwt":   {},
	"internal/bench": {"internal/loadgen", "internal/sr25519"},
	// Test support, imported by tests only: a real service over SQLite, the
	// real server in-process, a throwaway PostgreSQL cluster.
	"internal/svctest":    {"", "envelope", "service", "sqlite"},
	"internal/servertest": {"server", "internal/sr25519"},
	"internal/pgtest":     {},
	"internal/jwttest":    {},
}

// modules says which packages may import each third-party module (by
// import path prefix): a driver only in its engine, the metrics client only
// where metrics are served. A module with no rule fails the test.
var modules = map[string][]string{
	"modernc.org/sqlite":                  {"sqlite"},
	"github.com/jackc/pgx/v5":             {"postgres", "internal/pgtest"},
	"github.com/prometheus/client_golang": {"internal/web", "api", "server"},
	"filippo.io/edwards25519":             {"internal/sr25519"},
	"github.com/ChainSafe/go-schnorrkel":  {"internal/sr25519"}, // signing, for the benchmark's and tests' Chutes clients
	"github.com/mimoo/StrobeGo":           {"internal/sr25519"},
	"golang.org/x/crypto/blake2b":         {"internal/sr25519"},
}

// TestDeps keeps imports pointing inward: each package imports only the
// project packages its layer allows, the root package only the standard
// library, and each third-party module is imported only where its rule
// says.
func TestDeps(t *testing.T) {
	const mod = "github.com/coffer-dev/coffer"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	used := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(f[0], mod), "/")
		key, ok := ruleOf(pkg)
		if !ok {
			t.Errorf("package %q has no rule in layers", pkg)
			continue
		}
		used[key] = true
		for _, imp := range f[1:] {
			switch {
			case strings.HasPrefix(imp, mod):
				dep := strings.TrimPrefix(strings.TrimPrefix(imp, mod), "/")
				if !allows(layers[key], dep) {
					t.Errorf("%s imports %s: not allowed (may import %q)", f[0], imp, layers[key])
				}
			case strings.Contains(strings.Split(imp, "/")[0], "."): // a module, not the standard library
				who, ok := moduleOf(imp)
				if !ok {
					t.Errorf("%s imports %s: no rule in modules says who may import it", f[0], imp)
				} else if !slices.Contains(who, pkg) && !slices.Contains(who, key) {
					t.Errorf("%s imports %s: only %q may", f[0], imp, who)
				}
			}
		}
	}
	for key := range layers {
		if !used[key] {
			t.Errorf("layers has a rule for %q, which is no package", key)
		}
	}
}

// ruleOf returns the key of pkg's rule in layers: its own, or that of the
// nearest "dir/*" above it.
func ruleOf(pkg string) (string, bool) {
	if _, ok := layers[pkg]; ok {
		return pkg, true
	}
	for dir := pkg; strings.Contains(dir, "/"); {
		dir = dir[:strings.LastIndex(dir, "/")]
		if _, ok := layers[dir+"/*"]; ok {
			return dir + "/*", true
		}
	}
	return "", false
}

// moduleOf returns who may import imp: the rule of the module path that
// imp is or lies below.
func moduleOf(imp string) ([]string, bool) {
	for prefix, who := range modules {
		if imp == prefix || strings.HasPrefix(imp, prefix+"/") {
			return who, true
		}
	}
	return nil, false
}

func allows(rules []string, dep string) bool {
	for _, r := range rules {
		if r == "*" || r == dep || strings.HasSuffix(r, "/*") && strings.HasPrefix(dep, strings.TrimSuffix(r, "*")) {
			return true
		}
	}
	return false
}
