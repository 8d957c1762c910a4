package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer"
)

func (r *runner) audit() {
	r.run("Audit/EventPerWrite", func(t *testing.T, e *env) {
		a := &coffer.Account{ID: coffer.NewID(), Name: "acme", CreatedAt: e.now()}
		st := &coffer.Store{ID: coffer.NewID(), AccountID: a.ID, Name: "prod", KeyID: 1, CreatedAt: e.now(), UpdatedAt: e.now()}
		evs := []*coffer.AuditEvent{e.ev("account.create"), e.ev("store.create"), e.ev("secret.create"), e.ev("secret.write"), e.ev("secret.write")}
		evs[1].AccountID, evs[1].Name = a.ID, "prod" // the caller's fields stay as given
		noErr(t, "CreateAccount", e.s.CreateAccount(e.ctx, a, evs[0]))
		noErr(t, "CreateStore", e.s.CreateStore(e.ctx, st, []byte("k"), evs[1]))
		s, err := e.s.WriteSecret(e.ctx, e.newSecret(st, "db/password", seal("v1")), evs[2])
		noErr(t, "WriteSecret(create)", err)
		_, err = e.s.WriteSecret(e.ctx, &coffer.SecretWrite{AccountID: a.ID, StoreID: st.ID, Name: "db/password", Seal: seal("v2"), At: e.now()}, evs[3])
		noErr(t, "WriteSecret", err)
		_, err = e.s.WriteSecret(e.ctx, &coffer.SecretWrite{AccountID: a.ID, StoreID: st.ID, Name: "db/password", IfVersion: 1, Seal: seal("v3"), At: e.now()}, evs[4])
		wantCode(t, "WriteSecret(IfVersion 1)", err, coffer.EPRECONDITION)

		got := e.events()
		if len(got) != len(evs) {
			t.Fatalf("events: got %d, want %d (one per write)", len(got), len(evs))
		}
		wantOutcome := []string{"ok", "ok", "ok", "ok", coffer.EPRECONDITION}
		var prev []byte
		for i, g := range got {
			w := evs[i]
			switch {
			case g.Seq != int64(i+1) || w.Seq != g.Seq:
				t.Fatalf("event %d: got seq %d (caller's copy %d), want %d", i, g.Seq, w.Seq, i+1)
			case !bytes.Equal(g.PrevHash, prev):
				t.Fatalf("event %d: got PrevHash %x, want %x", i, g.PrevHash, prev)
			case !bytes.Equal(g.Hash, g.ComputeHash()) || !bytes.Equal(g.Hash, w.Hash):
				t.Fatalf("event %d: stored hash does not match its content or the caller's copy", i)
			case g.Outcome != wantOutcome[i] || w.Outcome != wantOutcome[i]:
				t.Fatalf("event %d: got outcome %q (caller's copy %q), want %q", i, g.Outcome, w.Outcome, wantOutcome[i])
			case g.Action != w.Action || g.PrincipalID != w.PrincipalID || g.RequestID != w.RequestID || g.Remote != w.Remote || g.Face != w.Face:
				t.Fatalf("event %d: got %+v, want %+v", i, g, w)
			case g.AccountID != a.ID:
				t.Fatalf("event %d: got AccountID %q, want %q", i, g.AccountID, a.ID)
			}
			sameTime(t, fmt.Sprintf("event %d: Time", i), g.Time, w.Time)
			prev = g.Hash
		}
		if got[1].Name != "prod" || got[1].StoreID != st.ID {
			t.Fatalf("store event: got name %q store %q, want prod %q", got[1].Name, got[1].StoreID, st.ID)
		}
		for i, want := range []int{1, 2} {
			if g := got[2+i]; g.SecretID != s.ID || g.StoreID != st.ID || g.Version != want {
				t.Fatalf("secret event %d: got secret %q store %q version %d, want %q %q %d", i, g.SecretID, g.StoreID, g.Version, s.ID, st.ID, want)
			}
		}
		head, err := e.s.AuditHead(e.ctx)
		noErr(t, "AuditHead", err)
		if head == nil || head.Seq != 5 || !bytes.Equal(head.Hash, got[4].Hash) {
			t.Fatalf("AuditHead: got %+v, want seq 5 and the last event's hash", head)
		}
	})
	r.run("Audit/RefusedWriteChangesNothingElse", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		before := len(e.events())
		w := e.newSecret(st, "db/password", seal("v2"))
		w.CreateOnly = true
		ev := e.ev("secret.create")
		ev.Outcome = "ok" // storage sets the outcome of a write, whatever it was
		_, err := e.s.WriteSecret(e.ctx, w, ev)
		wantCode(t, "WriteSecret(CreateOnly)", err, coffer.ECONFLICT)
		if after := len(e.events()); after != before+1 {
			t.Fatalf("events after a refused write: got %d, want %d", after, before+1)
		}
		if last := e.lastEvent(); last.Outcome != coffer.ECONFLICT || last.Seq != ev.Seq || last.Action != "secret.create" {
			t.Fatalf("last event: got %+v, want the refused write's with outcome %q", last, coffer.ECONFLICT)
		}
		checkSecret(t, "Secret", e.secret(s, s.ID), s)

		ev = e.ev("secret.write")
		ev.Outcome = coffer.ECONFLICT
		_, err = e.s.WriteSecret(e.ctx, &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: "db/password", Seal: seal("v2"), At: e.now()}, ev)
		noErr(t, "WriteSecret", err)
		if ev.Outcome != "ok" {
			t.Fatalf("outcome of a write that succeeded: got %q, want ok", ev.Outcome)
		}
	})
	r.run("Audit/Append", func(t *testing.T, e *env) {
		a := e.account()
		read, refused, other := e.ev("secret.reveal"), e.ev("secret.reveal"), e.ev("audit.list")
		read.AccountID, read.SecretID, read.Version, read.Reason = a.ID, coffer.NewID(), 3, "prod:*:reveal"
		refused.AccountID, refused.Outcome, refused.Reason = a.ID, coffer.EFORBIDDEN, "no scope allows reveal"
		other.Outcome = "ok"
		before := len(e.events())
		noErr(t, "Audit", e.s.Audit(e.ctx, read, refused, other))
		got := e.events()[before:]
		if len(got) != 3 {
			t.Fatalf("events: got %d new, want 3", len(got))
		}
		for i, w := range []*coffer.AuditEvent{read, refused, other} {
			g := got[i]
			switch {
			case g.Seq != int64(before+i+1) || w.Seq != g.Seq:
				t.Fatalf("event %d: got seq %d (caller's copy %d), want %d", i, g.Seq, w.Seq, before+i+1)
			case g.Action != w.Action || g.SecretID != w.SecretID || g.Version != w.Version || g.Reason != w.Reason:
				t.Fatalf("event %d: got %+v, want %+v", i, g, w)
			case !bytes.Equal(g.Hash, w.Hash):
				t.Fatalf("event %d: stored hash differs from the caller's copy", i)
			}
		}
		if got[0].Outcome != "ok" || got[1].Outcome != coffer.EFORBIDDEN || got[2].Outcome != "ok" {
			t.Fatalf("outcomes: got %q %q %q, want ok %q ok (the caller's)", got[0].Outcome, got[1].Outcome, got[2].Outcome, coffer.EFORBIDDEN)
		}
	})
	r.run("Audit/Paging", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		for i := range 7 {
			for _, acct := range []*coffer.Account{a, b} {
				ev := e.ev(fmt.Sprint("secret.reveal.", i))
				ev.AccountID = acct.ID
				noErr(t, "Audit", e.s.Audit(e.ctx, ev))
			}
		}
		all := e.events()
		if len(all) != 16 {
			t.Fatalf("events: got %d, want 16", len(all))
		}
		for _, c := range []struct {
			account string
			want    int
		}{{"", 16}, {a.ID, 8}, {b.ID, 8}} {
			var got []*coffer.AuditEvent
			var after int64
			for range 20 {
				page, err := e.s.AuditEvents(e.ctx, c.account, coffer.AuditQuery{After: after, Limit: 3})
				noErr(t, "AuditEvents", err)
				if len(page) > 3 {
					t.Fatalf("AuditEvents(limit 3): got %d", len(page))
				}
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				after = page[len(page)-1].Seq
			}
			if len(got) != c.want {
				t.Fatalf("AuditEvents(account %q): got %d, want %d", c.account, len(got), c.want)
			}
			for i, ev := range got {
				if c.account != "" && ev.AccountID != c.account {
					t.Fatalf("AuditEvents(account %q): got an event of account %q", c.account, ev.AccountID)
				}
				if i > 0 && ev.Seq <= got[i-1].Seq {
					t.Fatalf("AuditEvents(account %q): seq %d after %d, want increasing", c.account, ev.Seq, got[i-1].Seq)
				}
			}
		}
		page, err := e.s.AuditEvents(e.ctx, "", coffer.AuditQuery{After: 10, Limit: 2})
		noErr(t, "AuditEvents", err)
		if len(page) != 2 || page[0].Seq != 11 || page[1].Seq != 12 {
			t.Fatalf("AuditEvents(after 10, limit 2): got %d events, want seq 11 and 12", len(page))
		}
	})
	r.run("Audit/HeadEmpty", func(t *testing.T, e *env) {
		head, err := e.s.AuditHead(e.ctx)
		noErr(t, "AuditHead", err)
		if head != nil {
			t.Fatalf("AuditHead of an empty log: got %+v, want nil", head)
		}
	})
	r.run("Audit/ChainUnderConcurrency", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		e.create(st, "db/password", "v1")
		before := len(e.events())
		const workers, rounds = 24, 8
		var wg sync.WaitGroup
		errs := make(chan error, workers*rounds*3)
		for i := range workers {
			wg.Go(func() {
				for j := range rounds {
					if _, err := e.write(st, "db/password", fmt.Sprint(i, j), 0); err != nil {
						errs <- fmt.Errorf("write: %w", err)
					}
					ev := e.ev("secret.reveal")
					ev.AccountID = st.AccountID
					if err := e.s.Audit(e.ctx, ev); err != nil {
						errs <- fmt.Errorf("audit: %w", err)
					}
					// Refused: version 1 is long gone.
					if _, err := e.write(st, "db/password", "x", 1); coffer.ErrorCode(err) != coffer.EPRECONDITION {
						errs <- fmt.Errorf("stale write: got %v, want %s", err, coffer.EPRECONDITION)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		var v coffer.ChainVerifier
		var last *coffer.AuditEvent
		var after int64
		for {
			page, err := e.s.AuditEvents(e.ctx, "", coffer.AuditQuery{After: after, Limit: 100})
			noErr(t, "AuditEvents", err)
			if len(page) == 0 {
				break
			}
			for _, ev := range page {
				if !v.Add(ev) {
					break
				}
			}
			last = page[len(page)-1]
			after = last.Seq
		}
		head, err := e.s.AuditHead(e.ctx)
		noErr(t, "AuditHead", err)
		rep := v.Finish(head, func(*coffer.AuditHead) bool { return true })
		if !rep.OK {
			t.Fatalf("chain: broken at %d: %s", rep.BrokenAt, rep.Problem)
		}
		if want := int64(before + workers*rounds*3); rep.Events != want {
			t.Fatalf("chain: got %d events, want %d", rep.Events, want)
		}
		if head.Seq != last.Seq || !bytes.Equal(head.Hash, last.Hash) {
			t.Fatalf("AuditHead: got seq %d, want the last event's %d", head.Seq, last.Seq)
		}
	})
}

func (r *runner) lifecycle() {
	r.run("Ping", func(t *testing.T, e *env) {
		noErr(t, "Ping", e.s.Ping(e.ctx))
	})
	r.run("Close", func(t *testing.T, e *env) {
		a := e.account()
		st := e.store(a, "prod")
		noErr(t, "Close", e.s.Close())
		if err := e.s.CreateAccount(e.ctx, &coffer.Account{ID: coffer.NewID(), Name: "late", CreatedAt: e.now()}, e.ev("account.create")); err == nil {
			t.Fatal("CreateAccount after Close: got nil, want an error")
		}
		if _, err := e.s.WriteSecret(e.ctx, e.newSecret(st, "late", seal("v")), e.ev("secret.create")); err == nil {
			t.Fatal("WriteSecret after Close: got nil, want an error")
		}
		if err := e.s.Audit(e.ctx, e.ev("secret.reveal")); err == nil {
			t.Fatal("Audit after Close: got nil, want an error")
		}
		if err := e.s.SetMeta(e.ctx, "late", []byte("x")); err == nil {
			t.Fatal("SetMeta after Close: got nil, want an error")
		}
		noErr(t, "second Close", e.s.Close())
	})
}
