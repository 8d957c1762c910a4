package main

import (
	"regexp"
	"strings"
	"testing"
)

// createAccount runs 'coffer account create' as the operator and returns the
// new account's id and admin token.
func (e *cliE2E) createAccount(name string) (id, token string) {
	e.t.Helper()
	r := e.Run("", "account", "create", name)
	if r.Code != 0 {
		e.t.Fatalf("account create %s: exit status %d, stderr %q", name, r.Code, r.Stderr)
	}
	m := regexp.MustCompile(`^` + regexp.QuoteMeta(name) + ` id ([0-9a-f]{32})\n(cfr_[0-9a-f]{16}_[0-9a-f]{64})\n$`).FindStringSubmatch(r.Stdout)
	if m == nil {
		e.t.Fatalf("account create %s: stdout %q, want the id and then the token alone", name, r.Stdout)
	}
	if !strings.Contains(r.Stderr, "shown only this once") || strings.Contains(r.Stderr, m[2]) {
		e.t.Errorf("account create %s: stderr %q, want a warning and not the token", name, r.Stderr)
	}
	return m[1], m[2]
}

// createKey runs 'coffer key create' as token and returns the new key's
// token and id.
func (e *cliE2E) createKey(token string, args ...string) (newToken, id string) {
	e.t.Helper()
	r := e.RunAs(token, "", append([]string{"key", "create"}, args...)...)
	if r.Code != 0 {
		e.t.Fatalf("key create %s: exit status %d, stderr %q", strings.Join(args, " "), r.Code, r.Stderr)
	}
	m := regexp.MustCompile(`id (\S+);`).FindStringSubmatch(r.Stderr)
	if m == nil || !regexp.MustCompile(`^cfr_\S+\n$`).MatchString(r.Stdout) {
		e.t.Fatalf("key create %s: stdout %q, stderr %q, want the token and the id", strings.Join(args, " "), r.Stdout, r.Stderr)
	}
	return strings.TrimSuffix(r.Stdout, "\n"), m[1]
}

func TestCLIE2E_Accounts(t *testing.T) {
	e := newCLIE2E(t)

	acmeID, acme := e.createAccount("acme")
	if out := e.RunAs(acme, "", "store", "create", "prod"); out.Code != 0 {
		t.Fatalf("store create as acme: %d %q", out.Code, out.Stderr)
	}
	if out := e.RunAs(acme, "s3cret\n", "secret", "put", "prod", "DB_PASSWORD"); out.Code != 0 || out.Stdout != "DB_PASSWORD version 1\n" {
		t.Fatalf("secret put as acme: %d %q %q", out.Code, out.Stdout, out.Stderr)
	}
	if out := e.RunAs(acme, "", "secret", "get", "prod", "DB_PASSWORD"); out.Code != 0 || out.Stdout != "s3cret\n" {
		t.Errorf("secret get as acme: %d %q %q", out.Code, out.Stdout, out.Stderr)
	}

	// The operator sees both accounts: its own ("default") and acme.
	out := e.OK("", "account", "list")
	rows := cliRows(out)
	if len(rows) != 2 || cliRow(out, acmeID) == nil || cliRow(out, acmeID)[1] != "acme" {
		t.Errorf("account list: got %q, want the operator's account and acme", out)
	}
	for _, r := range rows {
		if r[0] != acmeID && r[1] != "default" {
			t.Errorf("account list: unexpected row %q", r)
		}
	}

	// Nothing of acme is visible from another account, the operator's
	// included: not by name, not by id.
	storeID := regexp.MustCompile(`prod\s+([0-9a-f]{32})`).FindStringSubmatch(e.RunAs(acme, "", "store", "list").Stdout)
	if storeID == nil {
		t.Fatal("store list as acme: no prod row")
	}
	_, globex := e.createAccount("globex")
	if out := e.RunAs(globex, "", "store", "list"); out.Code != 0 || len(cliRows(out.Stdout)) != 0 {
		t.Errorf("store list as globex: got %d %q, want no stores", out.Code, out.Stdout)
	}
	e.FailAs(globex, "not_found", "", "secret", "get", "prod", "DB_PASSWORD")
	e.FailAs(globex, "not_found", "", "secret", "get", storeID[1], "DB_PASSWORD")
	e.FailAs(globex, "not_found", "", "secret", "list", "prod")
	e.Fail("not_found", "", "secret", "get", "prod", "DB_PASSWORD")
	if cliRow(e.OK("", "store", "list"), "prod") != nil {
		t.Error("store list as the operator shows acme's store")
	}
	if out := e.OK("", "key", "list"); len(cliRows(out)) != 1 {
		t.Errorf("key list as the operator: got %q, want only the root key", out)
	}
	// Store names are per account.
	if out := e.RunAs(globex, "", "store", "create", "prod"); out.Code != 0 {
		t.Errorf("store create prod as globex: %d %q", out.Code, out.Stderr)
	}
	if out := e.RunAs(globex, "", "secret", "list", "prod"); out.Code != 0 || len(cliRows(out.Stdout)) != 0 {
		t.Errorf("secret list as globex: got %d %q, want no secrets", out.Code, out.Stdout)
	}

	// Only the operator manages accounts; another account's admin may not.
	e.FailAs(acme, "forbidden", "", "account", "create", "evil")
	e.FailAs(acme, "forbidden", "", "account", "list")
	e.Fail("invalid", "", "account", "create", "bad name")
	if rows := cliRows(e.OK("", "account", "list")); len(rows) != 3 {
		t.Errorf("account list: got %d accounts, want 3", len(rows))
	}
}

func TestCLIE2E_Principals(t *testing.T) {
	e := newCLIE2E(t)
	_, acme := e.createAccount("acme")
	if out := e.RunAs(acme, "", "store", "create", "prod"); out.Code != 0 {
		t.Fatalf("store create: %d %q", out.Code, out.Stderr)
	}
	for _, name := range []string{"DB_PASSWORD", "DB_USER", "API_KEY"} {
		if out := e.RunAs(acme, "v-"+name+"\n", "secret", "put", "prod", name); out.Code != 0 {
			t.Fatalf("secret put %s: %d %q", name, out.Code, out.Stderr)
		}
	}

	r := e.RunAs(acme, "", "principal", "create", "ci")
	m := regexp.MustCompile(`^ci id ([0-9a-f]{32})\n$`).FindStringSubmatch(r.Stdout)
	if r.Code != 0 || m == nil {
		t.Fatalf("principal create ci: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	ciID := m[1]
	if r := e.RunAs(acme, "", "principal", "create", "alice", "--kind", "user"); r.Code != 0 {
		t.Fatalf("principal create alice: %d %q", r.Code, r.Stderr)
	}
	e.FailAs(acme, "conflict", "", "principal", "create", "ci", "--kind", "user")
	e.FailAs(acme, "invalid", "", "principal", "create", "no/slash")

	out := e.RunAs(acme, "", "principal", "list").Stdout
	if row := cliRow(out, ciID); row == nil || row[1] != "ci" || row[2] != "service" {
		t.Errorf("principal list: ci row %q in %q", row, out)
	}
	kinds := map[string]string{}
	for _, row := range cliRows(out) {
		kinds[row[1]] = row[2]
	}
	if len(kinds) != 3 || kinds["admin"] != "user" || kinds["alice"] != "user" || kinds["ci"] != "service" {
		t.Errorf("principal list: got %q, want admin, alice and ci", out)
	}
	adminID := ""
	for _, row := range cliRows(out) {
		if row[1] == "admin" {
			adminID = row[0]
		}
	}
	// The operator's principals are its own.
	if out := e.OK("", "principal", "list"); cliRow(out, ciID) != nil {
		t.Errorf("principal list as the operator shows acme's principal: %q", out)
	}

	// An admin key mints a key for another principal of its account.
	ci, ciKeyID := e.createKey(acme, "deploy", "--principal", ciID, "--scope", "prod:DB_*:list,read,reveal")
	if row := cliRow(e.RunAs(acme, "", "key", "list").Stdout, ciKeyID); row == nil || row[len(row)-1] != ciID {
		t.Errorf("key list: row %q, want principal %s last", row, ciID)
	}
	if out := e.RunAs(ci, "", "secret", "get", "prod", "DB_PASSWORD"); out.Code != 0 || out.Stdout != "v-DB_PASSWORD\n" {
		t.Errorf("secret get as ci: %d %q %q", out.Code, out.Stdout, out.Stderr)
	}
	e.FailAs(ci, "forbidden", "", "secret", "get", "prod", "API_KEY")
	e.FailAs(ci, "forbidden", "", "principal", "list")
	e.FailAs(ci, "forbidden", "", "principal", "create", "sneaky")
	e.FailAs(acme, "not_found", "", "key", "create", "x", "--principal", "0123456789abcdef0123456789abcdef", "--scope", "prod:*:list")

	// No escalation: a key that is not admin mints only narrower keys, for
	// itself.
	narrow, _ := e.createKey(ci, "narrow", "--scope", "prod:DB_USER:reveal")
	if out := e.RunAs(narrow, "", "secret", "get", "prod", "DB_USER"); out.Code != 0 || out.Stdout != "v-DB_USER\n" {
		t.Errorf("secret get as narrow: %d %q %q", out.Code, out.Stdout, out.Stderr)
	}
	e.FailAs(narrow, "forbidden", "", "secret", "get", "prod", "DB_PASSWORD")
	for _, args := range [][]string{
		{"wide", "--scope", "prod:*:reveal"},
		{"other-store", "--scope", "*:DB_*:reveal"},
		{"more-actions", "--scope", "prod:DB_*:reveal,write"},
		{"admin", "--admin"},
		{"for-admin", "--principal", adminID, "--scope", "prod:DB_USER:reveal"},
	} {
		e.FailAs(ci, "forbidden", "", append([]string{"key", "create"}, args...)...)
	}
	e.FailAs(narrow, "forbidden", "", "key", "create", "back-up", "--scope", "prod:DB_*:reveal")

	// A key that expires mints only keys that expire no later: asked for
	// no expiry, the new key gets the maker's.
	short, _ := e.createKey(acme, "short", "--principal", ciID, "--scope", "prod:DB_*:reveal", "--expires", "1h")
	e.createKey(short, "forever", "--scope", "prod:DB_*:reveal")
	e.FailAs(short, "forbidden", "", "key", "create", "longer", "--scope", "prod:DB_*:reveal", "--expires", "2h")
	e.createKey(short, "shorter", "--scope", "prod:DB_USER:reveal", "--expires", "30m")
}

// TestCLIE2E_RateLimited checks that repeated failed authentications from
// one address are refused with rate_limited and a delay, that the CLI
// prints the delay, and that a valid token from that address still works.
func TestCLIE2E_RateLimited(t *testing.T) {
	e := newCLIE2E(t)
	var r cliResult
	for i := 0; i < 20; i++ {
		r = e.RunAs("cfr_not-a-real-token", "", "store", "list")
		if strings.Contains(r.Stderr, "(rate_limited)") {
			break
		}
		if !strings.Contains(r.Stderr, "(unauthorized)") {
			t.Fatalf("attempt %d: got %d %q, want unauthorized", i+1, r.Code, r.Stderr)
		}
	}
	if r.Code != 1 || !regexp.MustCompile(`\(rate_limited\); retry in [0-9]+s\n$`).MatchString(r.Stderr) {
		t.Fatalf("got %d %q, want rate_limited with a delay", r.Code, r.Stderr)
	}
	// A valid token from the limited address still works.
	if r := e.Run("", "store", "list"); r.Code != 0 {
		t.Errorf("valid token from a limited address: got %d %q, want success", r.Code, r.Stderr)
	}
}
