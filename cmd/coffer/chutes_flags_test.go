package main

import (
	"github.com/coffer-dev/coffer/server"
	"os"
	"testing"
)

// TestChutesRegistryPasswordFile checks the flag and the environment
// variable; the server's refusal of an empty or missing file is tested next
// to the face (compat/chutes/http_test.go).
func TestChutesRegistryPasswordFile(t *testing.T) {
	c := server.DefaultConfig()
	if err := parseServerFlags(&c, []string{"--chutes-registry-password-file", "/x"}, func(string) string { return "" }, os.Stderr); err != nil || c.ChutesRegistryPasswordFile != "/x" {
		t.Errorf("flag: got %q, %v", c.ChutesRegistryPasswordFile, err)
	}
	c = server.DefaultConfig()
	env := func(k string) string { return map[string]string{"COFFER_CHUTES_REGISTRY_PASSWORD_FILE": "/y"}[k] }
	if err := parseServerFlags(&c, nil, env, os.Stderr); err != nil || c.ChutesRegistryPasswordFile != "/y" {
		t.Errorf("env: got %q, %v", c.ChutesRegistryPasswordFile, err)
	}
}
