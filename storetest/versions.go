package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer"
)

func (r *runner) versions() {
	r.run("Version/ConcurrentWriters", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.createPending(st, "db/password")
		const writers, writes = 32, 10
		got := make([][]int, writers)
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				for j := range writes {
					w, err := e.write(st, "db/password", fmt.Sprintf("w%d-%d", i, j), 0)
					if err != nil {
						errs[i] = err
						return
					}
					got[i] = append(got[i], w.Version)
				}
			})
		}
		wg.Wait()
		seen := make(map[int]bool)
		for i := range writers {
			noErr(t, fmt.Sprintf("writer %d", i), errs[i])
			for _, n := range got[i] {
				if seen[n] {
					t.Fatalf("version %d: assigned twice", n)
				}
				seen[n] = true
			}
		}
		const total = writers * writes
		for n := 1; n <= total; n++ {
			if !seen[n] {
				t.Fatalf("version %d: never assigned (got %d versions)", n, len(seen))
			}
		}
		if len(seen) != total {
			t.Fatalf("versions: got %d, want %d", len(seen), total)
		}
		vs, err := e.s.Versions(e.ctx, st.AccountID, s.ID)
		noErr(t, "Versions", err)
		if len(vs) != total {
			t.Fatalf("Versions: got %d, want %d", len(vs), total)
		}
		for i, v := range vs {
			if want := total - i; v.Number != want {
				t.Fatalf("Versions[%d]: got number %d, want %d (newest first)", i, v.Number, want)
			}
		}
		if got := e.secret(s, s.ID); got.Version != total {
			t.Fatalf("Version: got %d, want %d", got.Version, total)
		}
		_, v, err := e.s.ReadVersion(e.ctx, st.AccountID, st.ID, "db/password", 0)
		noErr(t, "ReadVersion", err)
		if v.Number != total {
			t.Fatalf("latest: got version %d, want %d", v.Number, total)
		}
	})
	r.run("Version/Read", func(t *testing.T, e *env) {
		a := e.account()
		st := e.store(a, "prod")
		s := e.create(st, "db/password", "v1")
		e.put(st, "db/password", "v2")
		e.put(st, "db/password", "v3")
		for _, c := range []struct {
			store, ref string
			n, want    int
		}{
			{st.ID, "db/password", 0, 3},
			{st.ID, "db/password", 2, 2},
			{"prod", "db/password", 1, 1},
			{"prod", s.ID, 0, 3},
			{st.ID, s.ID, 3, 3},
		} {
			got, v, err := e.s.ReadVersion(e.ctx, a.ID, c.store, c.ref, c.n)
			noErr(t, fmt.Sprintf("ReadVersion(%q, %q, %d)", c.store, c.ref, c.n), err)
			if got.ID != s.ID || got.Version != 3 || v.Number != c.want || v.SecretID != s.ID {
				t.Fatalf("ReadVersion(%q, %q, %d): got secret %s v%d, version %d of %s, want %s v3, version %d",
					c.store, c.ref, c.n, got.ID, got.Version, v.Number, v.SecretID, s.ID, c.want)
			}
			if want := ciphertext(s.ID, c.want, fmt.Sprint("v", c.want)); string(v.Ciphertext) != want {
				t.Fatalf("ReadVersion(%q, %q, %d): got ciphertext %q, want %q", c.store, c.ref, c.n, v.Ciphertext, want)
			}
		}
	})
	r.run("Version/ReadErrNotFound", func(t *testing.T, e *env) {
		a := e.account()
		st, other := e.store(a, "prod"), e.store(a, "dev")
		s := e.create(st, "db/password", "v1")
		e.createPending(st, "pending")
		gone := e.delete(e.create(st, "gone", "v1"))
		for _, c := range []struct {
			what, store, ref string
			n                int
		}{
			{"a missing store", coffer.NewID(), "db/password", 0},
			{"a missing store name", "staging", "db/password", 0},
			{"a missing secret", st.ID, "nope", 0},
			{"a missing version", st.ID, "db/password", 2},
			{"a negative version", st.ID, "db/password", -1},
			{"a secret of another store", other.ID, "db/password", 0},
			{"a secret id of another store", "dev", s.ID, 1},
			{"a pending secret", st.ID, "pending", 0},
			{"a deleted secret by name", st.ID, "gone", 0},
			{"a deleted secret by id", st.ID, gone.ID, 1},
		} {
			_, _, err := e.s.ReadVersion(e.ctx, a.ID, c.store, c.ref, c.n)
			wantCode(t, "ReadVersion of "+c.what, err, coffer.ENOTFOUND)
		}
	})
	r.run("Version/List", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		w := &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: "db/password", Seal: seal("v2"), By: "p-two", At: e.now()}
		_, err := e.s.WriteSecret(e.ctx, w, e.ev("secret.write"))
		noErr(t, "WriteSecret", err)
		vs, err := e.s.Versions(e.ctx, st.AccountID, s.ID)
		noErr(t, "Versions", err)
		if len(vs) != 2 {
			t.Fatalf("Versions: got %d, want 2", len(vs))
		}
		for i, want := range []struct {
			n  int
			by string
		}{{2, "p-two"}, {1, "p-writer"}} {
			v := vs[i]
			if v.Number != want.n || v.CreatedBy != want.by || v.KeyID != 1 || v.SecretID != s.ID || v.DestroyedAt != nil {
				t.Fatalf("Versions[%d]: got %+v, want number %d by %s", i, v, want.n, want.by)
			}
			if v.Ciphertext != nil {
				t.Fatalf("Versions[%d]: got ciphertext, want none", i)
			}
		}
		sameTime(t, "Versions[0].CreatedAt", vs[0].CreatedAt, w.At)
		sameTime(t, "Versions[1].CreatedAt", vs[1].CreatedAt, s.CreatedAt)
	})
	r.run("Version/Destroy", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		e.put(st, "db/password", "v2")
		at := e.now()
		ev := e.ev("version.destroy")
		noErr(t, "DestroyVersion", e.s.DestroyVersion(e.ctx, s.AccountID, s.ID, 1, at, ev))
		if ev.Outcome != "ok" || ev.SecretID != s.ID || ev.Version != 1 {
			t.Fatalf("event: got outcome %q secret %q version %d, want ok %q 1", ev.Outcome, ev.SecretID, ev.Version, s.ID)
		}
		_, _, err := e.s.ReadVersion(e.ctx, s.AccountID, st.ID, "db/password", 1)
		wantCode(t, "ReadVersion of a destroyed version", err, coffer.ENOTFOUND)
		if got, want := e.value(st, "db/password", 0), ciphertext(s.ID, 2, "v2"); got != want {
			t.Fatalf("latest after destroying version 1: got %q, want %q", got, want)
		}
		vs, err := e.s.Versions(e.ctx, s.AccountID, s.ID)
		noErr(t, "Versions", err)
		if len(vs) != 2 || vs[1].Number != 1 || vs[1].DestroyedAt == nil || vs[0].DestroyedAt != nil {
			t.Fatalf("Versions after destroy: got %d versions, want 2 with only version 1 destroyed", len(vs))
		}
		sameTime(t, "DestroyedAt", *vs[1].DestroyedAt, at)

		// Destroying the latest keeps its number: the next write is 3.
		noErr(t, "DestroyVersion(2)", e.s.DestroyVersion(e.ctx, s.AccountID, s.ID, 2, e.now(), e.ev("version.destroy")))
		_, _, err = e.s.ReadVersion(e.ctx, s.AccountID, st.ID, "db/password", 0)
		wantCode(t, "ReadVersion latest when it is destroyed", err, coffer.ENOTFOUND)
		if got := e.put(st, "db/password", "v3"); got.Version != 3 {
			t.Fatalf("write after destroy: got version %d, want 3", got.Version)
		}
		if got, want := e.value(st, "db/password", 0), ciphertext(s.ID, 3, "v3"); got != want {
			t.Fatalf("latest: got %q, want %q", got, want)
		}
	})
	r.run("Version/NumbersNeverRepeat", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		e.put(st, "db/password", "v2")
		e.delete(s)
		_, err := e.setStatus(s, coffer.StatusActive)
		noErr(t, "undelete", err)
		if got := e.put(st, "db/password", "v3"); got.Version != 3 || got.ID != s.ID {
			t.Fatalf("write after undelete: got %s v%d, want %s v3", got.ID, got.Version, s.ID)
		}
	})
	r.run("Version/DestroyErrNotFound", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		st := e.store(a, "prod")
		s := e.create(st, "db/password", "v1")
		for _, c := range []struct {
			what, account, secret string
			n                     int
		}{
			{"a missing version", a.ID, s.ID, 2},
			{"version 0", a.ID, s.ID, 0},
			{"a missing secret", a.ID, coffer.NewID(), 1},
			{"another account's secret", b.ID, s.ID, 1},
		} {
			ev := e.ev("version.destroy")
			wantCode(t, "DestroyVersion of "+c.what, e.s.DestroyVersion(e.ctx, c.account, c.secret, c.n, e.now(), ev), coffer.ENOTFOUND)
			if ev.Outcome != coffer.ENOTFOUND {
				t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.ENOTFOUND)
			}
		}
		if got, want := e.value(st, "db/password", 1), ciphertext(s.ID, 1, "v1"); got != want {
			t.Fatalf("version 1: got %q, want %q", got, want)
		}
	})
}
