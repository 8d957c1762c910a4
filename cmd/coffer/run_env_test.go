package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRunEnvInjection runs the coffer binary's 'run' on a store whose
// secrets are named after variables that change what a process runs: none
// is set unless --allow names it, each is named on stderr without its
// value, and the others are set. A value holding a NUL byte is left out
// with a warning instead of failing the start.
func TestRunEnvInjection(t *testing.T) {
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	e := newCLIE2E(t)
	e.OK("", "store", "create", "wl")
	secrets := map[string]string{
		"PATH":         "/planted-bin",
		"LD_PRELOAD":   "/planted/evil.so",
		"ld_audit":     "/planted/audit.so",
		"PYTHONPATH":   "/planted/py",
		"NODE_OPTIONS": "--require /planted/x.js",
		"BASH_ENV":     "/planted/rc",
		"PERL5OPT":     "-Mplanted",
		"DB_PASSWORD":  "s3cret-value",
		"app/token":    "t0k-value",
	}
	for k, v := range secrets {
		e.OK(v, "secret", "put", "wl", k)
	}
	a := &rawAPI{t: t, base: e.addr, token: e.token}
	a.must(201, "PUT", "/v1/stores/wl/secrets/BINARY", map[string]any{"value": base64.StdEncoding.EncodeToString([]byte("a\x00b")), "encoding": "base64"})

	// run starts the binary and returns the child's environment and
	// coffer's stderr.
	run := func(flags ...string) (map[string]string, string) {
		t.Helper()
		args := append(append([]string{"run", "--store", "wl"}, flags...), "--", "env", "-0")
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "COFFER_ADDR=" + e.addr, "COFFER_TOKEN=" + e.token, "HOME=/nonexistent"}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("coffer %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		env := map[string]string{}
		for _, kv := range strings.Split(strings.TrimSuffix(stdout.String(), "\x00"), "\x00") {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		for _, v := range secrets {
			if strings.Contains(stderr.String(), v) {
				t.Errorf("coffer %s: stderr shows a value: %q", strings.Join(args, " "), stderr.String())
			}
		}
		return env, stderr.String()
	}

	env, stderr := run()
	if env["DB_PASSWORD"] != "s3cret-value" || env["app_token"] != "t0k-value" {
		t.Errorf("the plain secrets are not set: %q", env)
	}
	if env["PATH"] != os.Getenv("PATH") {
		t.Errorf("PATH = %q, want the caller's %q", env["PATH"], os.Getenv("PATH"))
	}
	if env["HOME"] != "/nonexistent" {
		t.Errorf("HOME = %q, want the caller's", env["HOME"])
	}
	for _, k := range []string{"PATH", "LD_PRELOAD", "ld_audit", "PYTHONPATH", "NODE_OPTIONS", "BASH_ENV", "PERL5OPT"} {
		if k != "PATH" {
			if v, set := env[k]; set {
				t.Errorf("%s is set to %q", k, v)
			}
		}
		if !strings.Contains(stderr, "not setting "+k+": it changes what a process runs (--allow "+k+" sets it)") {
			t.Errorf("stderr does not name %s: %q", k, stderr)
		}
	}
	if _, set := env["BINARY"]; set || !strings.Contains(stderr, "not setting BINARY: its value holds a NUL byte") {
		t.Errorf("a value with a NUL byte: set %v, stderr %q", set, stderr)
	}

	// --allow sets the named ones only (the case of the flag does not matter).
	env, stderr = run("--allow", "pythonpath", "--allow", "NODE_OPTIONS")
	if env["PYTHONPATH"] != "/planted/py" || env["NODE_OPTIONS"] != "--require /planted/x.js" {
		t.Errorf("--allow: PYTHONPATH %q, NODE_OPTIONS %q", env["PYTHONPATH"], env["NODE_OPTIONS"])
	}
	if _, set := env["LD_PRELOAD"]; set || env["PATH"] != os.Getenv("PATH") {
		t.Errorf("--allow set more than it names: %q", env)
	}
	if strings.Contains(stderr, "not setting PYTHONPATH") || !strings.Contains(stderr, "not setting LD_PRELOAD") {
		t.Errorf("--allow: stderr %q", stderr)
	}
}
