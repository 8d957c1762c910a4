package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// Storage treats hotkey addresses as opaque strings; these are real SS58
// addresses all the same.
const (
	hotkeyA = "5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu"
	hotkeyB = "5HBWHtpMAiZiKPE8BJxXrFXevCXHiwQr4zQK7SUB6GZsbRDj"
	hotkeyC = "5CwjKU4JAkqYLRp3DdFSFGpz6hQx6dkp6Y4UAZ8hkYNPD1e6"
)

// principal adds a principal to a.
func (e *env) principal(a *coffer.Account, name string) *coffer.Principal {
	e.t.Helper()
	p := &coffer.Principal{ID: coffer.NewID(), AccountID: a.ID, Name: name, Kind: "user", CreatedAt: e.now()}
	if err := e.s.CreatePrincipal(e.ctx, p, e.ev("principal.create")); err != nil {
		e.t.Fatalf("CreatePrincipal: %v", err)
	}
	return p
}

// addHotkey registers ss58 to p.
func (e *env) addHotkey(p *coffer.Principal, ss58 string) *coffer.Hotkey {
	e.t.Helper()
	h := &coffer.Hotkey{SS58: ss58, AccountID: p.AccountID, PrincipalID: p.ID, CreatedAt: e.now()}
	if err := e.s.AddHotkey(e.ctx, h, e.ev("hotkey.add")); err != nil {
		e.t.Fatalf("AddHotkey(%s): %v", ss58, err)
	}
	return h
}

func hotkeyAddrs(hs []*coffer.Hotkey) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.SS58
	}
	return out
}

func (r *runner) hotkeys() {
	r.run("Hotkey/OK", func(t *testing.T, e *env) {
		a := e.account()
		p := e.principal(a, "alice")
		at := e.now()
		h := &coffer.Hotkey{SS58: hotkeyA, AccountID: a.ID, PrincipalID: p.ID, CreatedAt: at}
		ev := e.ev("hotkey.add")
		noErr(t, "AddHotkey", e.s.AddHotkey(e.ctx, h, ev))
		if ev.Outcome != "ok" || ev.Seq == 0 || ev.AccountID != a.ID {
			t.Fatalf("event: got outcome %q seq %d account %q, want ok, a seq and %s", ev.Outcome, ev.Seq, ev.AccountID, a.ID)
		}
		got, err := e.s.Hotkey(e.ctx, hotkeyA)
		noErr(t, "Hotkey", err)
		if got.SS58 != hotkeyA || got.AccountID != a.ID || got.PrincipalID != p.ID {
			t.Fatalf("Hotkey: got %+v, want %s of %s/%s", got, hotkeyA, a.ID, p.ID)
		}
		sameTime(t, "CreatedAt", got.CreatedAt, at)
	})
	r.run("Hotkey/ErrNotFound", func(t *testing.T, e *env) {
		_, err := e.s.Hotkey(e.ctx, hotkeyA)
		wantCode(t, "Hotkey of an unregistered address", err, coffer.ENOTFOUND)
	})
	r.run("Hotkey/ErrConflictAnyAccount", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		pa, pa2, pb := e.principal(a, "alice"), e.principal(a, "bob"), e.principal(b, "carol")
		e.addHotkey(pa, hotkeyA)
		for _, p := range []*coffer.Principal{pa, pa2, pb} {
			ev := e.ev("hotkey.add")
			err := e.s.AddHotkey(e.ctx, &coffer.Hotkey{SS58: hotkeyA, AccountID: p.AccountID, PrincipalID: p.ID, CreatedAt: e.now()}, ev)
			wantCode(t, "AddHotkey of a registered address to "+p.Name, err, coffer.ECONFLICT)
			if ev.Outcome != coffer.ECONFLICT {
				t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.ECONFLICT)
			}
		}
		got, err := e.s.Hotkey(e.ctx, hotkeyA)
		noErr(t, "Hotkey", err)
		if got.PrincipalID != pa.ID {
			t.Fatalf("Hotkey after refused adds: got principal %s, want %s", got.PrincipalID, pa.ID)
		}
		if hs, err := e.s.Hotkeys(e.ctx, b.ID); err != nil || len(hs) != 0 {
			t.Fatalf("Hotkeys of the other account: got %v, %v, want none", hotkeyAddrs(hs), err)
		}
	})
	r.run("Hotkey/ErrNotFoundPrincipal", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		pb := e.principal(b, "carol")
		for _, c := range []struct {
			what      string
			account   string
			principal string
		}{
			{"a principal of another account", a.ID, pb.ID},
			{"a missing principal", a.ID, coffer.NewID()},
			{"a missing account", coffer.NewID(), pb.ID},
		} {
			ev := e.ev("hotkey.add")
			err := e.s.AddHotkey(e.ctx, &coffer.Hotkey{SS58: hotkeyA, AccountID: c.account, PrincipalID: c.principal, CreatedAt: e.now()}, ev)
			wantCode(t, "AddHotkey for "+c.what, err, coffer.ENOTFOUND)
			if ev.Outcome != coffer.ENOTFOUND {
				t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.ENOTFOUND)
			}
		}
		_, err := e.s.Hotkey(e.ctx, hotkeyA)
		wantCode(t, "Hotkey after refused adds", err, coffer.ENOTFOUND)
	})
	r.run("Hotkey/ListAndIsolation", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		pa, pa2, pb := e.principal(a, "alice"), e.principal(a, "bob"), e.principal(b, "carol")
		e.addHotkey(pa, hotkeyB)
		e.addHotkey(pa2, hotkeyA)
		e.addHotkey(pb, hotkeyC)
		hs, err := e.s.Hotkeys(e.ctx, a.ID)
		noErr(t, "Hotkeys", err)
		if got := hotkeyAddrs(hs); len(got) != 2 || got[0] != hotkeyB || got[1] != hotkeyA {
			t.Fatalf("Hotkeys: got %v, want %s then %s (oldest first)", got, hotkeyB, hotkeyA)
		}
		if hs[0].PrincipalID != pa.ID || hs[1].PrincipalID != pa2.ID || hs[0].AccountID != a.ID {
			t.Fatalf("Hotkeys: got principals %s, %s, want %s, %s", hs[0].PrincipalID, hs[1].PrincipalID, pa.ID, pa2.ID)
		}
		hs, err = e.s.Hotkeys(e.ctx, b.ID)
		noErr(t, "Hotkeys of b", err)
		if got := hotkeyAddrs(hs); len(got) != 1 || got[0] != hotkeyC {
			t.Fatalf("Hotkeys of b: got %v, want %s", got, hotkeyC)
		}
		if hs, err := e.s.Hotkeys(e.ctx, coffer.NewID()); err != nil || hs == nil || len(hs) != 0 {
			t.Fatalf("Hotkeys of a missing account: got %v, %v, want an empty list", hs, err)
		}
		// Another account cannot remove a's hotkey: it does not exist there.
		ev := e.ev("hotkey.remove")
		wantCode(t, "RemoveHotkey from another account", e.s.RemoveHotkey(e.ctx, b.ID, hotkeyA, ev), coffer.ENOTFOUND)
		if ev.Outcome != coffer.ENOTFOUND || ev.AccountID != b.ID {
			t.Fatalf("event: got outcome %q account %q, want %q in %s", ev.Outcome, ev.AccountID, coffer.ENOTFOUND, b.ID)
		}
		if _, err := e.s.Hotkey(e.ctx, hotkeyA); err != nil {
			t.Fatalf("Hotkey after a refused remove: %v", err)
		}
	})
	r.run("Hotkey/Remove", func(t *testing.T, e *env) {
		a := e.account()
		pa, pa2 := e.principal(a, "alice"), e.principal(a, "bob")
		e.addHotkey(pa, hotkeyA)
		e.addHotkey(pa, hotkeyB)
		ev := e.ev("hotkey.remove")
		noErr(t, "RemoveHotkey", e.s.RemoveHotkey(e.ctx, a.ID, hotkeyA, ev))
		if ev.Outcome != "ok" || ev.Seq == 0 {
			t.Fatalf("event: got outcome %q seq %d, want ok and a seq", ev.Outcome, ev.Seq)
		}
		_, err := e.s.Hotkey(e.ctx, hotkeyA)
		wantCode(t, "Hotkey after remove", err, coffer.ENOTFOUND)
		hs, err := e.s.Hotkeys(e.ctx, a.ID)
		noErr(t, "Hotkeys", err)
		if got := hotkeyAddrs(hs); len(got) != 1 || got[0] != hotkeyB {
			t.Fatalf("Hotkeys after remove: got %v, want %s", got, hotkeyB)
		}
		wantCode(t, "second RemoveHotkey", e.s.RemoveHotkey(e.ctx, a.ID, hotkeyA, e.ev("hotkey.remove")), coffer.ENOTFOUND)
		// A removed address is free again, for any principal.
		e.addHotkey(pa2, hotkeyA)
		got, err := e.s.Hotkey(e.ctx, hotkeyA)
		noErr(t, "Hotkey after re-adding", err)
		if got.PrincipalID != pa2.ID {
			t.Fatalf("Hotkey after re-adding: got principal %s, want %s", got.PrincipalID, pa2.ID)
		}
	})
}

func (r *runner) nonces() {
	r.run("Nonce/Once", func(t *testing.T, e *env) {
		e.account()
		before := len(e.events())
		at := e.now()
		exp := at.Add(10 * time.Minute)
		noErr(t, "UseNonce", e.s.UseNonce(e.ctx, "k1", at, exp))
		wantCode(t, "second UseNonce", e.s.UseNonce(e.ctx, "k1", at.Add(time.Second), exp), coffer.ECONFLICT)
		wantCode(t, "UseNonce just before expiry", e.s.UseNonce(e.ctx, "k1", exp.Add(-time.Microsecond), exp.Add(time.Hour)), coffer.ECONFLICT)
		noErr(t, "UseNonce of another key", e.s.UseNonce(e.ctx, "k2", at, exp))
		if after := len(e.events()); after != before {
			t.Fatalf("audit events after UseNonce: got %d, want %d (no audit)", after, before)
		}
	})
	r.run("Nonce/Expired", func(t *testing.T, e *env) {
		at := e.now()
		exp := at.Add(10 * time.Minute)
		noErr(t, "UseNonce", e.s.UseNonce(e.ctx, "k1", at, exp))
		// At its expiry the entry counts as unused: the key may be used
		// again, once, until its new expiry.
		noErr(t, "UseNonce at expiry", e.s.UseNonce(e.ctx, "k1", exp, exp.Add(10*time.Minute)))
		wantCode(t, "UseNonce after reuse", e.s.UseNonce(e.ctx, "k1", exp.Add(time.Minute), exp.Add(time.Hour)), coffer.ECONFLICT)
		// Expiries that purge other entries leave live ones alone.
		later := exp.Add(time.Hour)
		noErr(t, "UseNonce of a new key much later", e.s.UseNonce(e.ctx, "k2", later, later.Add(time.Hour)))
		noErr(t, "UseNonce of k1 much later", e.s.UseNonce(e.ctx, "k1", later, later.Add(time.Hour)))
		wantCode(t, "UseNonce of k2 again", e.s.UseNonce(e.ctx, "k2", later.Add(time.Second), later.Add(2*time.Hour)), coffer.ECONFLICT)
	})
	r.run("Nonce/ConcurrentOneWins", func(t *testing.T, e *env) {
		at := e.now()
		const n = 32
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = e.s.UseNonce(e.ctx, "same-key", at, at.Add(10*time.Minute))
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch coffer.ErrorCode(err) {
			case "":
				won++
			case coffer.ECONFLICT:
			default:
				t.Fatalf("UseNonce %d: got %v, want ok or conflict", i, err)
			}
		}
		if won != 1 {
			t.Fatalf("concurrent UseNonce of one key: %d succeeded, want exactly 1", won)
		}
	})
}
