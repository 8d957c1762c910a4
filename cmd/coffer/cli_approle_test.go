package main

import (
	"strings"
	"testing"
)

func TestCLIAppRole(t *testing.T) {
	e := newCLIE2E(t)
	e.OK("", "store", "create", "prod")
	e.OK("", "store", "create", "other")
	e.OK("v1\n", "secret", "put", "prod", "db")
	e.OK("v2\n", "secret", "put", "other", "db")
	e.OK("", "approle", "create", "ci", "--scope", "prod:*:read,reveal", "--token-ttl", "20m", "--secret-id-uses", "2")
	if out := e.OK("", "approle", "list"); len(cliRows(out)) != 1 || !strings.Contains(out, "prod:*:read,reveal") {
		t.Fatalf("approle list: %q", out)
	}
	roleID := strings.TrimSpace(e.OK("", "approle", "role-id", "ci"))
	if len(roleID) != 36 {
		t.Fatalf("role-id: got %q", roleID)
	}
	if out := e.OK("", "approle", "get", "ci"); !strings.Contains(out, roleID) || !strings.Contains(out, "20m0s") {
		t.Fatalf("approle get: %q", out)
	}
	sid := strings.TrimSpace(e.OK("", "approle", "secret-id", "create", "ci", "--meta", "env=ci"))
	if !strings.HasPrefix(sid, "csi_") {
		t.Fatalf("secret-id create: got %d characters", len(sid))
	}
	rows := cliRows(e.OK("", "approle", "secret-id", "list", "ci"))
	if len(rows) != 1 || rows[0][3] != "2" {
		t.Fatalf("secret-id list: %v", rows)
	}
	const none = "cfr_none"
	r := e.RunAs(none, sid+"\n", "approle", "login", roleID)
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "cat_") || strings.Contains(r.Stdout+r.Stderr, sid) {
		t.Fatalf("approle login: %d %q", r.Code, r.Stderr)
	}
	tok := strings.TrimSpace(r.Stdout)
	if out := e.RunAs(tok, "", "secret", "get", "prod", "db"); out.Code != 0 || !strings.Contains(out.Stdout, "v1") {
		t.Fatalf("secret get with the role's token: %d %q", out.Code, out.Stderr)
	}
	e.FailAs(tok, "forbidden", "", "secret", "get", "other", "db")
	e.FailAs(none, "unauthorized", "csi_"+strings.Repeat("0", 64)+"\n", "approle", "login", roleID)
	e.OK("", "approle", "secret-id", "destroy", "ci", rows[0][0])
	e.FailAs(none, "unauthorized", sid+"\n", "approle", "login", roleID)
	e.OK("", "approle", "delete", "ci")
	e.FailAs(tok, "unauthorized", "", "secret", "get", "prod", "db")
}
