package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// dumper returns the storage's coffer.Dumper: every engine must have one.
func dumper(t testing.TB, s coffer.Storage) coffer.Dumper {
	t.Helper()
	d, ok := s.(coffer.Dumper)
	if !ok {
		t.Fatalf("%T does not implement coffer.Dumper", s)
	}
	return d
}

// Dump returns every record of s's dump, failing the test on error. It is
// for small test databases: it holds the whole dump.
func Dump(t testing.TB, s coffer.Storage) []*coffer.Record {
	t.Helper()
	var out []*coffer.Record
	if err := dumper(t, s).Dump(t.Context(), func(r *coffer.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	return out
}

// records returns a Load's next function over recs.
func records(recs []*coffer.Record) func() (*coffer.Record, error) {
	return func() (*coffer.Record, error) {
		if len(recs) == 0 {
			return nil, io.EOF
		}
		r := recs[0]
		recs = recs[1:]
		return r, nil
	}
}

// CompareDumps fails the test unless the two dumps hold the same records,
// field for field, and have the same summary.
func CompareDumps(t testing.TB, got, want []*coffer.Record) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if !reflect.DeepEqual(normalize(got[i]), normalize(want[i])) {
			t.Fatalf("dump record %d (%s): got %s, want %s", i+1, want[i].Kind(), describe(got[i]), describe(want[i]))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("dump: got %d records, want %d", len(got), len(want))
	}
	gs, ws := coffer.NewDumpSummary(), coffer.NewDumpSummary()
	for i := range got {
		gs.Add(got[i])
		ws.Add(want[i])
	}
	if !bytes.Equal(gs.Digest(), ws.Digest()) {
		t.Fatalf("dump digests differ: got %x, want %x", gs.Digest(), ws.Digest())
	}
}

// normalize returns a copy of r in which what engines may return either
// way (an empty or a nil map, byte slice or list) is one way.
func normalize(r *coffer.Record) *coffer.Record {
	c := *r
	nilIfEmpty := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return b
	}
	switch {
	case c.Meta != nil:
		m := *c.Meta
		m.Value = nilIfEmpty(m.Value)
		c.Meta = &m
	case c.Principal != nil:
		p := *c.Principal
		if len(p.Attributes) == 0 {
			p.Attributes = nil
		}
		c.Principal = &p
	case c.Store != nil:
		s := *c.Store
		if len(s.Attributes) == 0 {
			s.Attributes = nil
		}
		c.Store = &s
	case c.Audit != nil:
		a := *c.Audit
		a.PrevHash = nilIfEmpty(a.PrevHash)
		c.Audit = &a
	}
	return &c
}

// describe prints a record for a failure message: these are test data, not
// real secrets.
func describe(r *coffer.Record) string {
	v := reflect.ValueOf(*r)
	for i := range v.NumField() {
		if f := v.Field(i); !f.IsNil() {
			return fmt.Sprintf("%+v", f.Elem().Interface())
		}
	}
	return "empty record"
}

// populate fills s with one of everything a dump holds, in every state:
// settings, two accounts, principals with and without attributes, API keys
// (admin, scoped, expiring, used, revoked), hotkeys, stores with
// attributes and a changed generation, secrets pending, active, deleted,
// with metadata and expiry, several versions, a destroyed one, a purged
// secret, audit events, nonces, and AppRole and JWT roles.
func (e *env) populate() {
	t := e.t
	t.Helper()
	noErr(t, "SetMeta", e.s.SetMeta(e.ctx, "pepper", []byte{0, 1, 2, 0xff}))
	noErr(t, "SetMeta empty", e.s.SetMeta(e.ctx, "empty", nil))
	a, b := e.account(), e.account()

	alice := e.principal(a, "alice")
	bob := &coffer.Principal{ID: coffer.NewID(), AccountID: a.ID, Name: "bob", Kind: "service", CreatedAt: e.now(), MAC: []byte("mac-bob")}
	noErr(t, "CreatePrincipal", e.s.CreatePrincipal(e.ctx, bob, e.ev("principal.create")))
	_, err := e.s.UpdatePrincipal(e.ctx, a.ID, bob.ID, map[string]string{"firstName": "Bob", "contactInfo": "b@example.com"}, e.ev("principal.update"))
	noErr(t, "UpdatePrincipal", err)
	carol := e.principal(b, "carol")

	exp := e.now().Add(time.Hour)
	keys := []*coffer.APIKey{
		{ID: "k-admin", AccountID: a.ID, PrincipalID: alice.ID, Name: "root", Admin: true, Hash: []byte("hash-1"), MAC: []byte("mac-k-admin")},
		{ID: "k-scoped", AccountID: a.ID, PrincipalID: bob.ID, Name: "ci", Hash: []byte("hash-2"), ExpiresAt: &exp,
			Scopes: []coffer.Scope{{Store: "app", Secret: "db/*", Actions: []coffer.Action{"read", "list"}},
				{ObjectType: "images", ObjectID: "img-1"}}},
		{ID: "k-revoked", AccountID: b.ID, PrincipalID: carol.ID, Name: "old", Hash: []byte("hash-3"),
			Scopes: []coffer.Scope{}},
	}
	for _, k := range keys {
		k.CreatedAt = e.now()
		noErr(t, "CreateAPIKey "+k.ID, e.s.CreateAPIKey(e.ctx, k, e.ev("key.create")))
	}
	noErr(t, "RevokeAPIKey", e.s.RevokeAPIKey(e.ctx, b.ID, "k-revoked", e.now(), e.ev("key.revoke")))
	noErr(t, "TouchAPIKeys", e.s.TouchAPIKeys(e.ctx, map[string]time.Time{"k-admin": e.now().Add(3 * time.Nanosecond)}))

	e.populateRoles(a, bob)

	e.addHotkey(alice, hotkeyA)
	e.addHotkey(carol, hotkeyB)
	noErr(t, "SetRecordMAC account", e.s.SetRecordMAC(e.ctx, coffer.KindAccount, a.ID, nil, []byte("mac-account")))
	noErr(t, "SetRecordMAC hotkey", e.s.SetRecordMAC(e.ctx, coffer.KindHotkey, hotkeyA, nil, []byte("mac-hotkey")))
	e.addHotkey(bob, hotkeyC)
	noErr(t, "RemoveHotkey", e.s.RemoveHotkey(e.ctx, a.ID, hotkeyC, e.ev("hotkey.remove")))

	app := e.store(a, "app")
	at := e.now()
	tf := &coffer.Store{ID: coffer.NewID(), AccountID: a.ID, Name: "group", KeyID: 1, CreatedAt: at, UpdatedAt: at,
		Attributes: map[string]string{"integrationId": "int-1", "creator": "alice"}}
	noErr(t, "CreateStore with attributes", e.s.CreateStore(e.ctx, tf, []byte{0, 0xfe, 7}, e.ev("store.create")))
	other := e.store(b, "app")
	gone := e.store(b, "gone")
	noErr(t, "DeleteStore", e.s.DeleteStore(e.ctx, b.ID, gone.ID, false, e.ev("store.delete")))

	// Several versions, one of them destroyed.
	db := e.create(app, "db/password", "v1")
	e.put(app, "db/password", "v2")
	e.put(app, "db/password", "v3")
	noErr(t, "DestroyVersion", e.s.DestroyVersion(e.ctx, a.ID, db.ID, 2, e.now(), e.ev("secret.destroy")))
	// Soft-deleted versions: one deleted, one scheduled.
	_, err = e.s.DeleteVersions(e.ctx, a.ID, db.ID, []int{1}, e.now(), e.ev("secret.version.delete"))
	noErr(t, "DeleteVersions", err)
	later := e.now().Add(time.Hour)
	_, err = e.s.WriteSecret(e.ctx, &coffer.SecretWrite{AccountID: a.ID, StoreID: app.ID, Name: "db/password",
		Seal: seal("v4"), By: "p-writer", At: e.now(), DeleteAt: &later}, e.ev("secret.write"))
	noErr(t, "WriteSecret with DeleteAt", err)
	// Metadata and expiry.
	tok := e.create(app, "api/token", "t1")
	comment, expires := "the token", e.now().Add(24*time.Hour)
	_, err = e.s.UpdateSecret(e.ctx, a.ID, tok.ID, &coffer.SecretUpdate{Comment: &comment,
		Labels: map[string]string{"env": "prod", "team": "core"}, Scopes: []string{"workers", "ai-gateway"},
		Attributes: map[string]string{"unused": "1", "purpose": "ci"}, ExpiresAt: &expires, At: e.now()},
		e.ev("secret.update"))
	noErr(t, "UpdateSecret", err)
	// Pending, deleted, a deleted one whose name was taken again, purged.
	e.createPending(app, "pending")
	old := e.create(app, "rotated", "old")
	e.delete(old)
	e.create(app, "rotated", "new")
	purged := e.create(app, "purged", "x")
	e.delete(purged)
	noErr(t, "PurgeSecret", e.s.PurgeSecret(e.ctx, a.ID, purged.ID, e.ev("secret.purge")))
	e.create(tf, "in-group", "g")
	e.create(other, "db/password", "other account")

	// Events that record no change, a refused write, nonces.
	reveal := e.ev("secret.reveal")
	reveal.Outcome, reveal.Reason = "ok", "admin"
	refused := e.ev("secret.reveal")
	refused.Outcome = coffer.EFORBIDDEN
	noErr(t, "Audit", e.s.Audit(e.ctx, reveal, refused))
	dup := e.newSecret(app, "db/password", seal("dup"))
	dup.CreateOnly = true
	_, err = e.s.WriteSecret(e.ctx, dup, e.ev("secret.create"))
	wantCode(t, "refused create", err, coffer.ECONFLICT)
	now := time.Now()
	noErr(t, "UseNonce", e.s.UseNonce(e.ctx, "n-live", now, now.Add(time.Hour)))
	noErr(t, "UseNonce", e.s.UseNonce(e.ctx, "n-other", now, now.Add(2*time.Hour)))
}

func (r *runner) dump() {
	r.run("Dump/Empty", func(t *testing.T, e *env) {
		if recs := Dump(t, e.s); len(recs) != 0 {
			t.Fatalf("dump of an empty database: got %d records (first %s), want none", len(recs), describe(recs[0]))
		}
	})

	r.run("Dump/OK", func(t *testing.T, e *env) {
		e.populate()
		recs := Dump(t, e.s)
		s := coffer.NewDumpSummary()
		var order coffer.RecordOrder
		for _, rec := range recs {
			if _, err := order.Check(rec); err != nil {
				t.Fatalf("dump order: %v", err)
			}
			s.Add(rec)
		}
		for _, c := range []struct {
			kind coffer.RecordKind
			want int64
		}{
			{coffer.KindMeta, 2}, {coffer.KindAccount, 2}, {coffer.KindPrincipal, 3}, {coffer.KindAPIKey, 5},
			{coffer.KindHotkey, 2}, {coffer.KindStore, 3}, {coffer.KindStoreKey, 3}, {coffer.KindSecret, 7},
			{coffer.KindVersion, 9}, {coffer.KindAuditHead, 1}, {coffer.KindNonce, 2},
			{coffer.KindAppRole, 1}, {coffer.KindAppRoleSecret, 2}, {coffer.KindJWTConfig, 1}, {coffer.KindJWTRole, 1},
		} {
			if got := s.Count(c.kind); got != c.want {
				t.Errorf("%s: got %d, want %d", c.kind, got, c.want)
			}
		}
		evs := e.events()
		if got := s.Count(coffer.KindAudit); got != int64(len(evs)) {
			t.Errorf("audit events: got %d, want %d", got, len(evs))
		}
		head, err := e.s.AuditHead(e.ctx)
		noErr(t, "AuditHead", err)
		softDeleted := 0
		for _, rec := range recs {
			switch {
			case rec.AuditHead != nil:
				if rec.AuditHead.Seq != head.Seq || !bytes.Equal(rec.AuditHead.Hash, head.Hash) || !bytes.Equal(rec.AuditHead.MAC, head.MAC) {
					t.Errorf("audit head: got %+v, want %+v", rec.AuditHead, head)
				}
			case rec.Version != nil && rec.Version.Number == 2 && rec.Version.DestroyedAt != nil:
				if rec.Version.Ciphertext != nil {
					t.Errorf("destroyed version: got ciphertext %q, want none", rec.Version.Ciphertext)
				}
			case rec.Version != nil:
				if len(rec.Version.Ciphertext) == 0 {
					t.Errorf("version %s/%d: no ciphertext", rec.Version.SecretID, rec.Version.Number)
				}
				if rec.Version.DeletedAt != nil {
					softDeleted++
				}
			case rec.APIKey != nil && rec.APIKey.ID == "k-admin":
				if string(rec.APIKey.MAC) != "mac-k-admin" {
					t.Errorf("key record MAC: got %q, want mac-k-admin (it must travel with the record)", rec.APIKey.MAC)
				}
			case rec.APIKey != nil && rec.APIKey.ID == "k-revoked":
				if rec.APIKey.RevokedAt == nil || string(rec.APIKey.Hash) != "hash-3" {
					t.Errorf("revoked key: got %+v, want revoked with its hash", rec.APIKey)
				}
			}
		}
		if softDeleted != 2 {
			t.Errorf("soft-deleted versions: got %d, want 2 (one deleted, one scheduled)", softDeleted)
		}
		// Audit events come as AuditEvents lists them.
		i := 0
		for _, rec := range recs {
			if rec.Audit == nil {
				continue
			}
			if !reflect.DeepEqual(normalize(rec).Audit, normalize(&coffer.Record{Audit: evs[i]}).Audit) {
				t.Fatalf("audit event %d: got %+v, want %+v", i+1, rec.Audit, evs[i])
			}
			i++
		}
		// A second dump is the same.
		CompareDumps(t, Dump(t, e.s), recs)
	})

	r.run("Load/OK", func(t *testing.T, e *env) {
		e.populate()
		want := Dump(t, e.s)
		wantHead, err := e.s.AuditHead(e.ctx)
		noErr(t, "AuditHead", err)

		dst := newEnv(t, r.open(t))
		dst.ticks.Store(e.ticks.Load())
		noErr(t, "Load", dumper(t, dst.s).Load(dst.ctx, records(want)))
		CompareDumps(t, Dump(t, dst.s), want)
		checkLoaded(t, dst, wantHead)
	})

	r.run("Load/ErrNotEmpty", func(t *testing.T, e *env) {
		e.populate()
		recs := Dump(t, e.s)
		for _, setup := range []struct {
			name string
			f    func(d *env)
		}{
			{"setting", func(d *env) { noErr(t, "SetMeta", d.s.SetMeta(d.ctx, "x", []byte("y"))) }},
			{"account", func(d *env) { d.account() }},
			{"audit event", func(d *env) { noErr(t, "Audit", d.s.Audit(d.ctx, d.ev("secret.reveal"))) }},
		} {
			dst := newEnv(t, r.open(t))
			setup.f(dst)
			before := Dump(t, dst.s)
			err := dumper(t, dst.s).Load(dst.ctx, records(recs))
			wantCode(t, "Load into a database with a "+setup.name, err, coffer.ECONFLICT)
			CompareDumps(t, Dump(t, dst.s), before)
			dst.s.Close()
		}
		// Loading a database into itself is loading into a full one.
		wantCode(t, "Load into itself", dumper(t, e.s).Load(e.ctx, records(recs)), coffer.ECONFLICT)
		CompareDumps(t, Dump(t, e.s), recs)
	})

	r.run("Load/ErrAbort", func(t *testing.T, e *env) {
		e.populate()
		recs := Dump(t, e.s)
		dst := newEnv(t, r.open(t))
		d := dumper(t, dst.s)
		// A failure of the source midway, after some of every kind up to
		// versions: nothing stays.
		boom := errors.New("source failed")
		cut := 0
		for i, rec := range recs {
			if rec.Version != nil {
				cut = i + 1
				break
			}
		}
		next := records(recs[:cut])
		err := d.Load(dst.ctx, func() (*coffer.Record, error) {
			r, err := next()
			if err == io.EOF {
				return nil, boom
			}
			return r, err
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Load with a failing source: got %v, want %v", err, boom)
		}
		if got := Dump(t, dst.s); len(got) != 0 {
			t.Fatalf("after a failed Load: got %d records (first %s), want none", len(got), describe(got[0]))
		}
		// Records out of order, and a record of no kind, fail as invalid.
		for name, bad := range map[string][]*coffer.Record{
			"out of order": append(append([]*coffer.Record{}, recs...), recs[cut-1]),
			"empty record": append(append([]*coffer.Record{}, recs[:cut]...), &coffer.Record{}),
			"two fields":   {{Account: &coffer.Account{ID: coffer.NewID()}, Meta: &coffer.MetaEntry{Key: "k"}}},
		} {
			wantCode(t, "Load "+name, d.Load(dst.ctx, records(bad)), coffer.EINVALID)
			if got := Dump(t, dst.s); len(got) != 0 {
				t.Fatalf("after Load %s: got %d records, want none", name, len(got))
			}
		}
		// The database is still empty and usable: the whole dump loads.
		noErr(t, "Load after failures", d.Load(dst.ctx, records(recs)))
		CompareDumps(t, Dump(t, dst.s), recs)
	})
}

// checkLoaded checks that the loaded database works on from the loaded
// state: stores and secrets are found, values read, and new writes take
// the next version number and continue the audit chain after head.
func checkLoaded(t *testing.T, e *env, head *coffer.AuditHead) {
	t.Helper()
	var app *coffer.Store
	var acct string
	for _, rec := range Dump(t, e.s) {
		if rec.Store != nil && rec.Store.Name == "app" && app == nil {
			app, acct = rec.Store, rec.Store.AccountID
		}
	}
	// The loaded replay cache refuses the uses it holds.
	now := time.Now()
	wantCode(t, "UseNonce of a loaded use", e.s.UseNonce(e.ctx, "n-live", now, now.Add(time.Hour)), coffer.ECONFLICT)
	st, err := e.s.Store(e.ctx, acct, "app")
	noErr(t, "Store after Load", err)
	if st.ID != app.ID || st.Gen != app.Gen {
		t.Fatalf("Store after Load: got id %s gen %d, want %s gen %d", st.ID, st.Gen, app.ID, app.Gen)
	}
	if got := e.value(st, "db/password", 3); got == "" {
		t.Fatalf("ReadVersion after Load: empty ciphertext")
	}
	if _, v, err := e.s.ReadVersion(e.ctx, acct, st.ID, "db/password", 1); err != nil || v.DeletedAt == nil {
		t.Fatalf("ReadVersion of the soft-deleted version after Load: got %v, want it deleted", err)
	}
	if _, _, err := e.s.ReadVersion(e.ctx, acct, st.ID, "db/password", 2); coffer.ErrorCode(err) != coffer.ENOTFOUND {
		t.Fatalf("ReadVersion of the destroyed version after Load: got %v, want ENOTFOUND", err)
	}
	ev := e.ev("secret.write")
	s, err := e.s.WriteSecret(e.ctx, &coffer.SecretWrite{AccountID: acct, StoreID: st.ID, Name: "db/password",
		Seal: seal("v5"), By: "p-writer", At: e.now()}, ev)
	noErr(t, "WriteSecret after Load", err)
	if s.Version != 5 {
		t.Fatalf("WriteSecret after Load: got version %d, want 5", s.Version)
	}
	if ev.Seq != head.Seq+1 || !bytes.Equal(ev.PrevHash, head.Hash) {
		t.Fatalf("first event after Load: got seq %d prev %x, want %d and %x", ev.Seq, ev.PrevHash, head.Seq+1, head.Hash)
	}
	var v coffer.ChainVerifier
	for _, x := range e.events() {
		v.Add(x)
	}
	newHead, err := e.s.AuditHead(e.ctx)
	noErr(t, "AuditHead", err)
	if rep := v.Finish(newHead, func(*coffer.AuditHead) bool { return true }); !rep.OK {
		t.Fatalf("audit chain after Load and a write: %s at %d", rep.Problem, rep.BrokenAt)
	}
	if st2, err := e.s.Store(e.ctx, acct, "app"); err != nil || st2.Gen == app.Gen {
		t.Fatalf("Store after a write: got %+v, %v; want a new Gen", st2, err)
	}
	checkRolesLoaded(t, e)
}

// RunTransfer checks that a dump of a storage made by from, loaded into an
// empty one made by to, dumps the same, and that the copy works on from
// there. Use it between engines: from SQLite to PostgreSQL and back.
func RunTransfer(t *testing.T, from, to func(tb testing.TB) coffer.Storage) {
	src := newEnv(t, from(t))
	src.populate()
	want := Dump(t, src.s)
	head, err := src.s.AuditHead(src.ctx)
	noErr(t, "AuditHead", err)

	dst := newEnv(t, to(t))
	dst.ticks.Store(src.ticks.Load())
	noErr(t, "Load", dumper(t, dst.s).Load(dst.ctx, records(want)))
	CompareDumps(t, Dump(t, dst.s), want)
	checkLoaded(t, dst, head)
}
