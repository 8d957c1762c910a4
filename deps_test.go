package coffer_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps imports pointing inward: the root package uses only the
// standard library, and each adapter imports only what STYLE.md allows.
func TestDeps(t *testing.T) {
	const mod = "github.com/coffer-dev/coffer"
	allowed := map[string][]string{ // package → project packages it may import
		"":             {},
		"envelope":     {},
		"service":      {"", "envelope"},
		"sqlite":       {""},
		"postgres":     {""},
		"storetest":    {""},
		"internal/web": {""},
		"api":          {"", "internal/web", "compat/*", "ui"},
		"client":       {""},
		"mock":         {""},
		"compat/*":     {"", "internal/web"},
		// Chutes registers its hotkeys' signature scheme with the service.
		"compat/chutes": {"", "internal/web", "internal/sr25519"},
		"internal/*":    {""},
		// Test support: a real service over SQLite, imported by tests only.
		"internal/svctest": {"", "envelope", "service", "sqlite"},
		"cmd/*":            {"*"},
		// Operations: the one opener of a data directory or database URL,
		// the backup file format, and migrate over both.
		"engine":  {"", "sqlite", "postgres"},
		"backup":  {"", "envelope"},
		"migrate": {"", "engine", "backup"},
		"doctor":  {"", "engine", "envelope", "service"},
		// coffer bench: a load generator and Chutes request signing, over HTTP.
		"internal/bench": {"internal/loadgen", "internal/sr25519"},
		"ui":             {},

		"server": {"*"}, // composes everything but cmd
		// Test support: the real server in-process, imported by tests only.
		"internal/servertest": {"server", "internal/sr25519"},
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(f[0], mod), "/")
		rules, ok := allowed[pkg]
		if !ok {
			rules, ok = allowed[globOf(pkg)]
		}
		if !ok {
			t.Errorf("package %q has no dependency rule in TestDeps", pkg)
			continue
		}
		for _, imp := range f[1:] {
			if !strings.HasPrefix(imp, mod) {
				if pkg == "" && strings.Contains(strings.Split(imp, "/")[0], ".") {
					t.Errorf("root package imports %s: it may use only the standard library", imp)
				}
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, mod), "/")
			if !allows(rules, dep) {
				t.Errorf("%s imports %s: not allowed (may import %q)", f[0], imp, rules)
			}
		}
	}
}

func globOf(pkg string) string {
	if i := strings.Index(pkg, "/"); i >= 0 {
		return pkg[:i] + "/*"
	}
	return pkg
}

func allows(rules []string, dep string) bool {
	for _, r := range rules {
		if r == "*" || r == dep || r == globOf(dep) {
			return true
		}
	}
	return false
}
