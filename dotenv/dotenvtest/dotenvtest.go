// Package dotenvtest checks, for tests, that a dotenv file is safe to
// source in real shells: sh, dash and bash (set -a; . ./file) must export
// exactly the values it holds, write nothing on stderr and run nothing.
package dotenvtest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// shells returns the shells a file is sourced in: sh (dash on Debian), dash
// and bash, each found on PATH; missing ones are left out, and the test is
// skipped if none is found.
func shells(t testing.TB) []string {
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

// CheckSourced sources the dotenv file in dir (named exported.env) in every
// shell and checks that it exports exactly want on top of the shell's own
// environment, writes nothing on stderr, and creates no file (a planted
// command such as $(touch planted) would).
func CheckSourced(t testing.TB, dir string, want map[string]string) {
	t.Helper()
	for _, sh := range shells(t) {
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
