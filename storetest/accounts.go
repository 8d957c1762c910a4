package storetest

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

func (r *runner) meta() {
	r.run("Meta/ErrNotFound", func(t *testing.T, e *env) {
		_, err := e.s.Meta(e.ctx, "master_key_check")
		wantCode(t, "Meta of an unset key", err, coffer.ENOTFOUND)
	})
	r.run("Meta/SetOnce", func(t *testing.T, e *env) {
		noErr(t, "SetMeta", e.s.SetMeta(e.ctx, "master_key_check", []byte{0, 1, 2, 0xff}))
		wantCode(t, "second SetMeta", e.s.SetMeta(e.ctx, "master_key_check", []byte("other")), coffer.ECONFLICT)
		got, err := e.s.Meta(e.ctx, "master_key_check")
		noErr(t, "Meta", err)
		if want := []byte{0, 1, 2, 0xff}; !bytes.Equal(got, want) {
			t.Fatalf("Meta: got %x, want %x", got, want)
		}
		noErr(t, "SetMeta of another key", e.s.SetMeta(e.ctx, "install_id", []byte("x")))
	})
}

func (r *runner) accounts() {
	r.run("Account/OK", func(t *testing.T, e *env) {
		at := e.now()
		a := &coffer.Account{ID: coffer.NewID(), Name: "acme", CreatedAt: at}
		ev := e.ev("account.create")
		noErr(t, "CreateAccount", e.s.CreateAccount(e.ctx, a, ev))
		got, err := e.s.Account(e.ctx, a.ID)
		noErr(t, "Account", err)
		if got.ID != a.ID || got.Name != "acme" {
			t.Fatalf("Account: got %q %q, want %q %q", got.ID, got.Name, a.ID, "acme")
		}
		sameTime(t, "CreatedAt", got.CreatedAt, at)
		if ev.Outcome != "ok" || ev.Seq != 1 {
			t.Fatalf("event: got outcome %q seq %d, want ok 1", ev.Outcome, ev.Seq)
		}
	})
	r.run("Account/ErrNotFound", func(t *testing.T, e *env) {
		_, err := e.s.Account(e.ctx, coffer.NewID())
		wantCode(t, "Account", err, coffer.ENOTFOUND)
	})
	r.run("Account/List", func(t *testing.T, e *env) {
		var want []string
		for range 5 {
			want = append(want, e.account().ID)
		}
		slices.Sort(want)
		var got []string
		after := ""
		for range 10 {
			page, err := e.s.Accounts(e.ctx, after, 2)
			noErr(t, "Accounts", err)
			if len(page) > 2 {
				t.Fatalf("Accounts(limit 2): got %d accounts", len(page))
			}
			if len(page) == 0 {
				break
			}
			for _, a := range page {
				got = append(got, a.ID)
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Accounts pages: got %v, want %v", got, want)
		}
	})
	r.run("Principal/OK", func(t *testing.T, e *env) {
		a := e.account()
		p := &coffer.Principal{ID: coffer.NewID(), AccountID: a.ID, Name: "ci", Kind: "service", CreatedAt: e.now()}
		ev := e.ev("principal.create")
		noErr(t, "CreatePrincipal", e.s.CreatePrincipal(e.ctx, p, ev))
		if ev.Outcome != "ok" || ev.Seq == 0 {
			t.Fatalf("event: got outcome %q seq %d, want ok and a seq", ev.Outcome, ev.Seq)
		}
		got, err := e.s.Principal(e.ctx, a.ID, p.ID)
		noErr(t, "Principal", err)
		if got.Name != "ci" || got.Kind != "service" || got.AccountID != a.ID {
			t.Fatalf("Principal: got %+v, want ci/service in %s", got, a.ID)
		}
	})
	r.run("Principal/ErrConflictName", func(t *testing.T, e *env) {
		a := e.account()
		p := &coffer.Principal{ID: coffer.NewID(), AccountID: a.ID, Name: "ci", Kind: "service", CreatedAt: e.now()}
		noErr(t, "CreatePrincipal", e.s.CreatePrincipal(e.ctx, p, e.ev("principal.create")))
		dup := &coffer.Principal{ID: coffer.NewID(), AccountID: a.ID, Name: "ci", Kind: "user", CreatedAt: e.now()}
		if code := coffer.ErrorCode(e.s.CreatePrincipal(e.ctx, dup, e.ev("principal.create"))); code != coffer.ECONFLICT {
			t.Fatalf("duplicate name: got %q, want %q", code, coffer.ECONFLICT)
		}
		other := e.account()
		same := &coffer.Principal{ID: coffer.NewID(), AccountID: other.ID, Name: "ci", Kind: "user", CreatedAt: e.now()}
		noErr(t, "CreatePrincipal in another account", e.s.CreatePrincipal(e.ctx, same, e.ev("principal.create")))
	})
	r.run("Principal/Attributes", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		p := &coffer.Principal{ID: coffer.NewID(), AccountID: a.ID, Name: "amy", Kind: "user", CreatedAt: e.now(),
			Attributes: map[string]string{"firstName": "Amy", "city": "Oslo"}}
		noErr(t, "CreatePrincipal with attributes", e.s.CreatePrincipal(e.ctx, p, e.ev("principal.create")))
		got, err := e.s.Principal(e.ctx, a.ID, p.ID)
		noErr(t, "Principal", err)
		if !maps.Equal(got.Attributes, p.Attributes) {
			t.Fatalf("Principal attributes: got %v, want %v", got.Attributes, p.Attributes)
		}
		ev := e.ev("principal.update")
		got, err = e.s.UpdatePrincipal(e.ctx, a.ID, p.ID, map[string]string{"lastName": "Lee", "city": "", "gone": ""}, ev)
		noErr(t, "UpdatePrincipal", err)
		want := map[string]string{"firstName": "Amy", "lastName": "Lee"}
		if !maps.Equal(got.Attributes, want) || got.Name != "amy" || got.ID != p.ID {
			t.Fatalf("UpdatePrincipal: got %+v, want attributes %v", got, want)
		}
		if ev.Outcome != "ok" || ev.AccountID != a.ID || ev.Seq == 0 {
			t.Fatalf("event: got account %q outcome %q seq %d, want %s ok", ev.AccountID, ev.Outcome, ev.Seq, a.ID)
		}
		for _, read := range []func() (*coffer.Principal, error){
			func() (*coffer.Principal, error) { return e.s.Principal(e.ctx, a.ID, p.ID) },
			func() (*coffer.Principal, error) {
				list, err := e.s.Principals(e.ctx, a.ID)
				if err != nil || len(list) != 1 {
					return nil, fmt.Errorf("listing principals: got %d, %v", len(list), err)
				}
				return list[0], nil
			},
		} {
			got, err := read()
			noErr(t, "read after update", err)
			if !maps.Equal(got.Attributes, want) {
				t.Fatalf("read after update: got %v, want %v", got.Attributes, want)
			}
		}
		// Another account's principal answers as a missing one and is left alone.
		ev = e.ev("principal.update")
		_, err = e.s.UpdatePrincipal(e.ctx, b.ID, p.ID, map[string]string{"firstName": "Eve"}, ev)
		wantCode(t, "UpdatePrincipal from another account", err, coffer.ENOTFOUND)
		if ev.Outcome != coffer.ENOTFOUND {
			t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.ENOTFOUND)
		}
		// Too many attributes are refused whole.
		many := map[string]string{}
		for i := range coffer.MaxLabels {
			many[fmt.Sprintf("k%d", i)] = "v"
		}
		_, err = e.s.UpdatePrincipal(e.ctx, a.ID, p.ID, many, e.ev("principal.update"))
		wantCode(t, "UpdatePrincipal past MaxLabels", err, coffer.EINVALID)
		got, err = e.s.Principal(e.ctx, a.ID, p.ID)
		noErr(t, "Principal", err)
		if !maps.Equal(got.Attributes, want) {
			t.Fatalf("after refused updates: got %v, want %v", got.Attributes, want)
		}
		// Removing every attribute leaves none.
		got, err = e.s.UpdatePrincipal(e.ctx, a.ID, p.ID, map[string]string{"firstName": "", "lastName": ""}, e.ev("principal.update"))
		noErr(t, "UpdatePrincipal removing all", err)
		if len(got.Attributes) != 0 {
			t.Fatalf("after removing all: got %v", got.Attributes)
		}
	})
	r.run("Principal/ListAndIsolation", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		for _, n := range []string{"zed", "amy"} {
			p := &coffer.Principal{ID: coffer.NewID(), AccountID: a.ID, Name: n, Kind: "user", CreatedAt: e.now()}
			noErr(t, "CreatePrincipal", e.s.CreatePrincipal(e.ctx, p, e.ev("principal.create")))
		}
		list, err := e.s.Principals(e.ctx, a.ID)
		noErr(t, "Principals", err)
		if len(list) != 2 || list[0].Name != "amy" || list[1].Name != "zed" {
			t.Fatalf("Principals: got %d, want amy and zed in order", len(list))
		}
		if list, err := e.s.Principals(e.ctx, b.ID); err != nil || len(list) != 0 {
			t.Fatalf("Principals of another account: got %d, %v, want none", len(list), err)
		}
		if _, err := e.s.Principal(e.ctx, b.ID, list[0].ID); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("Principal from another account: got %v, want not_found", err)
		}
	})
}

// key creates an API key of a principal of a.
func (e *env) key(a *coffer.Account, name string) *coffer.APIKey {
	e.t.Helper()
	p := &coffer.Principal{ID: coffer.NewID(), AccountID: a.ID, Name: "user-" + name, Kind: "user", CreatedAt: e.now()}
	if err := e.s.CreatePrincipal(e.ctx, p, e.ev("principal.create")); err != nil {
		e.t.Fatalf("CreatePrincipal: %v", err)
	}
	expires := e.now().Add(24 * time.Hour)
	k := &coffer.APIKey{
		ID:          coffer.NewID(),
		AccountID:   a.ID,
		PrincipalID: p.ID,
		Name:        name,
		Scopes: []coffer.Scope{
			{Store: "prod", Secret: "db/*", Actions: []coffer.Action{coffer.ActionRead, coffer.ActionReveal}},
			{ObjectType: "secrets", ObjectID: "abc", Actions: []coffer.Action{coffer.ActionWrite}},
		},
		Hash:      []byte("keyed-hash-" + name),
		CreatedAt: e.now(),
		ExpiresAt: &expires,
	}
	if err := e.s.CreateAPIKey(e.ctx, k, e.ev("key.create")); err != nil {
		e.t.Fatalf("CreateAPIKey: %v", err)
	}
	return k
}

func (r *runner) apiKeys() {
	r.run("APIKey/OK", func(t *testing.T, e *env) {
		k := e.key(e.account(), "deploy")
		got, err := e.s.APIKey(e.ctx, k.ID)
		noErr(t, "APIKey", err)
		switch {
		case got.ID != k.ID || got.AccountID != k.AccountID || got.PrincipalID != k.PrincipalID || got.Name != k.Name:
			t.Fatalf("APIKey: got %+v, want %+v", got, k)
		case got.Admin:
			t.Fatalf("APIKey: got Admin true, want false")
		case !bytes.Equal(got.Hash, k.Hash):
			t.Fatalf("APIKey: got Hash %q, want %q", got.Hash, k.Hash)
		case len(got.Scopes) != 2 || got.Scopes[0].String() != k.Scopes[0].String() || got.Scopes[1].String() != k.Scopes[1].String():
			t.Fatalf("APIKey: got Scopes %v, want %v", got.Scopes, k.Scopes)
		case got.ExpiresAt == nil || got.LastUsedAt != nil || got.RevokedAt != nil:
			t.Fatalf("APIKey: got expires/used/revoked %v/%v/%v, want set/nil/nil", got.ExpiresAt, got.LastUsedAt, got.RevokedAt)
		}
		sameTime(t, "CreatedAt", got.CreatedAt, k.CreatedAt)
		sameTime(t, "ExpiresAt", *got.ExpiresAt, *k.ExpiresAt)

		admin := &coffer.APIKey{ID: coffer.NewID(), AccountID: k.AccountID, PrincipalID: k.PrincipalID, Name: "root",
			Admin: true, Hash: []byte("h"), CreatedAt: e.now()}
		noErr(t, "CreateAPIKey(admin)", e.s.CreateAPIKey(e.ctx, admin, e.ev("key.create")))
		got, err = e.s.APIKey(e.ctx, admin.ID)
		noErr(t, "APIKey(admin)", err)
		if !got.Admin || len(got.Scopes) != 0 {
			t.Fatalf("APIKey(admin): got Admin %v Scopes %v, want true and none", got.Admin, got.Scopes)
		}
	})
	r.run("APIKey/ErrNotFound", func(t *testing.T, e *env) {
		_, err := e.s.APIKey(e.ctx, coffer.NewID())
		wantCode(t, "APIKey", err, coffer.ENOTFOUND)
	})
	r.run("APIKey/ErrConflictDuplicateID", func(t *testing.T, e *env) {
		k := e.key(e.account(), "deploy")
		dup := *k
		dup.Name = "other"
		ev := e.ev("key.create")
		wantCode(t, "CreateAPIKey with a used id", e.s.CreateAPIKey(e.ctx, &dup, ev), coffer.ECONFLICT)
		if ev.Outcome != coffer.ECONFLICT {
			t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.ECONFLICT)
		}
		got, err := e.s.APIKey(e.ctx, k.ID)
		noErr(t, "APIKey", err)
		if got.Name != "deploy" {
			t.Fatalf("APIKey name: got %q, want %q", got.Name, "deploy")
		}
	})
	r.run("APIKey/ListNewestFirst", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		k1, k2, k3 := e.key(a, "one"), e.key(a, "two"), e.key(a, "three")
		e.key(b, "theirs")
		keys, err := e.s.APIKeys(e.ctx, a.ID)
		noErr(t, "APIKeys", err)
		var got []string
		for _, k := range keys {
			got = append(got, k.ID)
		}
		if want := []string{k3.ID, k2.ID, k1.ID}; !slices.Equal(got, want) {
			t.Fatalf("APIKeys: got %v, want %v", got, want)
		}
	})
	r.run("APIKey/Revoke", func(t *testing.T, e *env) {
		k := e.key(e.account(), "deploy")
		at := e.now()
		ev := e.ev("key.revoke")
		noErr(t, "RevokeAPIKey", e.s.RevokeAPIKey(e.ctx, k.AccountID, k.ID, at, ev))
		if ev.Outcome != "ok" {
			t.Fatalf("event outcome: got %q, want ok", ev.Outcome)
		}
		got, err := e.s.APIKey(e.ctx, k.ID)
		noErr(t, "APIKey", err)
		if got.RevokedAt == nil {
			t.Fatal("RevokedAt: got nil, want set")
		}
		sameTime(t, "RevokedAt", *got.RevokedAt, at)
		if got.Usable(at.Add(time.Second)) {
			t.Fatal("Usable after revoke: got true, want false")
		}
		noErr(t, "second RevokeAPIKey", e.s.RevokeAPIKey(e.ctx, k.AccountID, k.ID, e.now(), e.ev("key.revoke")))
		got, err = e.s.APIKey(e.ctx, k.ID)
		noErr(t, "APIKey", err)
		if got.RevokedAt == nil {
			t.Fatal("RevokedAt after second revoke: got nil, want set")
		}
	})
	r.run("APIKey/RevokeErrNotFound", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		k := e.key(a, "deploy")
		ev := e.ev("key.revoke")
		wantCode(t, "RevokeAPIKey of another account's key", e.s.RevokeAPIKey(e.ctx, b.ID, k.ID, e.now(), ev), coffer.ENOTFOUND)
		if ev.Outcome != coffer.ENOTFOUND {
			t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.ENOTFOUND)
		}
		wantCode(t, "RevokeAPIKey of a missing key", e.s.RevokeAPIKey(e.ctx, a.ID, coffer.NewID(), e.now(), e.ev("key.revoke")), coffer.ENOTFOUND)
		got, err := e.s.APIKey(e.ctx, k.ID)
		noErr(t, "APIKey", err)
		if got.RevokedAt != nil {
			t.Fatalf("RevokedAt: got %v, want nil", got.RevokedAt)
		}
	})
	r.run("APIKey/Touch", func(t *testing.T, e *env) {
		a := e.account()
		k1, k2, k3 := e.key(a, "one"), e.key(a, "two"), e.key(a, "three")
		before := len(e.events())
		t1, t2 := e.now(), e.now()
		noErr(t, "TouchAPIKeys", e.s.TouchAPIKeys(e.ctx, map[string]time.Time{k1.ID: t1, k2.ID: t2, coffer.NewID(): t2}))
		for _, c := range []struct {
			k    *coffer.APIKey
			want *time.Time
		}{{k1, &t1}, {k2, &t2}, {k3, nil}} {
			got, err := e.s.APIKey(e.ctx, c.k.ID)
			noErr(t, "APIKey", err)
			switch {
			case c.want == nil && got.LastUsedAt != nil:
				t.Fatalf("LastUsedAt of %s: got %v, want nil", c.k.Name, got.LastUsedAt)
			case c.want != nil && got.LastUsedAt == nil:
				t.Fatalf("LastUsedAt of %s: got nil, want %v", c.k.Name, *c.want)
			case c.want != nil:
				sameTime(t, "LastUsedAt of "+c.k.Name, *got.LastUsedAt, *c.want)
			}
		}
		if after := len(e.events()); after != before {
			t.Fatalf("audit events after TouchAPIKeys: got %d, want %d (no audit)", after, before)
		}
	})
}
