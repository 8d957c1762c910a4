package service_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// TestAuditEventsQuery checks the service's side of an audit search: bad
// queries are refused with EINVALID, only admin keys may search, and Next
// pages through the filtered events in either order without gaps or
// repeats.
func TestAuditEventsQuery(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		name := []string{"A", "B"}[i%2]
		if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: name, Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("Invalid", func(t *testing.T) {
		now := time.Now()
		for name, q := range map[string]coffer.AuditQuery{
			"NegativeAfter":    {After: -1},
			"NegativeBefore":   {Before: -1},
			"NegativeLimit":    {Limit: -1},
			"LimitOverMax":     {Limit: coffer.MaxPageSize + 1},
			"SinceAfterUntil":  {Since: now, Until: now.Add(-time.Second)},
			"LongPrincipal":    {Principal: strings.Repeat("p", coffer.MaxAuditFilterLen+1)},
			"LongObject":       {Object: strings.Repeat("o", coffer.MaxAuditFilterLen+1)},
			"LongAction":       {Action: strings.Repeat("a", coffer.MaxAuditFilterLen+1)},
			"LongOutcome":      {Outcome: strings.Repeat("o", coffer.MaxAuditFilterLen+1)},
			"InvalidUTF8":      {Object: "a\xffb"},
			"NUL":              {Principal: "a\x00b"},
			"BareActionPrefix": {Action: "."},
		} {
			if _, err := svc.AuditEvents(ctx, q); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Errorf("%s: got %v, want %s", name, err, coffer.EINVALID)
			}
		}
	})

	t.Run("ErrForbidden", func(t *testing.T) {
		reader := scoped(t, svc, ctx, coffer.Scope{Store: "*", Actions: []coffer.Action{coffer.ActionList, coffer.ActionRead, coffer.ActionReveal}})
		if _, err := svc.AuditEvents(reader, coffer.AuditQuery{Action: "secret.write"}); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
			t.Fatalf("a key without admin: got %v, want %s", err, coffer.EFORBIDDEN)
		}
	})

	t.Run("Paging", func(t *testing.T) {
		all, err := svc.AuditEvents(ctx, coffer.AuditQuery{Action: "secret.", Object: "B", Limit: coffer.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		var want []int64
		for _, e := range all.Events {
			if e.Name != "B" || !strings.HasPrefix(e.Action, "secret.") {
				t.Fatalf("filtered event %+v: not a secret event of B", e)
			}
			want = append(want, e.Seq)
		}
		if len(want) != 3 || all.Next != 0 {
			t.Fatalf("events of B: got %d (next %d), want 3 and no next page", len(want), all.Next)
		}
		for _, newest := range []bool{false, true} {
			q := coffer.AuditQuery{Action: "secret.", Object: "B", Limit: 2, Newest: newest}
			var got []int64
			for range 10 {
				page, err := svc.AuditEvents(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range page.Events {
					got = append(got, e.Seq)
				}
				if page.Next == 0 {
					break
				}
				if last := page.Events[len(page.Events)-1].Seq; page.Next != last {
					t.Fatalf("Next: got %d, want the page's last seq %d", page.Next, last)
				}
				if newest {
					q.Before = page.Next
				} else {
					q.After = page.Next
				}
			}
			w := slices.Clone(want)
			if newest {
				slices.Reverse(w)
			}
			if !slices.Equal(got, w) {
				t.Errorf("paging 2 at a time (newest %v): got seq %v, want %v", newest, got, w)
			}
		}
	})
}

// TestAuditEventsWindow checks that a filtered page covers at most the
// service's window of sequence numbers, and that following Next from page
// to page, windows that found nothing included, finds every matching event
// once, in either order.
func TestAuditEventsWindow(t *testing.T) {
	const window = 5
	env := svctest.Open(t, service.Options{AuditWindow: window})
	svc, ctx := env.Svc, env.Root
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		name := "A"
		if i%7 == 0 {
			name = "B" // rare: most windows hold no event of B
		}
		if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: name, Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	q := coffer.AuditQuery{Object: "B", Action: "secret.write"}
	all, err := svc.AuditEvents(ctx, coffer.AuditQuery{Limit: coffer.MaxPageSize}) // unfiltered: no window
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, e := range all.Events {
		if q.Matches(e) {
			want = append(want, e.Seq)
		}
	}
	if len(want) != 5 || all.Next != 0 {
		t.Fatalf("matching events %v (next %d), want 5 on one page", want, all.Next)
	}
	for _, newest := range []bool{false, true} {
		q := q
		q.Newest, q.Limit = newest, 2
		var got []int64
		short := 0 // pages that the window ended before they were full
		for pages := 0; ; pages++ {
			if pages > len(all.Events) {
				t.Fatalf("newest %v: Next never reached 0", newest)
			}
			page, err := svc.AuditEvents(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Events {
				got = append(got, e.Seq)
			}
			if n := len(page.Events); n > 1 && abs(page.Events[n-1].Seq-page.Events[0].Seq) >= window {
				t.Errorf("a page spans seq %d to %d, over the window of %d", page.Events[0].Seq, page.Events[n-1].Seq, window)
			}
			if page.Next == 0 {
				break
			}
			if len(page.Events) < q.Limit {
				short++
			}
			if newest {
				if page.Next >= q.Before && q.Before != 0 {
					t.Fatalf("Next %d does not move below %d", page.Next, q.Before)
				}
				q.Before = page.Next
			} else {
				if page.Next <= q.After {
					t.Fatalf("Next %d does not move past %d", page.Next, q.After)
				}
				q.After = page.Next
			}
		}
		w := slices.Clone(want)
		if newest {
			slices.Reverse(w)
		}
		if !slices.Equal(got, w) {
			t.Errorf("newest %v: got seq %v, want %v", newest, got, w)
		}
		if short == 0 {
			t.Errorf("newest %v: no page ended at the window, so the window was not applied", newest)
		}
	}
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
