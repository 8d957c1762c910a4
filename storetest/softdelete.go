package storetest

import (
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// versionState returns the DeletedAt and DestroyedAt of every version of s,
// by number.
func (e *env) versionState(s *coffer.Secret) map[int]*coffer.Version {
	e.t.Helper()
	vs, err := e.s.Versions(e.ctx, s.AccountID, s.ID)
	noErr(e.t, "Versions", err)
	out := make(map[int]*coffer.Version, len(vs))
	for _, v := range vs {
		out[v.Number] = v
	}
	return out
}

// wantDeleted checks the DeletedAt of the versions of s: the numbers in
// want at their time, every other one not deleted.
func (e *env) wantDeleted(what string, s *coffer.Secret, want map[int]time.Time) {
	e.t.Helper()
	for n, v := range e.versionState(s) {
		at, ok := want[n]
		switch {
		case !ok && v.DeletedAt != nil:
			e.t.Fatalf("%s: version %d deleted at %v, want not deleted", what, n, v.DeletedAt)
		case ok && v.DeletedAt == nil:
			e.t.Fatalf("%s: version %d not deleted, want deleted at %v", what, n, at)
		case ok:
			sameTime(e.t, what+": DeletedAt", *v.DeletedAt, at)
		}
	}
}

func (e *env) gen(st *coffer.Store) int64 {
	e.t.Helper()
	got, err := e.s.Store(e.ctx, st.AccountID, st.ID)
	noErr(e.t, "Store", err)
	return got.Gen
}

func (r *runner) versionDeletes() {
	r.run("Version/SoftDelete", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		e.put(st, "db/password", "v2")
		e.put(st, "db/password", "v3")
		gen := e.gen(st)
		at := e.now()
		ev := e.ev("secret.version.delete")
		got, err := e.s.DeleteVersions(e.ctx, s.AccountID, s.ID, []int{1, 3, 9, 3}, at, ev)
		noErr(t, "DeleteVersions", err)
		if got.ID != s.ID || got.Version != 3 || got.Status != coffer.StatusActive {
			t.Fatalf("DeleteVersions: got %s v%d %s, want %s v3 active", got.ID, got.Version, got.Status, s.ID)
		}
		if ev.Outcome != "ok" || ev.SecretID != s.ID || ev.StoreID != st.ID || ev.AccountID != s.AccountID {
			t.Fatalf("event: got outcome %q secret %q store %q account %q, want ok %q %q %q",
				ev.Outcome, ev.SecretID, ev.StoreID, ev.AccountID, s.ID, st.ID, s.AccountID)
		}
		if g := e.gen(st); g == gen {
			t.Fatalf("store Gen: got %d after deleting versions, want a change", g)
		}
		e.wantDeleted("after delete", s, map[int]time.Time{1: at, 3: at})

		// A deleted version is still read, with its value and deletion
		// time: the caller refuses it.
		_, v, err := e.s.ReadVersion(e.ctx, s.AccountID, st.ID, "db/password", 0)
		noErr(t, "ReadVersion latest", err)
		if v.Number != 3 || v.DeletedAt == nil || string(v.Ciphertext) != ciphertext(s.ID, 3, "v3") {
			t.Fatalf("ReadVersion latest: got version %d deleted %v, want 3 deleted with its ciphertext", v.Number, v.DeletedAt)
		}
		sameTime(t, "ReadVersion DeletedAt", *v.DeletedAt, at)
		if _, v, err = e.s.ReadVersion(e.ctx, s.AccountID, st.ID, s.ID, 2); err != nil || v.DeletedAt != nil {
			t.Fatalf("ReadVersion(2): got %v, deleted %v; want version 2 not deleted", err, v.DeletedAt)
		}

		// Deleting again keeps the first time; undelete clears.
		_, err = e.s.DeleteVersions(e.ctx, s.AccountID, s.ID, []int{1, 2}, e.now(), e.ev("secret.version.delete"))
		noErr(t, "DeleteVersions again", err)
		at2 := e.versionState(s)[2].DeletedAt
		if at2 == nil {
			t.Fatal("version 2 not deleted")
		}
		e.wantDeleted("after second delete", s, map[int]time.Time{1: at, 2: *at2, 3: at})
		gen = e.gen(st)
		ev = e.ev("secret.version.undelete")
		_, err = e.s.UndeleteVersions(e.ctx, s.AccountID, s.ID, []int{3, 1, 7}, e.now(), ev)
		noErr(t, "UndeleteVersions", err)
		if ev.Outcome != "ok" || ev.SecretID != s.ID {
			t.Fatalf("undelete event: got outcome %q secret %q, want ok %q", ev.Outcome, ev.SecretID, s.ID)
		}
		if g := e.gen(st); g == gen {
			t.Fatalf("store Gen: got %d after undeleting versions, want a change", g)
		}
		e.wantDeleted("after undelete", s, map[int]time.Time{2: *at2})
		if got, want := e.value(st, "db/password", 0), ciphertext(s.ID, 3, "v3"); got != want {
			t.Fatalf("latest after undelete: got %q, want %q", got, want)
		}
	})
	r.run("Version/SoftDeleteDestroyed", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		e.put(st, "db/password", "v2")
		noErr(t, "DestroyVersion", e.s.DestroyVersion(e.ctx, s.AccountID, s.ID, 1, e.now(), e.ev("version.destroy")))
		_, err := e.s.DeleteVersions(e.ctx, s.AccountID, s.ID, []int{1}, e.now(), e.ev("secret.version.delete"))
		noErr(t, "DeleteVersions of a destroyed version", err)
		e.wantDeleted("a destroyed version", s, nil)
		// Deleted, then destroyed: undelete leaves it as it is.
		at := e.now()
		_, err = e.s.DeleteVersions(e.ctx, s.AccountID, s.ID, []int{2}, at, e.ev("secret.version.delete"))
		noErr(t, "DeleteVersions", err)
		noErr(t, "DestroyVersion", e.s.DestroyVersion(e.ctx, s.AccountID, s.ID, 2, e.now(), e.ev("version.destroy")))
		_, err = e.s.UndeleteVersions(e.ctx, s.AccountID, s.ID, []int{2}, e.now(), e.ev("secret.version.undelete"))
		noErr(t, "UndeleteVersions of a destroyed version", err)
		e.wantDeleted("a deleted, then destroyed version", s, map[int]time.Time{2: at})
		if v := e.versionState(s)[2]; v.DestroyedAt == nil {
			t.Fatal("version 2: got not destroyed, want destroyed")
		}
	})
	r.run("Version/SoftDeleteScheduled", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		later := e.now().Add(time.Hour)
		w := &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: "db/password", Seal: seal("v2"),
			By: "p-writer", At: e.now(), DeleteAt: &later}
		_, err := e.s.WriteSecret(e.ctx, w, e.ev("secret.write"))
		noErr(t, "WriteSecret with DeleteAt", err)
		e.wantDeleted("scheduled", s, map[int]time.Time{2: later})
		_, v, err := e.s.ReadVersion(e.ctx, s.AccountID, st.ID, "db/password", 0)
		noErr(t, "ReadVersion", err)
		if v.DeletedAt == nil || !v.DeletedAt.Equal(later) {
			t.Fatalf("ReadVersion: got DeletedAt %v, want %v", v.DeletedAt, later)
		}
		// An undelete clears a scheduled deletion; a delete before it
		// deletes now.
		_, err = e.s.UndeleteVersions(e.ctx, s.AccountID, s.ID, []int{2}, e.now(), e.ev("secret.version.undelete"))
		noErr(t, "UndeleteVersions", err)
		e.wantDeleted("unscheduled", s, nil)
		w.At, w.DeleteAt = e.now(), &later
		_, err = e.s.WriteSecret(e.ctx, w, e.ev("secret.write"))
		noErr(t, "WriteSecret with DeleteAt", err)
		at := e.now()
		_, err = e.s.DeleteVersions(e.ctx, s.AccountID, s.ID, []int{3}, at, e.ev("secret.version.delete"))
		noErr(t, "DeleteVersions", err)
		e.wantDeleted("deleted before its time", s, map[int]time.Time{3: at})
	})
	r.run("Version/SoftDeleteErr", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		st := e.store(a, "prod")
		s := e.create(st, "db/password", "v1")
		gone := e.delete(e.create(st, "gone", "v1"))
		for _, c := range []struct {
			what, account, secret string
			ns                    []int
			code                  string
		}{
			{"a missing secret", a.ID, coffer.NewID(), []int{1}, coffer.ENOTFOUND},
			{"another account's secret", b.ID, s.ID, []int{1}, coffer.ENOTFOUND},
			{"a deleted secret", a.ID, gone.ID, []int{1}, coffer.ENOTFOUND},
			{"no versions", a.ID, s.ID, nil, coffer.EINVALID},
			{"version 0", a.ID, s.ID, []int{1, 0}, coffer.EINVALID},
			{"too many versions", a.ID, s.ID, make([]int, coffer.MaxVersionNumbers+1), coffer.EINVALID},
		} {
			for _, del := range []bool{true, false} {
				ev := e.ev("secret.version.delete")
				var err error
				if del {
					_, err = e.s.DeleteVersions(e.ctx, c.account, c.secret, c.ns, e.now(), ev)
				} else {
					_, err = e.s.UndeleteVersions(e.ctx, c.account, c.secret, c.ns, e.now(), ev)
				}
				wantCode(t, c.what, err, c.code)
				if ev.Outcome != c.code {
					t.Fatalf("%s: got event outcome %q, want %q", c.what, ev.Outcome, c.code)
				}
			}
		}
		e.wantDeleted("after refusals", s, nil)
	})
	r.run("Version/KeepVersions", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		e.put(st, "db/password", "v2")
		e.put(st, "db/password", "v3")
		first := e.now()
		noErr(t, "DestroyVersion", e.s.DestroyVersion(e.ctx, s.AccountID, s.ID, 1, first, e.ev("version.destroy")))
		at := e.now()
		w := &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: "db/password", Seal: seal("v4"),
			By: "p-writer", At: at, KeepVersions: 2}
		got, err := e.s.WriteSecret(e.ctx, w, e.ev("secret.write"))
		noErr(t, "WriteSecret with KeepVersions", err)
		if got.Version != 4 {
			t.Fatalf("version: got %d, want 4", got.Version)
		}
		vs := e.versionState(s)
		for n, want := range map[int]*time.Time{1: &first, 2: &at, 3: nil, 4: nil} {
			v := vs[n]
			switch {
			case want == nil && v.DestroyedAt != nil:
				t.Fatalf("version %d: got destroyed, want kept", n)
			case want != nil && v.DestroyedAt == nil:
				t.Fatalf("version %d: got kept, want destroyed", n)
			case want != nil:
				sameTime(t, "DestroyedAt", *v.DestroyedAt, *want)
			}
		}
		_, _, err = e.s.ReadVersion(e.ctx, s.AccountID, st.ID, s.ID, 2)
		wantCode(t, "ReadVersion of a version beyond KeepVersions", err, coffer.ENOTFOUND)
		if got, want := e.value(st, s.ID, 3), ciphertext(s.ID, 3, "v3"); got != want {
			t.Fatalf("version 3: got %q, want %q", got, want)
		}

		// In a batch, too, and KeepVersions larger than the history
		// destroys nothing.
		other := e.create(st, "other", "o1")
		b := &coffer.SecretBatch{AccountID: st.AccountID, StoreID: st.ID, Items: []coffer.SecretBatchItem{
			{Write: &coffer.SecretWrite{Name: "db/password", Seal: seal("v5"), By: "p-writer", At: e.now(), KeepVersions: 1},
				Event: e.ev("secret.write")},
			{Write: &coffer.SecretWrite{Name: "other", Seal: seal("o2"), By: "p-writer", At: e.now(), KeepVersions: 5},
				Event: e.ev("secret.write")},
		}}
		_, err = e.s.WriteSecrets(e.ctx, b)
		noErr(t, "WriteSecrets with KeepVersions", err)
		for n, v := range e.versionState(s) {
			if (v.DestroyedAt == nil) != (n == 5) {
				t.Fatalf("batch: version %d destroyed %v, want only version 5 kept", n, v.DestroyedAt)
			}
		}
		for n, v := range e.versionState(other) {
			if v.DestroyedAt != nil {
				t.Fatalf("batch: version %d of other destroyed, want kept", n)
			}
		}
	})
}
