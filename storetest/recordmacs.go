package storetest

import (
	"bytes"
	"testing"

	"github.com/coffer-dev/coffer"
)

// recordMACs checks that accounts, principals, API keys and hotkeys keep
// the MAC they were created with on every read, and SetRecordMAC's
// compare-and-set (service/records.go binds records with it).
func (r *runner) recordMACs() {
	r.run("RecordMACs", func(t *testing.T, e *env) {
		a := &coffer.Account{ID: coffer.NewID(), Name: "acme", CreatedAt: e.now(), MAC: []byte("mac-account")}
		noErr(t, "CreateAccount", e.s.CreateAccount(e.ctx, a, e.ev("account.create")))
		p := &coffer.Principal{ID: coffer.NewID(), AccountID: a.ID, Name: "alice", Kind: "user", CreatedAt: e.now(), MAC: []byte("mac-principal")}
		noErr(t, "CreatePrincipal", e.s.CreatePrincipal(e.ctx, p, e.ev("principal.create")))
		k := &coffer.APIKey{ID: "k-1", AccountID: a.ID, PrincipalID: p.ID, Name: "k", Hash: []byte("h"), Scopes: []coffer.Scope{},
			CreatedAt: e.now(), MAC: []byte("mac-key")}
		noErr(t, "CreateAPIKey", e.s.CreateAPIKey(e.ctx, k, e.ev("key.create")))
		h := &coffer.Hotkey{SS58: hotkeyA, AccountID: a.ID, PrincipalID: p.ID, CreatedAt: e.now(), MAC: []byte("mac-hotkey")}
		noErr(t, "AddHotkey", e.s.AddHotkey(e.ctx, h, e.ev("hotkey.add")))
		bare := &coffer.Principal{ID: coffer.NewID(), AccountID: a.ID, Name: "bare", Kind: "user", CreatedAt: e.now()}
		noErr(t, "CreatePrincipal without MAC", e.s.CreatePrincipal(e.ctx, bare, e.ev("principal.create")))

		macs := func() map[string][]byte {
			out := map[string][]byte{}
			got, err := e.s.Account(e.ctx, a.ID)
			noErr(t, "Account", err)
			out["Account"] = got.MAC
			accts, err := e.s.Accounts(e.ctx, "", 10)
			noErr(t, "Accounts", err)
			out["Accounts"] = accts[0].MAC
			gp, err := e.s.Principal(e.ctx, a.ID, p.ID)
			noErr(t, "Principal", err)
			out["Principal"] = gp.MAC
			ps, err := e.s.Principals(e.ctx, a.ID)
			noErr(t, "Principals", err)
			for _, x := range ps {
				out["Principals/"+x.Name] = x.MAC
			}
			gk, err := e.s.APIKey(e.ctx, k.ID)
			noErr(t, "APIKey", err)
			out["APIKey"] = gk.MAC
			ks, err := e.s.APIKeys(e.ctx, a.ID)
			noErr(t, "APIKeys", err)
			out["APIKeys"] = ks[0].MAC
			gh, err := e.s.Hotkey(e.ctx, hotkeyA)
			noErr(t, "Hotkey", err)
			out["Hotkey"] = gh.MAC
			hs, err := e.s.Hotkeys(e.ctx, a.ID)
			noErr(t, "Hotkeys", err)
			out["Hotkeys"] = hs[0].MAC
			return out
		}
		want := map[string]string{"Account": "mac-account", "Accounts": "mac-account", "Principal": "mac-principal",
			"Principals/alice": "mac-principal", "Principals/bare": "", "APIKey": "mac-key", "APIKeys": "mac-key",
			"Hotkey": "mac-hotkey", "Hotkeys": "mac-hotkey"}
		check := func(when string) {
			t.Helper()
			got := macs()
			for k, w := range want {
				if string(got[k]) != w {
					t.Errorf("%s: %s MAC %q, want %q", when, k, got[k], w)
				}
			}
		}
		check("created")

		// Compare-and-set on the stored MAC; nil old matches no MAC.
		wantCode(t, "SetRecordMAC with a wrong old MAC", e.s.SetRecordMAC(e.ctx, coffer.KindAPIKey, k.ID, []byte("other"), []byte("x")), coffer.EPRECONDITION)
		wantCode(t, "SetRecordMAC with nil old on a bound record", e.s.SetRecordMAC(e.ctx, coffer.KindAccount, a.ID, nil, []byte("x")), coffer.EPRECONDITION)
		wantCode(t, "SetRecordMAC of a missing record", e.s.SetRecordMAC(e.ctx, coffer.KindHotkey, hotkeyB, nil, []byte("x")), coffer.ENOTFOUND)
		wantCode(t, "SetRecordMAC of a store", e.s.SetRecordMAC(e.ctx, coffer.KindStore, a.ID, nil, []byte("x")), coffer.EINVALID)
		check("after refused SetRecordMAC")
		for _, c := range []struct {
			kind     coffer.RecordKind
			id, name string
			old      []byte
		}{
			{coffer.KindAccount, a.ID, "Account", []byte("mac-account")},
			{coffer.KindPrincipal, p.ID, "Principal", []byte("mac-principal")},
			{coffer.KindPrincipal, bare.ID, "Principals/bare", nil},
			{coffer.KindAPIKey, k.ID, "APIKey", []byte("mac-key")},
			{coffer.KindHotkey, hotkeyA, "Hotkey", []byte("mac-hotkey")},
		} {
			mac := []byte("new-" + c.name)
			noErr(t, "SetRecordMAC "+c.name, e.s.SetRecordMAC(e.ctx, c.kind, c.id, c.old, mac))
			if got := macs()[c.name]; !bytes.Equal(got, mac) {
				t.Errorf("after SetRecordMAC: %s MAC %q, want %q", c.name, got, mac)
			}
		}
		// Emptied, a MAC reads as none.
		noErr(t, "SetRecordMAC to none", e.s.SetRecordMAC(e.ctx, coffer.KindAPIKey, k.ID, []byte("new-APIKey"), nil))
		if got := macs()["APIKey"]; len(got) != 0 {
			t.Errorf("after emptying: APIKey MAC %q, want none", got)
		}
	})
}
