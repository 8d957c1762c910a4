package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/coffer-dev/coffer"
)

func (r *runner) stores() {
	r.run("Store/OK", func(t *testing.T, e *env) {
		a := e.account()
		s := e.store(a, "prod")
		for _, ref := range []string{s.ID, "prod"} {
			got, err := e.s.Store(e.ctx, a.ID, ref)
			noErr(t, "Store("+ref+")", err)
			if got.ID != s.ID || got.AccountID != a.ID || got.Name != "prod" || got.Comment != "store prod" || got.KeyID != 1 {
				t.Fatalf("Store(%q): got %+v, want %+v", ref, got, s)
			}
			sameTime(t, "CreatedAt", got.CreatedAt, s.CreatedAt)
			sameTime(t, "UpdatedAt", got.UpdatedAt, s.UpdatedAt)
		}
		_, err := e.s.Store(e.ctx, a.ID, "staging")
		wantCode(t, "Store of a missing name", err, coffer.ENOTFOUND)
		_, err = e.s.Store(e.ctx, a.ID, coffer.NewID())
		wantCode(t, "Store of a missing id", err, coffer.ENOTFOUND)
	})
	r.run("Store/Attributes", func(t *testing.T, e *env) {
		a := e.account()
		at := e.now()
		s := &coffer.Store{ID: coffer.NewID(), AccountID: a.ID, Name: "tagged", KeyID: 1, CreatedAt: at, UpdatedAt: at,
			Attributes: map[string]string{"integration": "coffer", "created_by": "p1"}}
		noErr(t, "CreateStore", e.s.CreateStore(e.ctx, s, []byte("wrapped"), e.ev("store.create")))
		plain := e.store(a, "plain")
		for _, ref := range []string{s.ID, "tagged"} {
			got, err := e.s.Store(e.ctx, a.ID, ref)
			noErr(t, "Store("+ref+")", err)
			if len(got.Attributes) != 2 || got.Attributes["integration"] != "coffer" || got.Attributes["created_by"] != "p1" {
				t.Fatalf("Store(%q).Attributes: got %v, want %v", ref, got.Attributes, s.Attributes)
			}
			got.Attributes["integration"] = "changed" // a copy: the next read is unchanged
		}
		if got, err := e.s.Store(e.ctx, a.ID, s.ID); err != nil || got.Attributes["integration"] != "coffer" {
			t.Fatalf("Store after changing a returned copy: got %v, %v; want integration coffer", got, err)
		}
		list, err := e.s.Stores(e.ctx, a.ID, "", 10)
		noErr(t, "Stores", err)
		if len(list) != 2 || list[0].ID != plain.ID || len(list[0].Attributes) != 0 || list[1].Attributes["created_by"] != "p1" {
			t.Fatalf("Stores: got %+v, want plain without and tagged with attributes", list)
		}
	})
	r.run("Store/Update", func(t *testing.T, e *env) {
		a, other := e.account(), e.account()
		s := e.store(a, "prod")
		sec := e.create(s, "db/password", "v1")
		before, err := e.s.Store(e.ctx, a.ID, s.ID)
		noErr(t, "Store", err)
		at := e.now()
		ev := e.ev("store.update")
		got, err := e.s.UpdateStore(e.ctx, a.ID, s.ID, &coffer.StoreUpdate{Attributes: map[string]string{"k": "v"}, At: at}, ev)
		noErr(t, "UpdateStore(attributes)", err)
		if got.Comment != "store prod" || len(got.Attributes) != 1 || got.Attributes["k"] != "v" || got.Name != "prod" || got.Gen != before.Gen {
			t.Fatalf("UpdateStore(attributes): got %+v, want the comment kept, attributes k=v, Gen %d", got, before.Gen)
		}
		sameTime(t, "UpdatedAt", got.UpdatedAt, at)
		sameTime(t, "CreatedAt", got.CreatedAt, s.CreatedAt)
		if ev.Outcome != "ok" || ev.StoreID != s.ID || ev.AccountID != a.ID || ev.Seq == 0 {
			t.Fatalf("event: got %+v, want ok for store %s", ev, s.ID)
		}
		got.Attributes["k"] = "changed" // a copy
		_, err = e.s.UpdateStore(e.ctx, a.ID, s.ID, &coffer.StoreUpdate{Comment: ptr("new"), At: e.now()}, e.ev("store.update"))
		noErr(t, "UpdateStore(comment)", err)
		for _, ref := range []string{s.ID, "prod"} {
			got, err := e.s.Store(e.ctx, a.ID, ref)
			noErr(t, "Store("+ref+")", err)
			if got.Comment != "new" || got.Attributes["k"] != "v" || len(got.Attributes) != 1 {
				t.Fatalf("Store(%q) after updates: got %+v, want comment new and attributes k=v", ref, got)
			}
		}
		list, err := e.s.Stores(e.ctx, a.ID, "", 10)
		noErr(t, "Stores", err)
		if len(list) != 1 || list[0].Comment != "new" || list[0].Attributes["k"] != "v" {
			t.Fatalf("Stores after updates: got %+v", list)
		}
		if got, want := e.value(s, sec.ID, 0), ciphertext(sec.ID, 1, "v1"); got != want {
			t.Fatalf("value after store update: got %q, want %q", got, want)
		}
		_, err = e.s.UpdateStore(e.ctx, other.ID, s.ID, &coffer.StoreUpdate{Comment: ptr("x"), At: e.now()}, e.ev("store.update"))
		wantCode(t, "UpdateStore from another account", err, coffer.ENOTFOUND)
		_, err = e.s.UpdateStore(e.ctx, a.ID, coffer.NewID(), &coffer.StoreUpdate{Comment: ptr("x"), At: e.now()}, e.ev("store.update"))
		wantCode(t, "UpdateStore of a missing store", err, coffer.ENOTFOUND)
	})
	r.run("Store/Gen", func(t *testing.T, e *env) {
		a := e.account()
		st, other := e.store(a, "prod"), e.store(a, "dev")
		gen := func() int64 {
			t.Helper()
			byID, err := e.s.Store(e.ctx, a.ID, st.ID)
			noErr(t, "Store(id)", err)
			byName, err := e.s.Store(e.ctx, a.ID, st.Name)
			noErr(t, "Store(name)", err)
			if byID.Gen != byName.Gen {
				t.Fatalf("Gen: got %d by id and %d by name, want the same", byID.Gen, byName.Gen)
			}
			return byID.Gen
		}
		var s *coffer.Secret
		seen := map[int64]bool{gen(): true}
		for _, step := range []struct {
			what   string
			change bool
			do     func()
		}{
			{"create", true, func() { s = e.create(st, "db/password", "v1") }},
			{"create pending", true, func() { e.createPending(st, "api/token") }},
			{"new version", true, func() { e.put(st, "db/password", "v2") }},
			{"read", false, func() { e.value(st, "db/password", 0) }},
			{"refused write", false, func() {
				_, err := e.write(st, "db/password", "v3", 1)
				wantCode(t, "stale write", err, coffer.EPRECONDITION)
			}},
			{"metadata update", true, func() {
				_, err := e.s.UpdateSecret(e.ctx, a.ID, s.ID, &coffer.SecretUpdate{Comment: ptr("x"), At: e.now()}, e.ev("secret.update"))
				noErr(t, "UpdateSecret", err)
			}},
			{"store update", false, func() {
				_, err := e.s.UpdateStore(e.ctx, a.ID, st.ID, &coffer.StoreUpdate{Comment: ptr("c"), At: e.now()}, e.ev("store.update"))
				noErr(t, "UpdateStore", err)
			}},
			{"write to another store", false, func() { e.create(other, "db/password", "v1") }},
			{"audit event", false, func() { noErr(t, "Audit", e.s.Audit(e.ctx, e.ev("secret.reveal"))) }},
			{"destroy version", true, func() {
				noErr(t, "DestroyVersion", e.s.DestroyVersion(e.ctx, a.ID, s.ID, 1, e.now(), e.ev("version.destroy")))
			}},
			{"soft delete", true, func() { e.delete(s) }},
			{"undelete", true, func() {
				_, err := e.setStatus(s, coffer.StatusActive)
				noErr(t, "undelete", err)
			}},
			{"delete again", true, func() { e.delete(s) }},
			{"purge", true, func() { noErr(t, "PurgeSecret", e.s.PurgeSecret(e.ctx, a.ID, s.ID, e.ev("secret.purge"))) }},
		} {
			before := gen()
			step.do()
			after := gen()
			switch {
			case step.change && after == before:
				t.Fatalf("%s: Gen stayed %d, want a change", step.what, after)
			case !step.change && after != before:
				t.Fatalf("%s: Gen went from %d to %d, want no change", step.what, before, after)
			case step.change && seen[after]:
				t.Fatalf("%s: Gen went back to %d, want a value it never had", step.what, after)
			}
			seen[after] = true
		}
	})
	r.run("Store/ErrConflictName", func(t *testing.T, e *env) {
		a := e.account()
		s := e.store(a, "prod")
		dup := &coffer.Store{ID: coffer.NewID(), AccountID: a.ID, Name: "prod", KeyID: 1, CreatedAt: e.now(), UpdatedAt: e.now()}
		ev := e.ev("store.create")
		wantCode(t, "CreateStore of a taken name", e.s.CreateStore(e.ctx, dup, []byte("k"), ev), coffer.ECONFLICT)
		if ev.Outcome != coffer.ECONFLICT {
			t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.ECONFLICT)
		}
		got, err := e.s.Store(e.ctx, a.ID, "prod")
		noErr(t, "Store", err)
		if got.ID != s.ID {
			t.Fatalf("Store(prod): got id %s, want %s", got.ID, s.ID)
		}
		_, err = e.s.Store(e.ctx, a.ID, dup.ID)
		wantCode(t, "Store of the refused store", err, coffer.ENOTFOUND)
	})
	r.run("Store/SameNameOtherAccount", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		sa, sb := e.store(a, "prod"), e.store(b, "prod")
		for _, c := range []struct {
			acct, want string
		}{{a.ID, sa.ID}, {b.ID, sb.ID}} {
			got, err := e.s.Store(e.ctx, c.acct, "prod")
			noErr(t, "Store", err)
			if got.ID != c.want {
				t.Fatalf("Store(prod) of account %s: got %s, want %s", c.acct, got.ID, c.want)
			}
		}
	})
	r.run("Store/ErrNotFoundOtherAccount", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		s := e.store(a, "prod")
		for _, ref := range []string{s.ID, "prod"} {
			_, err := e.s.Store(e.ctx, b.ID, ref)
			wantCode(t, "Store("+ref+") from another account", err, coffer.ENOTFOUND)
		}
	})
	r.run("Store/List", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		var want []string
		for _, name := range []string{"c", "a", "e", "b", "d"} {
			e.store(a, name)
		}
		e.store(b, "bb")
		want = []string{"a", "b", "c", "d", "e"}
		var got []string
		after := ""
		for range 10 {
			page, err := e.s.Stores(e.ctx, a.ID, after, 2)
			noErr(t, "Stores", err)
			if len(page) > 2 {
				t.Fatalf("Stores(limit 2): got %d stores", len(page))
			}
			if len(page) == 0 {
				break
			}
			for _, s := range page {
				got = append(got, s.Name)
			}
			after = page[len(page)-1].Name
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Stores pages: got %v, want %v", got, want)
		}
	})
	r.run("Store/Key", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		s := e.store(a, "prod")
		got, err := e.s.StoreKey(e.ctx, a.ID, s.ID, 1)
		noErr(t, "StoreKey", err)
		if string(got) != "wrapped-prod" {
			t.Fatalf("StoreKey: got %q, want %q", got, "wrapped-prod")
		}
		_, err = e.s.StoreKey(e.ctx, a.ID, s.ID, 2)
		wantCode(t, "StoreKey of a missing key id", err, coffer.ENOTFOUND)
		_, err = e.s.StoreKey(e.ctx, b.ID, s.ID, 1)
		wantCode(t, "StoreKey from another account", err, coffer.ENOTFOUND)
	})
	r.run("Store/Delete", func(t *testing.T, e *env) {
		a := e.account()
		s := e.store(a, "prod")
		ev := e.ev("store.delete")
		noErr(t, "DeleteStore", e.s.DeleteStore(e.ctx, a.ID, s.ID, false, ev))
		if ev.Outcome != "ok" {
			t.Fatalf("event outcome: got %q, want ok", ev.Outcome)
		}
		_, err := e.s.Store(e.ctx, a.ID, s.ID)
		wantCode(t, "Store after delete", err, coffer.ENOTFOUND)
		_, err = e.s.StoreKey(e.ctx, a.ID, s.ID, 1)
		wantCode(t, "StoreKey after delete", err, coffer.ENOTFOUND)
		wantCode(t, "DeleteStore twice", e.s.DeleteStore(e.ctx, a.ID, s.ID, false, e.ev("store.delete")), coffer.ENOTFOUND)
		e.store(a, "prod") // the name is free again
	})
	r.run("Store/DeleteErrConflictLiveSecrets", func(t *testing.T, e *env) {
		for _, pending := range []bool{false, true} {
			t.Run(fmt.Sprintf("pending=%v", pending), func(t *testing.T) {
				a := e.account()
				st := e.store(a, "prod")
				var s *coffer.Secret
				if pending {
					s = e.createPending(st, "db/password")
				} else {
					s = e.create(st, "db/password", "v1")
				}
				ev := e.ev("store.delete")
				wantCode(t, "DeleteStore", e.s.DeleteStore(e.ctx, a.ID, st.ID, false, ev), coffer.ECONFLICT)
				if ev.Outcome != coffer.ECONFLICT {
					t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.ECONFLICT)
				}
				_, err := e.s.Store(e.ctx, a.ID, st.ID)
				noErr(t, "Store after refused delete", err)
				checkSecret(t, "Secret after refused delete", e.secret(s, s.ID), s)
			})
		}
	})
	r.run("Store/DeleteWithOnlyDeletedSecrets", func(t *testing.T, e *env) {
		a := e.account()
		st := e.store(a, "prod")
		s := e.delete(e.create(st, "db/password", "v1"))
		noErr(t, "DeleteStore", e.s.DeleteStore(e.ctx, a.ID, st.ID, false, e.ev("store.delete")))
		_, err := e.s.Secret(e.ctx, a.ID, st.ID, s.ID)
		wantCode(t, "Secret after store delete", err, coffer.ENOTFOUND)
	})
	r.run("Store/DeleteForce", func(t *testing.T, e *env) {
		a := e.account()
		st := e.store(a, "prod")
		s1 := e.create(st, "db/password", "v1")
		e.put(st, "db/password", "v2")
		s2 := e.createPending(st, "api/token")
		s3 := e.delete(e.create(st, "old", "v1"))
		noErr(t, "DeleteStore(force)", e.s.DeleteStore(e.ctx, a.ID, st.ID, true, e.ev("store.delete")))
		for _, s := range []*coffer.Secret{s1, s2, s3} {
			_, err := e.s.Secret(e.ctx, a.ID, st.ID, s.ID)
			wantCode(t, "Secret "+s.Name+" after force delete", err, coffer.ENOTFOUND)
			vs, err := e.s.Versions(e.ctx, a.ID, s.ID)
			if len(vs) != 0 || (err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND) {
				t.Fatalf("Versions of %s after force delete: got %d versions and %v, want none", s.Name, len(vs), err)
			}
		}
		_, _, err := e.s.ReadVersion(e.ctx, a.ID, st.ID, s1.ID, 1)
		wantCode(t, "ReadVersion after force delete", err, coffer.ENOTFOUND)
		_, err = e.s.StoreKey(e.ctx, a.ID, st.ID, 1)
		wantCode(t, "StoreKey after force delete", err, coffer.ENOTFOUND)

		// A new store of the same name starts empty.
		st2 := e.store(a, "prod")
		got, err := e.s.Secrets(e.ctx, a.ID, st2.ID, coffer.SecretQuery{IncludeDeleted: true})
		noErr(t, "Secrets of the new store", err)
		if len(got) != 0 {
			t.Fatalf("Secrets of the new store: got %v, want none", ids(got))
		}
	})
	r.run("Store/DeleteErrNotFoundOtherAccount", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		st := e.store(a, "prod")
		wantCode(t, "DeleteStore from another account", e.s.DeleteStore(e.ctx, b.ID, st.ID, true, e.ev("store.delete")), coffer.ENOTFOUND)
		_, err := e.s.Store(e.ctx, a.ID, st.ID)
		noErr(t, "Store", err)
	})
}
