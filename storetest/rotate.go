package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer"
)

// rotation checks the writes of key rotation: listing every store key,
// rewrapping one by compare-and-set, adding a store data key, re-sealing a
// version, and swapping a setting.
func (r *runner) rotation() {
	r.run("StoreKeys/Paging", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		want := map[string]string{} // store id/key id -> account id
		for i := range 3 {
			s := e.store(a, fmt.Sprintf("a%d", i))
			want[s.ID+"/1"] = a.ID
			s = e.store(b, fmt.Sprintf("b%d", i))
			want[s.ID+"/1"] = b.ID
		}
		s := e.store(a, "two-keys")
		_, err := e.s.AddStoreKey(e.ctx, a.ID, s.ID, 2, []byte("second"), e.ev("store.rotate-key"))
		noErr(t, "AddStoreKey", err)
		want[s.ID+"/1"], want[s.ID+"/2"] = a.ID, a.ID

		got := map[string]string{}
		afterStore, afterKey, prev := "", 0, ""
		for {
			page, err := e.s.StoreKeys(e.ctx, afterStore, afterKey, 3)
			noErr(t, "StoreKeys", err)
			if len(page) > 3 {
				t.Fatalf("StoreKeys(limit 3): got %d keys", len(page))
			}
			if len(page) == 0 {
				break
			}
			for _, k := range page {
				ref := fmt.Sprintf("%s/%d", k.StoreID, k.ID)
				if ref <= prev {
					t.Fatalf("StoreKeys: %s after %s, want store id then key id order", ref, prev)
				}
				prev = ref
				got[ref] = k.AccountID
				wantWrapped := "second"
				if k.ID == 1 {
					wantWrapped = "wrapped-"
				}
				if !bytes.HasPrefix(k.Wrapped, []byte(wantWrapped)) {
					t.Fatalf("StoreKeys: %s wrapped %q, want prefix %q", ref, k.Wrapped, wantWrapped)
				}
			}
			last := page[len(page)-1]
			afterStore, afterKey = last.StoreID, last.ID
		}
		if len(got) != len(want) {
			t.Fatalf("StoreKeys: got %d keys, want %d", len(got), len(want))
		}
		for ref, acct := range want {
			if got[ref] != acct {
				t.Fatalf("StoreKeys: key %s in account %q, want %q", ref, got[ref], acct)
			}
		}
	})
	r.run("RewrapStoreKey/CAS", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		s := e.store(a, "prod")
		gen := e.storeGen(a, s)
		ev := e.ev("store.rewrap-key")
		noErr(t, "RewrapStoreKey", e.s.RewrapStoreKey(e.ctx, a.ID, s.ID, 1, []byte("wrapped-prod"), []byte("new"), ev))
		if ev.Outcome != "ok" || ev.AccountID != a.ID || ev.StoreID != s.ID {
			t.Fatalf("event: got outcome %q account %q store %q, want ok %q %q", ev.Outcome, ev.AccountID, ev.StoreID, a.ID, s.ID)
		}
		got, err := e.s.StoreKey(e.ctx, a.ID, s.ID, 1)
		noErr(t, "StoreKey", err)
		if string(got) != "new" {
			t.Fatalf("StoreKey after rewrap: got %q, want %q", got, "new")
		}
		if g := e.storeGen(a, s); g != gen {
			t.Fatalf("Gen after rewrap: got %d, want %d (unchanged)", g, gen)
		}
		// The old bytes no longer match: a second rotation lost the race.
		err = e.s.RewrapStoreKey(e.ctx, a.ID, s.ID, 1, []byte("wrapped-prod"), []byte("other"), e.ev("store.rewrap-key"))
		wantCode(t, "RewrapStoreKey with stale old bytes", err, coffer.EPRECONDITION)
		if last := e.lastEvent(); last.Outcome != coffer.EPRECONDITION {
			t.Fatalf("refused rewrap's event: got outcome %q, want %q", last.Outcome, coffer.EPRECONDITION)
		}
		err = e.s.RewrapStoreKey(e.ctx, a.ID, s.ID, 2, []byte("new"), []byte("other"), e.ev("store.rewrap-key"))
		wantCode(t, "RewrapStoreKey of a missing key id", err, coffer.ENOTFOUND)
		err = e.s.RewrapStoreKey(e.ctx, b.ID, s.ID, 1, []byte("new"), []byte("other"), e.ev("store.rewrap-key"))
		wantCode(t, "RewrapStoreKey from another account", err, coffer.ENOTFOUND)
		got, _ = e.s.StoreKey(e.ctx, a.ID, s.ID, 1)
		if string(got) != "new" {
			t.Fatalf("StoreKey after refused rewraps: got %q, want %q", got, "new")
		}
	})
	r.run("RewrapStoreKey/Concurrent", func(t *testing.T, e *env) {
		a := e.account()
		s := e.store(a, "prod")
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = e.s.RewrapStoreKey(e.ctx, a.ID, s.ID, 1, []byte("wrapped-prod"), fmt.Appendf(nil, "new-%d", i), e.ev("store.rewrap-key"))
			})
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch coffer.ErrorCode(err) {
			case "":
				if won >= 0 {
					t.Fatalf("RewrapStoreKey: %d and %d both won", won, i)
				}
				won = i
			case coffer.EPRECONDITION:
			default:
				t.Fatalf("RewrapStoreKey %d: %v", i, err)
			}
		}
		if won < 0 {
			t.Fatal("RewrapStoreKey: no writer won")
		}
		got, _ := e.s.StoreKey(e.ctx, a.ID, s.ID, 1)
		if want := fmt.Sprintf("new-%d", won); string(got) != want {
			t.Fatalf("StoreKey: got %q, want the winner's %q", got, want)
		}
	})
	r.run("AddStoreKey/OK", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		s := e.store(a, "prod")
		e.create(s, "old", "v1")
		gen := e.storeGen(a, s)
		got, err := e.s.AddStoreKey(e.ctx, a.ID, s.ID, 2, []byte("wrapped-2"), e.ev("store.rotate-key"))
		noErr(t, "AddStoreKey", err)
		if got.KeyID != 2 || got.Gen != gen || got.Name != "prod" {
			t.Fatalf("AddStoreKey: got key %d gen %d name %q, want 2 %d prod", got.KeyID, got.Gen, got.Name, gen)
		}
		st, err := e.s.Store(e.ctx, a.ID, "prod")
		noErr(t, "Store", err)
		if st.KeyID != 2 {
			t.Fatalf("Store after AddStoreKey: got key %d, want 2", st.KeyID)
		}
		for id, want := range map[int]string{1: "wrapped-prod", 2: "wrapped-2"} {
			k, err := e.s.StoreKey(e.ctx, a.ID, s.ID, id)
			noErr(t, "StoreKey", err)
			if string(k) != want {
				t.Fatalf("StoreKey %d: got %q, want %q", id, k, want)
			}
		}
		_, err = e.s.AddStoreKey(e.ctx, a.ID, s.ID, 2, []byte("again"), e.ev("store.rotate-key"))
		wantCode(t, "AddStoreKey of the current key id", err, coffer.EPRECONDITION)
		_, err = e.s.AddStoreKey(e.ctx, a.ID, s.ID, 4, []byte("skip"), e.ev("store.rotate-key"))
		wantCode(t, "AddStoreKey skipping an id", err, coffer.EPRECONDITION)
		_, err = e.s.AddStoreKey(e.ctx, b.ID, s.ID, 3, []byte("x"), e.ev("store.rotate-key"))
		wantCode(t, "AddStoreKey from another account", err, coffer.ENOTFOUND)
		// The old version keeps its key id.
		_, v, err := e.s.ReadVersion(e.ctx, a.ID, s.ID, "old", 0)
		noErr(t, "ReadVersion", err)
		if v.KeyID != 1 {
			t.Fatalf("old version's key id: got %d, want 1", v.KeyID)
		}
	})
	r.run("ReencryptVersion/CAS", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		s := e.store(a, "prod")
		sec := e.create(s, "db", "v1")
		e.put(s, "db", "v2")
		_, err := e.s.AddStoreKey(e.ctx, a.ID, s.ID, 2, []byte("wrapped-2"), e.ev("store.rotate-key"))
		noErr(t, "AddStoreKey", err)
		gen := e.storeGen(a, s)
		old := []byte(ciphertext(sec.ID, 1, "v1"))
		ev := e.ev("secret.reencrypt")
		noErr(t, "ReencryptVersion", e.s.ReencryptVersion(e.ctx, a.ID, sec.ID, 1, old, []byte("resealed"), 2, ev))
		if ev.Outcome != "ok" || ev.StoreID != s.ID || ev.SecretID != sec.ID || ev.Version != 1 {
			t.Fatalf("event: got %q store %q secret %q version %d", ev.Outcome, ev.StoreID, ev.SecretID, ev.Version)
		}
		_, v, err := e.s.ReadVersion(e.ctx, a.ID, s.ID, "db", 1)
		noErr(t, "ReadVersion", err)
		if string(v.Ciphertext) != "resealed" || v.KeyID != 2 {
			t.Fatalf("version 1: got %q key %d, want resealed key 2", v.Ciphertext, v.KeyID)
		}
		if g := e.storeGen(a, s); g == gen {
			t.Fatalf("Gen after ReencryptVersion: got %d, want a change", g)
		}
		if got := e.value(s, "db", 2); got != ciphertext(sec.ID, 2, "v2") {
			t.Fatalf("version 2: got %q, want it untouched", got)
		}
		err = e.s.ReencryptVersion(e.ctx, a.ID, sec.ID, 1, old, []byte("again"), 2, e.ev("secret.reencrypt"))
		wantCode(t, "ReencryptVersion with stale ciphertext", err, coffer.EPRECONDITION)
		err = e.s.ReencryptVersion(e.ctx, a.ID, sec.ID, 9, old, []byte("again"), 2, e.ev("secret.reencrypt"))
		wantCode(t, "ReencryptVersion of a missing version", err, coffer.ENOTFOUND)
		err = e.s.ReencryptVersion(e.ctx, b.ID, sec.ID, 2, []byte(ciphertext(sec.ID, 2, "v2")), []byte("x"), 2, e.ev("secret.reencrypt"))
		wantCode(t, "ReencryptVersion from another account", err, coffer.ENOTFOUND)
		noErr(t, "DestroyVersion", e.s.DestroyVersion(e.ctx, a.ID, sec.ID, 2, e.now(), e.ev("secret.destroy")))
		err = e.s.ReencryptVersion(e.ctx, a.ID, sec.ID, 2, []byte(ciphertext(sec.ID, 2, "v2")), []byte("x"), 2, e.ev("secret.reencrypt"))
		wantCode(t, "ReencryptVersion of a destroyed version", err, coffer.EPRECONDITION)
	})
	r.run("SwapMeta/CAS", func(t *testing.T, e *env) {
		noErr(t, "SetMeta", e.s.SetMeta(e.ctx, "pepper", []byte("old")))
		noErr(t, "SwapMeta", e.s.SwapMeta(e.ctx, "pepper", []byte("old"), []byte("new")))
		got, err := e.s.Meta(e.ctx, "pepper")
		noErr(t, "Meta", err)
		if string(got) != "new" {
			t.Fatalf("Meta after SwapMeta: got %q, want %q", got, "new")
		}
		wantCode(t, "SwapMeta with a stale value", e.s.SwapMeta(e.ctx, "pepper", []byte("old"), []byte("x")), coffer.EPRECONDITION)
		wantCode(t, "SwapMeta of an unset key", e.s.SwapMeta(e.ctx, "unset", []byte("old"), []byte("x")), coffer.ENOTFOUND)
		got, _ = e.s.Meta(e.ctx, "pepper")
		if string(got) != "new" {
			t.Fatalf("Meta after refused swaps: got %q, want %q", got, "new")
		}
	})
}

// storeGen returns the store's current Gen.
func (e *env) storeGen(a *coffer.Account, s *coffer.Store) int64 {
	e.t.Helper()
	st, err := e.s.Store(e.ctx, a.ID, s.ID)
	if err != nil {
		e.t.Fatalf("Store: %v", err)
	}
	return st.Gen
}
