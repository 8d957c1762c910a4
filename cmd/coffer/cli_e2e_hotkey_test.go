package main

import (
	"context"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/sr25519"
)

// The key of internal/sr25519/testdata/chutes-sr25519-vectors.json (made
// with @polkadot/util-crypto), and another valid address.
const (
	e2eHotkeySeed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	e2eHotkey     = "5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu"
	e2eHotkey2    = "5HBWHtpMAiZiKPE8BJxXrFXevCXHiwQr4zQK7SUB6GZsbRDj"
)

// signedProof signs "{hotkey}:{now}:{purpose}" with the vectors' key, as a
// Chutes client does.
func signedProof(t *testing.T, purpose string) coffer.HotkeyProof {
	t.Helper()
	seed, _ := hex.DecodeString(e2eHotkeySeed)
	priv, err := sr25519.NewPrivateKeyFromSeed([32]byte(seed))
	if err != nil {
		t.Fatal(err)
	}
	nonce := strconv.FormatInt(time.Now().Unix(), 10)
	msg := e2eHotkey + ":" + nonce + ":" + purpose
	sig, err := priv.Sign([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	return coffer.HotkeyProof{Hotkey: e2eHotkey, Nonce: nonce, Signature: hex.EncodeToString(sig[:]), Message: []byte(msg), RemoteIP: "127.0.0.1"}
}

// TestCLIE2E_Hotkeys registers, lists and removes hotkeys with the CLI
// against the real server, and checks that the server then authenticates
// (and, after removal, refuses) requests the hotkey signs.
func TestCLIE2E_Hotkeys(t *testing.T) {
	s := mustOpenServer(t, t.TempDir())
	e := &cliE2E{t: t, addr: "http://" + s.Addr, token: s.RootToken}
	ctx := context.Background()

	out := e.OK("", "principal", "create", "alice", "--kind", "user")
	m := regexp.MustCompile(`^alice id ([0-9a-f]{32})\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("principal create: %q", out)
	}
	alice := m[1]

	// Unregistered: refused.
	if _, err := s.Service().AuthenticateHotkey(ctx, signedProof(t, "secrets")); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
		t.Fatalf("unregistered hotkey: got %v, want unauthorized", err)
	}

	if got, want := e.OK("", "hotkey", "add", "alice", e2eHotkey), "hotkey "+e2eHotkey+" registered to principal "+alice+"\n"; got != want {
		t.Errorf("hotkey add by name: got %q, want %q", got, want)
	}
	e.Fail("conflict", "", "hotkey", "add", alice, e2eHotkey)
	e.Fail("invalid", "", "hotkey", "add", alice, "5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnv")
	e.Fail("invalid", "", "hotkey", "add", alice, "0x44a996beb1eef7bdcab976ab6d2ca26104834164ecf28fb375600576fcc6eb0f")
	e.Fail("not_found", "", "hotkey", "add", "bob", e2eHotkey2)
	e.Fail("not_found", "", "hotkey", "add", coffer.NewID(), e2eHotkey2)

	// The root principal registers one for itself through the API's own route.
	a := &rawAPI{t: t, base: e.addr, token: e.token}
	r := a.must(201, "POST", "/v1/hotkeys", map[string]any{"hotkey": e2eHotkey2})
	if m := r.JSON(t); m["hotkey"] != e2eHotkey2 || m["principal_id"] == alice {
		t.Errorf("POST /v1/hotkeys: got %s, want %s for the root principal", r.Body, e2eHotkey2)
	}
	if r := a.do("POST", "/v1/principals/"+alice+"/hotkeys", map[string]any{"hotkey": "nope"}); r.Status != 400 || r.Code(t) != "invalid" {
		t.Errorf("invalid SS58: got %d %s, want 400 invalid", r.Status, r.Body)
	}
	if r := a.do("POST", "/v1/principals/"+alice+"/hotkeys", map[string]any{"hotkey": e2eHotkey, "extra": 1}); r.Status != 400 {
		t.Errorf("unknown field: got %d %s, want 400", r.Status, r.Body)
	}

	rows := cliRows(e.OK("", "hotkey", "list"))
	if len(rows) != 2 || rows[0][0] != e2eHotkey || rows[0][1] != alice || rows[1][0] != e2eHotkey2 {
		t.Fatalf("hotkey list: got %q, want %s (alice) then %s", rows, e2eHotkey, e2eHotkey2)
	}

	c, err := s.Service().AuthenticateHotkey(ctx, signedProof(t, "secrets"))
	if err != nil {
		t.Fatalf("registered hotkey: %v", err)
	}
	if c.PrincipalID != alice || c.KeyID != "hotkey:"+e2eHotkey || !c.Admin {
		t.Errorf("caller: got %+v, want alice's, admin, KeyID hotkey:%s", c, e2eHotkey)
	}

	// A key that is not admin may not manage hotkeys.
	scoped, _ := e.createKey(e.token, "reader", "--scope", "*:*:read")
	e.FailAs(scoped, "forbidden", "", "hotkey", "list")
	e.FailAs(scoped, "forbidden", "", "hotkey", "remove", e2eHotkey)
	// Another account sees none of them and cannot remove them.
	_, acme := e.createAccount("acme")
	if out := e.RunAs(acme, "", "hotkey", "list"); out.Code != 0 || len(cliRows(out.Stdout)) != 0 {
		t.Errorf("hotkey list as acme: got %d %q, want no rows", out.Code, out.Stdout)
	}
	e.FailAs(acme, "not_found", "", "hotkey", "remove", e2eHotkey)
	e.FailAs(acme, "conflict", "", "hotkey", "add", "admin", e2eHotkey)

	if got, want := e.OK("", "hotkey", "remove", e2eHotkey), "hotkey "+e2eHotkey+" removed\n"; got != want {
		t.Errorf("hotkey remove: got %q, want %q", got, want)
	}
	e.Fail("not_found", "", "hotkey", "remove", e2eHotkey)
	if rows := cliRows(e.OK("", "hotkey", "list")); len(rows) != 1 || rows[0][0] != e2eHotkey2 {
		t.Errorf("hotkey list after remove: got %q, want %s only", rows, e2eHotkey2)
	}
	if _, err := s.Service().AuthenticateHotkey(ctx, signedProof(t, "secrets")); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
		t.Fatalf("removed hotkey: got %v, want unauthorized", err)
	}

	// The audit log has the changes and the refusals, and no signature.
	audit := e.OK("", "audit", "list", "--limit", "1000")
	for _, want := range []string{"hotkey.add", "hotkey.remove", "auth.fail", "hotkey:" + e2eHotkey} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit list: no %q in %q", want, audit)
		}
	}
}
