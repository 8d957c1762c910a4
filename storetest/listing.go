package storetest

import (
	"cmp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

func (r *runner) secretOrders() {
	r.run("Secrets/Orders", func(t *testing.T, e *env) {
		a := e.account()
		st, other := e.store(a, "prod"), e.store(a, "dev")
		e.create(other, "elsewhere", "v")
		var all []*coffer.Secret
		for _, name := range []string{"m", "b", "z", "a/2", "a/1", "k"} {
			all = append(all, e.create(st, name, "v"))
		}
		// Two secrets created at the same time tie on it: name decides.
		at := e.now()
		for _, name := range []string{"tie/b", "tie/a"} {
			w := e.newSecret(st, name, seal("v"))
			w.At = at
			s, err := e.s.WriteSecret(e.ctx, w, e.ev("secret.create"))
			noErr(t, "WriteSecret", err)
			all = append(all, s)
		}
		// Updates reorder by UpdatedAt.
		for i, s := range all {
			if s.Name == "b" || s.Name == "m" {
				all[i] = e.put(st, s.Name, "v2")
			}
		}
		gone := e.delete(e.create(st, "gone", "v"))
		byName := func(x, y *coffer.Secret) int {
			return cmp.Or(strings.Compare(x.Name, y.Name), strings.Compare(x.ID, y.ID))
		}
		by := func(f func(*coffer.Secret) time.Time, desc bool) func(x, y *coffer.Secret) int {
			return func(x, y *coffer.Secret) int {
				c := f(x).Compare(f(y))
				if desc {
					c = -c
				}
				return cmp.Or(c, byName(x, y))
			}
		}
		created := func(s *coffer.Secret) time.Time { return s.CreatedAt }
		updated := func(s *coffer.Secret) time.Time { return s.UpdatedAt }
		sorted := func(list []*coffer.Secret, f func(x, y *coffer.Secret) int) []*coffer.Secret {
			out := slices.Clone(list)
			slices.SortFunc(out, f)
			return out
		}
		withGone := append(slices.Clone(all), gone)
		for _, c := range []struct {
			what string
			q    coffer.SecretQuery
			want []*coffer.Secret
		}{
			{"name desc", coffer.SecretQuery{Desc: true}, sorted(all, func(x, y *coffer.Secret) int { return byName(y, x) })},
			{"created", coffer.SecretQuery{Order: coffer.OrderCreated}, sorted(all, by(created, false))},
			{"created desc", coffer.SecretQuery{Order: coffer.OrderCreated, Desc: true}, sorted(all, by(created, true))},
			{"updated", coffer.SecretQuery{Order: coffer.OrderUpdated}, sorted(all, by(updated, false))},
			{"updated desc", coffer.SecretQuery{Order: coffer.OrderUpdated, Desc: true}, sorted(all, by(updated, true))},
			{"created with deleted", coffer.SecretQuery{Order: coffer.OrderCreated, IncludeDeleted: true}, sorted(withGone, by(created, false))},
		} {
			// Every page size pages to the whole listing by offset.
			for _, size := range []int{1, 3, 100} {
				var got []*coffer.Secret
				q := c.q
				q.Limit = size
				for q.Offset = 0; q.Offset < 100; q.Offset += size {
					page, err := e.s.Secrets(e.ctx, a.ID, st.ID, q)
					noErr(t, "Secrets", err)
					if len(page) > size {
						t.Fatalf("%s: got a page of %d, want at most %d", c.what, len(page), size)
					}
					if len(page) == 0 {
						break
					}
					got = append(got, page...)
				}
				if !slices.Equal(ids(got), ids(c.want)) {
					t.Fatalf("%s, pages of %d: got %q, want %q", c.what, size, names(got), names(c.want))
				}
			}
			c.q.AfterName, c.q.AfterID = "zz", "" // paging state does not change a count
			n, err := e.s.CountSecrets(e.ctx, a.ID, st.ID, c.q)
			noErr(t, "CountSecrets", err)
			if n != len(c.want) {
				t.Fatalf("%s: CountSecrets got %d, want %d", c.what, n, len(c.want))
			}
		}
		// A cursor pages by name downwards too.
		page, err := e.s.Secrets(e.ctx, a.ID, st.ID, coffer.SecretQuery{Desc: true, AfterName: "m", AfterID: "", Limit: 2})
		noErr(t, "Secrets after m, desc", err)
		if got, want := names(page), []string{"k", "b"}; !slices.Equal(got, want) {
			t.Fatalf("Secrets after m, desc: got %q, want %q", got, want)
		}
	})
	r.run("Secrets/Contains", func(t *testing.T, e *env) {
		a := e.account()
		st := e.store(a, "prod")
		for _, name := range []string{"db/password", "DB/user", "api/db", "api/token", "x%y", "x_y"} {
			e.create(st, name, "v")
		}
		e.delete(e.create(st, "old/db", "v"))
		for _, c := range []struct {
			q    coffer.SecretQuery
			want []string
		}{
			{coffer.SecretQuery{Contains: "db"}, []string{"api/db", "db/password"}},
			{coffer.SecretQuery{Contains: "db", IncludeDeleted: true}, []string{"api/db", "db/password", "old/db"}},
			{coffer.SecretQuery{Contains: "db", Prefix: "api/"}, []string{"api/db"}},
			{coffer.SecretQuery{Contains: "%"}, []string{"x%y"}},
			{coffer.SecretQuery{Contains: "_"}, []string{"x_y"}},
			{coffer.SecretQuery{Contains: "nothing"}, nil},
		} {
			c.q.Limit = 100
			list, err := e.s.Secrets(e.ctx, a.ID, st.ID, c.q)
			noErr(t, "Secrets", err)
			if got := names(list); !slices.Equal(got, c.want) {
				t.Fatalf("Secrets(%+v): got %q, want %q", c.q, got, c.want)
			}
			n, err := e.s.CountSecrets(e.ctx, a.ID, st.ID, c.q)
			noErr(t, "CountSecrets", err)
			if n != len(c.want) {
				t.Fatalf("CountSecrets(%+v): got %d, want %d", c.q, n, len(c.want))
			}
		}
		_, err := e.s.CountSecrets(e.ctx, a.ID, coffer.NewID(), coffer.SecretQuery{})
		wantCode(t, "CountSecrets of a missing store", err, coffer.ENOTFOUND)
		_, err = e.s.CountSecrets(e.ctx, e.account().ID, st.ID, coffer.SecretQuery{})
		wantCode(t, "CountSecrets of another account's store", err, coffer.ENOTFOUND)
	})
}

func (r *runner) storeListing() {
	r.run("Stores/Listing", func(t *testing.T, e *env) {
		a := e.account()
		e.store(e.account(), "elsewhere")
		var all []*coffer.Store
		for _, name := range []string{"m", "b", "app-z", "app-a"} {
			all = append(all, e.store(a, name))
		}
		// UpdateStore moves UpdatedAt.
		comment := "changed"
		st, err := e.s.UpdateStore(e.ctx, a.ID, all[1].ID, &coffer.StoreUpdate{Comment: &comment, At: e.now()}, e.ev("store.update"))
		noErr(t, "UpdateStore", err)
		all[1] = st
		byName := func(x, y *coffer.Store) int {
			return cmp.Or(strings.Compare(x.Name, y.Name), strings.Compare(x.ID, y.ID))
		}
		by := func(f func(*coffer.Store) time.Time, desc bool) func(x, y *coffer.Store) int {
			return func(x, y *coffer.Store) int {
				c := f(x).Compare(f(y))
				if desc {
					c = -c
				}
				return cmp.Or(c, byName(x, y))
			}
		}
		sorted := func(f func(x, y *coffer.Store) int, keep func(*coffer.Store) bool) []string {
			var out []string
			list := slices.Clone(all)
			slices.SortFunc(list, f)
			for _, s := range list {
				if keep == nil || keep(s) {
					out = append(out, s.Name)
				}
			}
			return out
		}
		created := func(s *coffer.Store) time.Time { return s.CreatedAt }
		updated := func(s *coffer.Store) time.Time { return s.UpdatedAt }
		for _, c := range []struct {
			what string
			q    coffer.StoreQuery
			want []string
		}{
			{"name", coffer.StoreQuery{}, sorted(byName, nil)},
			{"name desc", coffer.StoreQuery{Desc: true}, sorted(func(x, y *coffer.Store) int { return byName(y, x) }, nil)},
			{"created desc", coffer.StoreQuery{Order: coffer.OrderCreated, Desc: true}, sorted(by(created, true), nil)},
			{"updated", coffer.StoreQuery{Order: coffer.OrderUpdated}, sorted(by(updated, false), nil)},
			{"contains", coffer.StoreQuery{Contains: "app-"}, []string{"app-a", "app-z"}},
			{"name is", coffer.StoreQuery{Name: "m"}, []string{"m"}},
			{"name is missing", coffer.StoreQuery{Name: "app"}, nil},
		} {
			for _, size := range []int{1, 3, 100} {
				var got []string
				q := c.q
				q.Limit = size
				for q.Offset = 0; q.Offset < 100; q.Offset += size {
					page, err := e.s.ListStores(e.ctx, a.ID, q)
					noErr(t, "ListStores", err)
					if len(page) == 0 {
						break
					}
					for _, s := range page {
						got = append(got, s.Name)
					}
				}
				if !slices.Equal(got, c.want) {
					t.Fatalf("%s, pages of %d: got %q, want %q", c.what, size, got, c.want)
				}
			}
			n, err := e.s.CountStores(e.ctx, a.ID, c.q)
			noErr(t, "CountStores", err)
			if n != len(c.want) {
				t.Fatalf("%s: CountStores got %d, want %d", c.what, n, len(c.want))
			}
		}
	})
}
