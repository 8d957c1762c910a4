package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// auditQuery checks the filters, orders and paging of AuditEvents.
func (r *runner) auditQuery() {
	// Two accounts get the same events, interleaved, so that a filter that
	// forgets the account shows up; one event of a has every field empty
	// but the action.
	type fixture struct {
		a, b *coffer.Account
		all  []*coffer.AuditEvent // every event of every account, by seq
		t0   time.Time            // the time of the first generated event
	}
	setup := func(t *testing.T, e *env) *fixture {
		f := &fixture{a: e.account(), b: e.account()}
		actions := []string{"secret.reveal", "secret.write", "store.create", "key.revoke", "secrets.list", "secret"}
		f.t0 = base.Add(time.Hour)
		for i := range 36 {
			for _, acct := range []*coffer.Account{f.a, f.b} {
				ev := &coffer.AuditEvent{
					Time:        f.t0.Add(time.Duration(i)*time.Minute + 789*time.Nanosecond),
					AccountID:   acct.ID,
					PrincipalID: []string{"p1", "p2", "p3"}[i%3],
					KeyID:       []string{"k1", "k2", "k3", "k4"}[i%4],
					Action:      actions[i%len(actions)],
					Outcome:     "ok",
					Face:        "native",
				}
				switch i % 4 {
				case 0:
					ev.StoreID, ev.SecretID, ev.Name = "st1", "s1", "DB_PASSWORD"
				case 1:
					ev.StoreID, ev.Name = "st1", "prod"
				case 2:
					ev.StoreID, ev.SecretID, ev.Name = "st2", "s2", "st1" // a name that is another store's id
				}
				if i%5 == 0 {
					ev.Outcome = coffer.EFORBIDDEN
				}
				if i == 7 {
					ev.PrincipalID = "k1" // a principal id that is also a key id
				}
				noErr(t, "Audit", e.s.Audit(e.ctx, ev))
			}
		}
		f.all = e.events()
		return f
	}

	// expect lists the events of account (all for "") that q selects, in
	// q's order.
	expect := func(f *fixture, account string, q coffer.AuditQuery) []int64 {
		var out []int64
		for _, ev := range f.all {
			if (account == "" || ev.AccountID == account) && ev.Seq > q.After && (q.Before == 0 || ev.Seq < q.Before) && q.Matches(ev) {
				out = append(out, ev.Seq)
			}
		}
		if q.Newest {
			slices.Reverse(out)
		}
		return out
	}
	// walk reads every page of q, limit events at a time, moving the
	// cursor as a caller does, and checks each event's account and filters.
	walk := func(t *testing.T, e *env, account string, q coffer.AuditQuery, limit int) []int64 {
		t.Helper()
		var out []int64
		q.Limit = limit
		for range 200 {
			page, err := e.s.AuditEvents(e.ctx, account, q)
			noErr(t, "AuditEvents", err)
			if len(page) > limit {
				t.Fatalf("AuditEvents(%+v): got %d events, want at most %d", q, len(page), limit)
			}
			for _, ev := range page {
				if account != "" && ev.AccountID != account {
					t.Fatalf("AuditEvents(%+v): got an event of account %q", q, ev.AccountID)
				}
				if !q.Matches(ev) {
					t.Fatalf("AuditEvents(%+v): got event %+v, which the filters do not select", q, ev)
				}
				out = append(out, ev.Seq)
			}
			if len(page) < limit {
				return out
			}
			if q.Newest {
				q.Before = page[len(page)-1].Seq
			} else {
				q.After = page[len(page)-1].Seq
			}
		}
		t.Fatalf("AuditEvents(%+v): still paging after 200 pages", q)
		return nil
	}

	r.run("AuditQuery/Filters", func(t *testing.T, e *env) {
		f := setup(t, e)
		var total int
		for _, ev := range f.all {
			if ev.AccountID == f.a.ID {
				total++
			}
		}
		at := func(i int) time.Time { return f.t0.Add(time.Duration(i)*time.Minute + 789*time.Nanosecond) }
		for _, c := range []struct {
			name string
			q    coffer.AuditQuery
			want int // events of account a: 0 < want < total, so an ignored filter fails
		}{
			{"Principal", coffer.AuditQuery{Principal: "p2"}, 11}, // not event 7, whose principal is "k1"
			{"PrincipalByKeyID", coffer.AuditQuery{Principal: "k2"}, 9},
			{"PrincipalIDOrKeyID", coffer.AuditQuery{Principal: "k1"}, 10}, // key k1 (9) and principal "k1" (event 7)
			{"ObjectSecretID", coffer.AuditQuery{Object: "s1"}, 9},
			{"ObjectStoreID", coffer.AuditQuery{Object: "st1"}, 27}, // store st1 (18) and the name "st1" (9)
			{"ObjectName", coffer.AuditQuery{Object: "prod"}, 9},
			{"ActionExact", coffer.AuditQuery{Action: "secret.reveal"}, 6},
			{"ActionExactNoDot", coffer.AuditQuery{Action: "secret"}, 6},
			{"ActionPrefix", coffer.AuditQuery{Action: "secret."}, 12}, // not secrets.list, not secret
			{"ActionPrefixOther", coffer.AuditQuery{Action: "account."}, 1},
			{"Outcome", coffer.AuditQuery{Outcome: coffer.EFORBIDDEN}, 8},
			{"OutcomeOK", coffer.AuditQuery{Outcome: "ok"}, total - 8},
			{"Since", coffer.AuditQuery{Since: at(30)}, 6},    // at a bound: included
			{"Until", coffer.AuditQuery{Until: at(3)}, 1 + 3}, // at a bound: excluded; account.create is older
			{"SinceUntil", coffer.AuditQuery{Since: at(10), Until: at(20)}, 10},
			{"FarBounds", coffer.AuditQuery{Since: time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Outcome: coffer.EFORBIDDEN}, 8},
			{"Combined", coffer.AuditQuery{Principal: "p1", Object: "st1", Action: "secret.", Since: at(1)}, 5},
			{"After", coffer.AuditQuery{After: f.all[len(f.all)-10].Seq}, 4},
			{"AfterBefore", coffer.AuditQuery{After: f.all[10].Seq, Before: f.all[21].Seq}, 5},
		} {
			t.Run(c.name, func(t *testing.T) {
				if c.want <= 0 || c.want >= total {
					t.Fatalf("bad case: want %d of %d events", c.want, total)
				}
				for _, newest := range []bool{false, true} {
					q := c.q
					q.Newest = newest
					want := expect(f, f.a.ID, q)
					if len(want) != c.want {
						t.Fatalf("the filters select %d events of the fixture, want %d (is AuditQuery.Matches right?)", len(want), c.want)
					}
					for _, limit := range []int{1, 4, coffer.MaxPageSize} {
						if got := walk(t, e, f.a.ID, q, limit); !slices.Equal(got, want) {
							t.Fatalf("AuditEvents(%+v) %d at a time: got seq %v, want %v", q, limit, got, want)
						}
					}
					// Every account: both accounts' events, as many of b's as a's.
					if got, want := walk(t, e, "", q, 5), expect(f, "", q); !slices.Equal(got, want) {
						t.Fatalf("AuditEvents(every account, %+v): got seq %v, want %v", q, got, want)
					} else if c.q.After == 0 && c.q.Before == 0 && len(got) != 2*c.want {
						t.Fatalf("AuditEvents(every account, %+v): got %d events, want %d", q, len(got), 2*c.want)
					}
				}
			})
		}
	})
	r.run("AuditQuery/Order", func(t *testing.T, e *env) {
		f := setup(t, e)
		page, err := e.s.AuditEvents(e.ctx, f.a.ID, coffer.AuditQuery{Newest: true, Limit: 3})
		noErr(t, "AuditEvents(newest)", err)
		var last []int64
		for _, ev := range f.all {
			if ev.AccountID == f.a.ID {
				last = append(last, ev.Seq)
			}
		}
		last = last[len(last)-3:]
		if len(page) != 3 || page[0].Seq != last[2] || page[1].Seq != last[1] || page[2].Seq != last[0] {
			t.Fatalf("AuditEvents(newest, limit 3): got %d events starting at %v, want seq %d %d %d", len(page), page, last[2], last[1], last[0])
		}
		page, err = e.s.AuditEvents(e.ctx, f.a.ID, coffer.AuditQuery{Limit: 2})
		noErr(t, "AuditEvents(oldest)", err)
		if len(page) != 2 || page[0].Seq >= page[1].Seq || page[0].Action != "account.create" {
			t.Fatalf("AuditEvents(oldest, limit 2): got %v, want the account's first two events in order", page)
		}
		// The default page is coffer.MaxPageSize: more than the fixture.
		page, err = e.s.AuditEvents(e.ctx, "", coffer.AuditQuery{Newest: true})
		noErr(t, "AuditEvents(limit 0)", err)
		if len(page) != len(f.all) || page[0].Seq != f.all[len(f.all)-1].Seq {
			t.Fatalf("AuditEvents(every account, newest, limit 0): got %d events, want %d newest first", len(page), len(f.all))
		}
	})
	r.run("AuditQuery/NoMatch", func(t *testing.T, e *env) {
		f := setup(t, e)
		for i, q := range []coffer.AuditQuery{
			{Principal: "nobody"},
			{Object: "DB_PASSWORD", Action: "key.revoke"}, // each matches, not together
			{Action: "nothing."},
			{Outcome: coffer.ECONFLICT},
			{Since: f.t0.Add(48 * time.Hour)},
			{Until: base.Add(-time.Hour), Newest: true},
			{After: f.all[len(f.all)-1].Seq},
			{After: 5, Before: 6},
		} {
			for _, account := range []string{f.a.ID, ""} {
				page, err := e.s.AuditEvents(e.ctx, account, q)
				noErr(t, fmt.Sprint("AuditEvents ", i), err)
				if len(page) != 0 {
					t.Fatalf("AuditEvents(account %q, %+v): got %d events, want none", account, q, len(page))
				}
			}
		}
	})
	r.run("AuditQuery/Isolation", func(t *testing.T, e *env) {
		f := setup(t, e)
		other := e.account() // has only its account.create event
		for _, q := range []coffer.AuditQuery{{Principal: "p1"}, {Object: "st1"}, {Action: "secret."}, {Outcome: "ok"}, {Newest: true}} {
			page, err := e.s.AuditEvents(e.ctx, other.ID, q)
			noErr(t, "AuditEvents", err)
			for _, ev := range page {
				if ev.AccountID != other.ID {
					t.Fatalf("AuditEvents(%+v) of a third account: got an event of account %q", q, ev.AccountID)
				}
			}
			if q.Outcome == "" && q.Principal == "" && q.Object == "" && q.Action == "" && len(page) != 1 {
				t.Fatalf("AuditEvents(%+v) of a third account: got %d events, want its 1", q, len(page))
			}
		}
		// b has the same events as a: its filtered pages are its own.
		q := coffer.AuditQuery{Principal: "p1", Newest: true}
		if got, want := walk(t, e, f.b.ID, q, 3), expect(f, f.b.ID, q); !slices.Equal(got, want) || len(want) != 12 {
			t.Fatalf("AuditEvents(account b, %+v): got seq %v, want %v (12 events)", q, got, want)
		}
	})
}
