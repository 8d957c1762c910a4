package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// TestAuditSearchHTTP checks GET /v1/audit's filters on the real server:
// the server filters and orders, Next pages in either order, a filter that
// matches nothing gives an empty page, and parameters it does not know are
// ignored as on every native listing.
func TestAuditSearchHTTP(t *testing.T) {
	base, token := startServer(t)
	a := &rawAPI{t: t, base: base, token: token}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"})
	for i := range 3 {
		status := 200
		if i == 0 {
			status = 201
		}
		a.must(status, "PUT", "/v1/stores/prod/secrets/ONE", map[string]any{"value": "v"})
		a.must(status, "PUT", "/v1/stores/prod/secrets/TWO", map[string]any{"value": "v"})
		if i == 0 {
			a.must(200, "GET", "/v1/stores/prod/secrets/ONE/value", nil)
		}
	}
	for range 30 { // newer events that match none of the filters below
		a.must(200, "GET", "/v1/stores/prod/secrets/TWO/value", nil)
	}
	page := func(q url.Values) coffer.AuditPage {
		t.Helper()
		var p coffer.AuditPage
		if err := json.Unmarshal(a.must(200, "GET", "/v1/audit?"+q.Encode(), nil).Body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// walk pages one event at a time and returns the seqs.
	walk := func(q url.Values) []int64 {
		t.Helper()
		var seqs []int64
		q.Set("limit", "1")
		for range 20 {
			p := page(q)
			for _, e := range p.Events {
				if e.Name != "ONE" || !strings.HasPrefix(e.Action, "secret.") {
					t.Fatalf("%s: got %s of %q", q.Encode(), e.Action, e.Name)
				}
				seqs = append(seqs, e.Seq)
			}
			if p.Next == 0 {
				return seqs
			}
			cursor := "after"
			if q.Get("order") == "desc" {
				cursor = "before"
			}
			q.Set(cursor, strconv.FormatInt(p.Next, 10))
		}
		t.Fatalf("%s: still paging after 20 pages", q.Encode())
		return nil
	}

	// The writes and the reveal of ONE, newest first and oldest first.
	desc := walk(url.Values{"object": {"ONE"}, "action": {"secret."}, "order": {"desc"}})
	asc := walk(url.Values{"object": {"ONE"}, "action": {"secret."}, "order": {"asc"}})
	if len(desc) != 4 || !slices.IsSortedFunc(desc, func(x, y int64) int { return int(y - x) }) {
		t.Fatalf("object=ONE newest first: got seq %v, want 4 events in descending order", desc)
	}
	slices.Reverse(asc)
	if !slices.Equal(asc, desc) {
		t.Fatalf("object=ONE oldest first, reversed: got %v, want %v", asc, desc)
	}
	if p := page(url.Values{"object": {"ONE"}, "action": {"secret.reveal"}}); len(p.Events) != 1 || p.Events[0].Action != "secret.reveal" {
		t.Fatalf("action=secret.reveal&object=ONE: got %+v, want the one reveal", p.Events)
	}

	// Nothing matches.
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, q := range []url.Values{{"principal": {"nobody"}}, {"since": {future}}, {"outcome": {"conflict"}}, {"object": {"ONE"}, "action": {"key."}}} {
		if p := page(q); len(p.Events) != 0 || p.Next != 0 {
			t.Errorf("%s: got %d events, next %d; want none", q.Encode(), len(p.Events), p.Next)
		}
	}
	// A time window: until before the first event is empty; since then is everything.
	first := page(url.Values{"limit": {"1"}}).Events[0]
	if p := page(url.Values{"until": {first.Time.Format(time.RFC3339Nano)}}); len(p.Events) != 0 {
		t.Errorf("until the first event: got %d events, want none", len(p.Events))
	}
	if p := page(url.Values{"since": {first.Time.Format(time.RFC3339Nano)}, "limit": {"1"}}); len(p.Events) != 1 || p.Events[0].Seq != first.Seq {
		t.Errorf("since the first event: got %+v, want it first", p.Events)
	}

	// An unknown parameter is ignored.
	with, without := page(url.Values{"object": {"TWO"}, "bogus": {"1"}}), page(url.Values{"object": {"TWO"}})
	if len(with.Events) != len(without.Events) || len(without.Events) < 30 {
		t.Errorf("an unknown parameter: got %d events, want %d as without it", len(with.Events), len(without.Events))
	}
}
