package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer-dev/coffer/internal/servertest"
)

// TestBackupRestoreAppRole backs up a server with an AppRole role and a
// secret id, restores the backup into another directory, and logs in to a
// server on it with the same role id and secret id: the token reads what
// the role's scopes allow.
func TestBackupRestoreAppRole(t *testing.T) {
	dirA, dirB := t.TempDir(), filepath.Join(t.TempDir(), "restored")
	s := mustOpenServer(t, dirA)
	root := &rawAPI{t: t, base: "http://" + s.Addr, token: s.RootToken}
	root.must(201, "POST", "/v1/stores", map[string]any{"name": "app"})
	root.must(201, "PUT", "/v1/stores/app/secrets/db", map[string]any{"value": "pw"})
	root.must(201, "POST", "/v1/approle/roles", map[string]any{"name": "ci",
		"scopes": []map[string]any{{"store": "app", "actions": []string{"read", "reveal"}}}})
	roleID := servertest.Str(root.must(200, "GET", "/v1/approle/roles/ci/role-id", nil).JSON(t)["role_id"])
	secretID := servertest.Str(root.must(201, "POST", "/v1/approle/roles/ci/secret-ids", map[string]any{}).JSON(t)["secret_id"])

	out := filepath.Join(t.TempDir(), "coffer.backup")
	if r := runCmd("backup", "--data", dirA, "--out", out); r.Code != 0 {
		t.Fatalf("coffer backup: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if r := runCmd("restore", "--in", out, "--data", dirB, "--master-key-file", filepath.Join(dirA, "master.key")); r.Code != 0 {
		t.Fatalf("coffer restore: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, f := range []string{"master.key", "root.token"} {
		if err := os.WriteFile(filepath.Join(dirB, f), must(os.ReadFile(filepath.Join(dirA, f))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s2 := mustOpenServer(t, dirB)
	anon := &rawAPI{t: t, base: "http://" + s2.Addr}
	tok := servertest.Str(anon.must(200, "POST", "/v1/approle/login",
		map[string]string{"role_id": roleID, "secret_id": secretID}).JSON(t)["token"])
	workload := &rawAPI{t: t, base: "http://" + s2.Addr, token: tok}
	if got, _ := value(t, workload.must(200, "GET", "/v1/stores/app/secrets/db/value", nil)); got != "pw" {
		t.Fatalf("read with the restored role's token: got %q", got)
	}
}
