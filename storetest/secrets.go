package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

func (r *runner) secretWrites() {
	r.run("Secret/CreateWithValue", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		w := e.newSecret(st, "db/password", seal("hunter2"))
		w.Create.Comment = "primary"
		w.Create.Labels = map[string]string{"env": "prod", "team": "db"}
		w.Create.Scopes = []string{"workers", "ai_gateway"}
		w.Create.Attributes = map[string]string{"purpose": "ci"}
		w.Create.Origin = "cloudflare"
		ev := e.ev("secret.create")
		got, err := e.s.WriteSecret(e.ctx, w, ev)
		noErr(t, "WriteSecret", err)
		want := &coffer.Secret{
			ID: w.Create.ID, AccountID: st.AccountID, StoreID: st.ID, Name: "db/password",
			Status: coffer.StatusActive, Version: 1, Comment: "primary", Labels: w.Create.Labels,
			Scopes: w.Create.Scopes, Attributes: w.Create.Attributes, Origin: "cloudflare",
			CreatedAt: w.At, UpdatedAt: w.At, CreatedBy: "p-writer",
		}
		checkSecret(t, "WriteSecret result", got, want)
		checkSecret(t, "Secret by name", e.secret(got, "db/password"), want)
		checkSecret(t, "Secret by id", e.secret(got, got.ID), want)
		if ev.Outcome != "ok" || ev.SecretID != got.ID || ev.Version != 1 {
			t.Fatalf("event: got outcome %q secret %q version %d, want ok %q 1", ev.Outcome, ev.SecretID, ev.Version, got.ID)
		}

		s, v, err := e.s.ReadVersion(e.ctx, st.AccountID, st.ID, "db/password", 0)
		noErr(t, "ReadVersion", err)
		checkSecret(t, "ReadVersion secret", s, want)
		if v.Number != 1 || v.KeyID != 1 || v.CreatedBy != "p-writer" || v.DestroyedAt != nil {
			t.Fatalf("ReadVersion: got version %+v, want number 1, key 1, by p-writer", v)
		}
		sameTime(t, "version CreatedAt", v.CreatedAt, w.At)
		if want := ciphertext(got.ID, 1, "hunter2"); string(v.Ciphertext) != want {
			t.Fatalf("ReadVersion ciphertext: got %q, want %q", v.Ciphertext, want)
		}
	})
	r.run("Secret/CreatePending", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.createPending(st, "api/token")
		if s.Status != coffer.StatusPending || s.Version != 0 {
			t.Fatalf("WriteSecret without Seal: got status %q version %d, want pending 0", s.Status, s.Version)
		}
		checkSecret(t, "Secret", e.secret(s, "api/token"), s)
		_, _, err := e.s.ReadVersion(e.ctx, st.AccountID, st.ID, "api/token", 0)
		wantCode(t, "ReadVersion of a pending secret", err, coffer.ENOTFOUND)
		vs, err := e.s.Versions(e.ctx, st.AccountID, s.ID)
		noErr(t, "Versions", err)
		if len(vs) != 0 {
			t.Fatalf("Versions of a pending secret: got %d, want 0", len(vs))
		}
		got := e.put(st, "api/token", "tok")
		if got.ID != s.ID || got.Status != coffer.StatusActive || got.Version != 1 {
			t.Fatalf("first value: got %s %q v%d, want %s active v1", got.ID, got.Status, got.Version, s.ID)
		}
		if got, want := e.value(st, "api/token", 0), ciphertext(s.ID, 1, "tok"); got != want {
			t.Fatalf("ReadVersion: got %q, want %q", got, want)
		}
	})
	r.run("Secret/NewVersion", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		ev := e.ev("secret.write")
		w := &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: "db/password", Seal: seal("v2"), By: "p-other", At: e.now()}
		got, err := e.s.WriteSecret(e.ctx, w, ev)
		noErr(t, "WriteSecret", err)
		want := *s
		want.Version, want.UpdatedAt = 2, w.At
		checkSecret(t, "WriteSecret result", got, &want)
		checkSecret(t, "Secret", e.secret(s, s.ID), &want)
		if ev.SecretID != s.ID || ev.Version != 2 || ev.Outcome != "ok" {
			t.Fatalf("event: got secret %q version %d outcome %q, want %q 2 ok", ev.SecretID, ev.Version, ev.Outcome, s.ID)
		}
		if got, want := e.value(st, "db/password", 0), ciphertext(s.ID, 2, "v2"); got != want {
			t.Fatalf("latest: got %q, want %q", got, want)
		}
		if got, want := e.value(st, "db/password", 1), ciphertext(s.ID, 1, "v1"); got != want {
			t.Fatalf("version 1: got %q, want %q", got, want)
		}
		_, v, err := e.s.ReadVersion(e.ctx, st.AccountID, st.ID, s.ID, 2)
		noErr(t, "ReadVersion", err)
		if v.CreatedBy != "p-other" {
			t.Fatalf("version CreatedBy: got %q, want p-other", v.CreatedBy)
		}
	})
	r.run("Secret/SealGetsFinalIDAndNumber", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		var seen []string
		spy := func(s *coffer.Secret, n int) ([]byte, int, error) {
			seen = append(seen, fmt.Sprintf("%s/%s/%s/%s/%d", s.AccountID, s.StoreID, s.ID, s.Name, n))
			return []byte("ct"), 7, nil
		}
		w := e.newSecret(st, "db/password", spy)
		s, err := e.s.WriteSecret(e.ctx, w, e.ev("secret.create"))
		noErr(t, "WriteSecret(create)", err)
		_, err = e.s.WriteSecret(e.ctx, &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: "db/password", Seal: spy, At: e.now()}, e.ev("secret.write"))
		noErr(t, "WriteSecret", err)
		prefix := st.AccountID + "/" + st.ID + "/" + s.ID + "/db/password/"
		if want := []string{prefix + "1", prefix + "2"}; !slices.Equal(seen, want) {
			t.Fatalf("Seal calls: got %v, want %v", seen, want)
		}
		_, v, err := e.s.ReadVersion(e.ctx, st.AccountID, st.ID, s.ID, 2)
		noErr(t, "ReadVersion", err)
		if v.KeyID != 7 {
			t.Fatalf("version KeyID: got %d, want the 7 Seal returned", v.KeyID)
		}
	})
	r.run("Secret/SealErrorChangesNothing", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		fail := func(*coffer.Secret, int) ([]byte, int, error) {
			return nil, 0, coffer.Errorf(coffer.ETOOLARGE, "value too large")
		}
		ev := e.ev("secret.create")
		_, err := e.s.WriteSecret(e.ctx, e.newSecret(st, "db/password", fail), ev)
		wantCode(t, "WriteSecret with a failing Seal", err, coffer.ETOOLARGE)
		if ev.Outcome != coffer.ETOOLARGE {
			t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.ETOOLARGE)
		}
		_, err = e.s.Secret(e.ctx, st.AccountID, st.ID, "db/password")
		wantCode(t, "Secret after the failed create", err, coffer.ENOTFOUND)

		s := e.create(st, "db/password", "v1")
		_, err = e.s.WriteSecret(e.ctx, &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: "db/password", Seal: fail, At: e.now()}, e.ev("secret.write"))
		wantCode(t, "WriteSecret with a failing Seal", err, coffer.ETOOLARGE)
		checkSecret(t, "Secret after the failed write", e.secret(s, s.ID), s)
	})
	r.run("Secret/ErrConflictCreateOnly", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		for _, pending := range []bool{false, true} {
			name := fmt.Sprintf("pending-%v", pending)
			var s *coffer.Secret
			if pending {
				s = e.createPending(st, name)
			} else {
				s = e.create(st, name, "v1")
			}
			w := e.newSecret(st, name, seal("v2"))
			w.CreateOnly = true
			ev := e.ev("secret.create")
			_, err := e.s.WriteSecret(e.ctx, w, ev)
			wantCode(t, "WriteSecret(CreateOnly) of "+name, err, coffer.ECONFLICT)
			if ev.Outcome != coffer.ECONFLICT {
				t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.ECONFLICT)
			}
			checkSecret(t, "Secret after refused create", e.secret(s, name), s)
		}
		// CreateOnly succeeds when the name is free.
		w := e.newSecret(st, "fresh", seal("v1"))
		w.CreateOnly = true
		_, err := e.s.WriteSecret(e.ctx, w, e.ev("secret.create"))
		noErr(t, "WriteSecret(CreateOnly) of a free name", err)
	})
	r.run("Secret/ErrPreconditionIfVersion", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		e.put(st, "db/password", "v2")
		want := e.secret(s, s.ID)
		for _, ifVersion := range []int{1, 3, -1} {
			ev := e.ev("secret.write")
			_, err := e.s.WriteSecret(e.ctx, &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: "db/password",
				IfVersion: ifVersion, Seal: seal("v3"), At: e.now()}, ev)
			wantCode(t, fmt.Sprintf("WriteSecret(IfVersion %d) at version 2", ifVersion), err, coffer.EPRECONDITION)
			if ev.Outcome != coffer.EPRECONDITION {
				t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.EPRECONDITION)
			}
		}
		checkSecret(t, "Secret after refused writes", e.secret(s, s.ID), want)
		vs, err := e.s.Versions(e.ctx, st.AccountID, s.ID)
		noErr(t, "Versions", err)
		if len(vs) != 2 {
			t.Fatalf("Versions after refused writes: got %d, want 2", len(vs))
		}
		if got, want := e.value(st, "db/password", 0), ciphertext(s.ID, 2, "v2"); got != want {
			t.Fatalf("latest after refused writes: got %q, want %q", got, want)
		}
	})
	r.run("Secret/IfVersionMatch", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		e.create(st, "db/password", "v1")
		got, err := e.write(st, "db/password", "v2", 1)
		noErr(t, "WriteSecret(IfVersion 1)", err)
		if got.Version != 2 {
			t.Fatalf("Version: got %d, want 2", got.Version)
		}
	})
	r.run("Secret/IfVersionMinusOne", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		w := e.newSecret(st, "db/password", seal("v1"))
		w.IfVersion = -1
		s, err := e.s.WriteSecret(e.ctx, w, e.ev("secret.create"))
		noErr(t, "WriteSecret(IfVersion -1) of a free name", err)
		if s.Version != 1 {
			t.Fatalf("Version: got %d, want 1", s.Version)
		}
		w = e.newSecret(st, "db/password", seal("v2"))
		w.IfVersion = -1
		_, err = e.s.WriteSecret(e.ctx, w, e.ev("secret.create"))
		wantCode(t, "WriteSecret(IfVersion -1) of a live name", err, coffer.EPRECONDITION)
		checkSecret(t, "Secret", e.secret(s, s.ID), s)
	})
	r.run("Secret/ErrNotFoundWithoutCreate", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		ev := e.ev("secret.write")
		_, err := e.s.WriteSecret(e.ctx, &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: "nope", Seal: seal("v"), At: e.now()}, ev)
		wantCode(t, "WriteSecret of a missing name without Create", err, coffer.ENOTFOUND)
		if ev.Outcome != coffer.ENOTFOUND {
			t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.ENOTFOUND)
		}
		got, err := e.s.Secrets(e.ctx, st.AccountID, st.ID, coffer.SecretQuery{IncludeDeleted: true})
		noErr(t, "Secrets", err)
		if len(got) != 0 {
			t.Fatalf("Secrets: got %v, want none", ids(got))
		}
	})
	r.run("Secret/ErrNotFoundStore", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		sb := e.store(b, "prod")
		for _, c := range []struct {
			what, account, store string
		}{
			{"a missing store", a.ID, coffer.NewID()},
			{"another account's store", a.ID, sb.ID},
		} {
			w := e.newSecret(sb, "db/password", seal("v1"))
			w.AccountID, w.StoreID = c.account, c.store
			_, err := e.s.WriteSecret(e.ctx, w, e.ev("secret.create"))
			wantCode(t, "WriteSecret into "+c.what, err, coffer.ENOTFOUND)
		}
		got, err := e.s.Secrets(e.ctx, b.ID, sb.ID, coffer.SecretQuery{IncludeDeleted: true})
		noErr(t, "Secrets", err)
		if len(got) != 0 {
			t.Fatalf("Secrets of the other account's store: got %v, want none", ids(got))
		}
	})
	r.run("Secret/UpdateTravelsWithVersion", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		w := &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: "db/password", Seal: seal("v2"), At: e.now(),
			Update: &coffer.SecretUpdate{Comment: ptr("rotated"), Labels: map[string]string{"rotated": "yes"}}}
		got, err := e.s.WriteSecret(e.ctx, w, e.ev("secret.write"))
		noErr(t, "WriteSecret with Update", err)
		want := *s
		want.Version, want.UpdatedAt, want.Comment, want.Labels = 2, w.At, "rotated", map[string]string{"rotated": "yes"}
		checkSecret(t, "WriteSecret result", got, &want)
		checkSecret(t, "Secret", e.secret(s, s.ID), &want)
	})
	r.run("Secret/Expiry", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		exp := base.Add(24 * time.Hour)
		w := e.newSecret(st, "db/password", seal("v1"))
		w.Create.ExpiresAt = &exp
		s, err := e.s.WriteSecret(e.ctx, w, e.ev("secret.create"))
		noErr(t, "WriteSecret with ExpiresAt", err)
		want := *s
		if want.ExpiresAt == nil {
			t.Fatalf("WriteSecret result: got no ExpiresAt, want %v", exp)
		}
		sameTime(t, "WriteSecret result ExpiresAt", *want.ExpiresAt, exp)
		checkSecret(t, "Secret by name", e.secret(s, "db/password"), &want)
		checkSecret(t, "Secret by id", e.secret(s, s.ID), &want)
		got, _, err := e.s.ReadVersion(e.ctx, st.AccountID, st.ID, "db/password", 0)
		noErr(t, "ReadVersion", err)
		checkSecret(t, "ReadVersion secret", got, &want)
		list, err := e.s.Secrets(e.ctx, st.AccountID, st.ID, coffer.SecretQuery{})
		noErr(t, "Secrets", err)
		if len(list) != 1 {
			t.Fatalf("Secrets: got %d, want 1", len(list))
		}
		checkSecret(t, "listed secret", list[0], &want)

		// A plain new version keeps the expiry.
		s = e.put(st, "db/password", "v2")
		want.Version, want.UpdatedAt = 2, s.UpdatedAt
		checkSecret(t, "after a new version", e.secret(s, s.ID), &want)

		// A new version may carry a new expiry.
		later := exp.Add(time.Hour)
		s, err = e.s.WriteSecret(e.ctx, &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: "db/password",
			Seal: seal("v3"), At: e.now(), Update: &coffer.SecretUpdate{ExpiresAt: &later}}, e.ev("secret.write"))
		noErr(t, "WriteSecret with a new expiry", err)
		want.Version, want.UpdatedAt, want.ExpiresAt = 3, s.UpdatedAt, &later
		checkSecret(t, "after a new expiry", e.secret(s, s.ID), &want)
		_, v, err := e.s.ReadVersion(e.ctx, st.AccountID, st.ID, s.ID, 0)
		noErr(t, "ReadVersion by id", err)
		if v.Number != 3 {
			t.Fatalf("ReadVersion: got version %d, want 3", v.Number)
		}

		// UpdateSecret leaves it alone when nil, removes it with the zero time.
		s, err = e.s.UpdateSecret(e.ctx, st.AccountID, s.ID, &coffer.SecretUpdate{Comment: ptr("c"), At: e.now()}, e.ev("secret.update"))
		noErr(t, "UpdateSecret without ExpiresAt", err)
		want.Comment, want.UpdatedAt = "c", s.UpdatedAt
		checkSecret(t, "after an update without expiry", e.secret(s, s.ID), &want)
		s, err = e.s.UpdateSecret(e.ctx, st.AccountID, s.ID, &coffer.SecretUpdate{ExpiresAt: &time.Time{}, At: e.now()}, e.ev("secret.update"))
		noErr(t, "UpdateSecret removing ExpiresAt", err)
		want.ExpiresAt, want.UpdatedAt = nil, s.UpdatedAt
		checkSecret(t, "after removing the expiry", e.secret(s, s.ID), &want)
		got, _, err = e.s.ReadVersion(e.ctx, st.AccountID, st.ID, "db/password", 0)
		noErr(t, "ReadVersion", err)
		checkSecret(t, "ReadVersion after removing the expiry", got, &want)

		// A refused write leaves the expiry as it was.
		_, err = e.s.WriteSecret(e.ctx, &coffer.SecretWrite{AccountID: st.AccountID, StoreID: st.ID, Name: "db/password", IfVersion: 1,
			Seal: seal("v4"), At: e.now(), Update: &coffer.SecretUpdate{ExpiresAt: &exp}}, e.ev("secret.write"))
		wantCode(t, "WriteSecret(IfVersion 1) with an expiry", err, coffer.EPRECONDITION)
		checkSecret(t, "after a refused write", e.secret(s, s.ID), &want)
	})
}

func (r *runner) secretLifecycle() {
	r.run("Secret/SoftDelete", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		ev := e.ev("secret.delete")
		at := e.now()
		got, err := e.s.UpdateSecret(e.ctx, s.AccountID, s.ID, &coffer.SecretUpdate{Status: ptr(coffer.StatusDeleted), At: at}, ev)
		noErr(t, "UpdateSecret(deleted)", err)
		want := *s
		want.Status, want.DeletedAt, want.UpdatedAt = coffer.StatusDeleted, &at, at
		checkSecret(t, "UpdateSecret result", got, &want)
		checkSecret(t, "Secret by id", e.secret(s, s.ID), &want)
		if ev.Outcome != "ok" || ev.SecretID != s.ID {
			t.Fatalf("event: got outcome %q secret %q, want ok %q", ev.Outcome, ev.SecretID, s.ID)
		}
		_, err = e.s.Secret(e.ctx, s.AccountID, s.StoreID, "db/password")
		wantCode(t, "Secret by the name of a deleted secret", err, coffer.ENOTFOUND)
		for _, ref := range []string{"db/password", s.ID} {
			_, _, err = e.s.ReadVersion(e.ctx, s.AccountID, st.ID, ref, 0)
			wantCode(t, "ReadVersion("+ref+") of a deleted secret", err, coffer.ENOTFOUND)
			_, _, err = e.s.ReadVersion(e.ctx, s.AccountID, st.ID, ref, 1)
			wantCode(t, "ReadVersion("+ref+", 1) of a deleted secret", err, coffer.ENOTFOUND)
		}
		_, err = e.setStatus(s, coffer.StatusDeleted)
		wantCode(t, "deleting a deleted secret", err, coffer.ENOTFOUND)
		vs, err := e.s.Versions(e.ctx, s.AccountID, s.ID)
		noErr(t, "Versions of a deleted secret", err)
		if len(vs) != 1 {
			t.Fatalf("Versions of a deleted secret: got %d, want 1", len(vs))
		}
	})
	r.run("Secret/RefIDFirst", func(t *testing.T, e *env) {
		// A ref that is an id names the secret with that id, even when a
		// live (legacy) secret is named like it; only when no secret of the
		// store has that id does it name the legacy secret. Other refs are
		// names only.
		st := e.store(e.account(), "prod")
		real := e.create(st, "db/password", "real")
		shadow := e.create(st, real.ID, "shadow") // a legacy name: another secret's id
		for _, ref := range []string{real.ID, "db/password"} {
			if got := e.secret(real, ref); got.ID != real.ID {
				t.Fatalf("Secret(%s): got %s (%s), want %s", ref, got.ID, got.Name, real.ID)
			}
			if got, want := e.value(st, ref, 0), ciphertext(real.ID, 1, "real"); got != want {
				t.Fatalf("ReadVersion(%s): got %q, want %q", ref, got, want)
			}
		}
		if got := e.secret(shadow, shadow.ID); got.ID != shadow.ID {
			t.Fatalf("Secret(shadow id): got %s, want %s", got.ID, shadow.ID)
		}
		legacy := e.create(st, "0123456789abcdef0123456789abcdef", "legacy") // no secret has that id
		if got := e.secret(legacy, legacy.Name); got.ID != legacy.ID {
			t.Fatalf("Secret(legacy name): got %s, want %s", got.ID, legacy.ID)
		}
		if got, want := e.value(st, legacy.Name, 0), ciphertext(legacy.ID, 1, "legacy"); got != want {
			t.Fatalf("ReadVersion(legacy name): got %q, want %q", got, want)
		}
		// A deleted secret's id still names it: no fallback to the name.
		e.delete(real)
		if got := e.secret(real, real.ID); got.ID != real.ID || got.Status != coffer.StatusDeleted {
			t.Fatalf("Secret(deleted id): got %s %q, want %s deleted", got.ID, got.Status, real.ID)
		}
		_, _, err := e.s.ReadVersion(e.ctx, st.AccountID, st.ID, real.ID, 0)
		wantCode(t, "ReadVersion(deleted id)", err, coffer.ENOTFOUND)
	})
	r.run("Secret/NameReusableAfterDelete", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		old := e.delete(e.create(st, "db/password", "old"))
		s := e.create(st, "db/password", "new")
		if s.ID == old.ID || s.Version != 1 {
			t.Fatalf("new secret: got id %s version %d, want a new id and version 1", s.ID, s.Version)
		}
		if got := e.secret(s, "db/password"); got.ID != s.ID {
			t.Fatalf("Secret by name: got %s, want the live %s", got.ID, s.ID)
		}
		if got := e.secret(s, old.ID); got.ID != old.ID || got.Status != coffer.StatusDeleted {
			t.Fatalf("Secret by old id: got %s %q, want %s deleted", got.ID, got.Status, old.ID)
		}
		if got, want := e.value(st, "db/password", 0), ciphertext(s.ID, 1, "new"); got != want {
			t.Fatalf("ReadVersion by name: got %q, want %q", got, want)
		}
	})
	r.run("Secret/Undelete", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		old := e.delete(e.create(st, "db/password", "old"))
		s := e.create(st, "db/password", "new")

		ev := e.ev("secret.undelete")
		_, err := e.s.UpdateSecret(e.ctx, old.AccountID, old.ID, &coffer.SecretUpdate{Status: ptr(coffer.StatusActive), At: e.now()}, ev)
		wantCode(t, "undelete while the name is live", err, coffer.ECONFLICT)
		if ev.Outcome != coffer.ECONFLICT {
			t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.ECONFLICT)
		}
		checkSecret(t, "Secret after refused undelete", e.secret(old, old.ID), old)

		e.delete(s)
		got, err := e.setStatus(old, coffer.StatusActive)
		noErr(t, "undelete after the name is free", err)
		if got.ID != old.ID || got.Status != coffer.StatusActive || got.DeletedAt != nil || got.Version != 1 {
			t.Fatalf("undeleted: got %s %q deleted_at %v v%d, want %s active nil v1", got.ID, got.Status, got.DeletedAt, got.Version, old.ID)
		}
		if got := e.secret(old, "db/password"); got.ID != old.ID {
			t.Fatalf("Secret by name after undelete: got %s, want %s", got.ID, old.ID)
		}
		if got, want := e.value(st, "db/password", 0), ciphertext(old.ID, 1, "old"); got != want {
			t.Fatalf("ReadVersion after undelete: got %q, want %q", got, want)
		}
	})
	r.run("Secret/UndeletePending", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.delete(e.createPending(st, "api/token"))
		got, err := e.setStatus(s, coffer.StatusActive)
		noErr(t, "undelete", err)
		if got.Status != coffer.StatusPending || got.Version != 0 {
			t.Fatalf("undeleted secret without versions: got %q v%d, want pending v0", got.Status, got.Version)
		}
		if got := e.secret(s, s.ID); got.Status != coffer.StatusPending {
			t.Fatalf("Secret: got status %q, want pending", got.Status)
		}
	})
	r.run("Secret/UpdateMetadata", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		w := e.newSecret(st, "db/password", seal("v1"))
		w.Create.Comment, w.Create.Labels = "first", map[string]string{"a": "1", "b": "2"}
		w.Create.Scopes, w.Create.Attributes = []string{"workers"}, map[string]string{"purpose": "x"}
		s, err := e.s.WriteSecret(e.ctx, w, e.ev("secret.create"))
		noErr(t, "WriteSecret", err)

		at := e.now()
		ev := e.ev("secret.update")
		got, err := e.s.UpdateSecret(e.ctx, s.AccountID, s.ID, &coffer.SecretUpdate{
			Labels: map[string]string{"c": "3"}, Scopes: []string{"ai_gateway", "workers"}, At: at}, ev)
		noErr(t, "UpdateSecret", err)
		want := *s
		want.Labels, want.Scopes, want.UpdatedAt = map[string]string{"c": "3"}, []string{"ai_gateway", "workers"}, at
		checkSecret(t, "UpdateSecret result", got, &want)
		checkSecret(t, "Secret", e.secret(s, s.ID), &want)
		if ev.Outcome != "ok" || ev.SecretID != s.ID {
			t.Fatalf("event: got outcome %q secret %q, want ok %q", ev.Outcome, ev.SecretID, s.ID)
		}

		at = e.now()
		got, err = e.s.UpdateSecret(e.ctx, s.AccountID, s.ID, &coffer.SecretUpdate{
			Comment: ptr("second"), Attributes: map[string]string{}, IfVersion: 1, At: at}, e.ev("secret.update"))
		noErr(t, "UpdateSecret(IfVersion 1)", err)
		want.Comment, want.Attributes, want.UpdatedAt = "second", nil, at
		checkSecret(t, "UpdateSecret result", got, &want)
		checkSecret(t, "Secret", e.secret(s, s.ID), &want)
		if got.Version != 1 {
			t.Fatalf("Version after a metadata update: got %d, want 1", got.Version)
		}
	})
	r.run("Secret/UpdateKeepUpdatedAt", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		w := e.newSecret(st, "db/password", seal("v1"))
		w.Create.Attributes = map[string]string{"unused": "1"}
		s, err := e.s.WriteSecret(e.ctx, w, e.ev("secret.create"))
		noErr(t, "WriteSecret", err)

		got, err := e.s.UpdateSecret(e.ctx, s.AccountID, s.ID, &coffer.SecretUpdate{
			Attributes: map[string]string{}, At: e.now(), KeepUpdatedAt: true}, e.ev("secret.activate"))
		noErr(t, "UpdateSecret", err)
		want := *s
		want.Attributes = nil
		checkSecret(t, "UpdateSecret result", got, &want)
		checkSecret(t, "Secret", e.secret(s, s.ID), &want)
	})
	r.run("Secret/UpdateErrPrecondition", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		ev := e.ev("secret.update")
		_, err := e.s.UpdateSecret(e.ctx, s.AccountID, s.ID, &coffer.SecretUpdate{Comment: ptr("x"), IfVersion: 2, At: e.now()}, ev)
		wantCode(t, "UpdateSecret(IfVersion 2) at version 1", err, coffer.EPRECONDITION)
		if ev.Outcome != coffer.EPRECONDITION {
			t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.EPRECONDITION)
		}
		_, err = e.s.UpdateSecret(e.ctx, s.AccountID, s.ID, &coffer.SecretUpdate{Status: ptr(coffer.StatusDeleted), IfVersion: 2, At: e.now()}, e.ev("secret.delete"))
		wantCode(t, "delete with IfVersion 2 at version 1", err, coffer.EPRECONDITION)
		checkSecret(t, "Secret after refused updates", e.secret(s, s.ID), s)
	})
	r.run("Secret/UpdateErrNotFound", func(t *testing.T, e *env) {
		a := e.account()
		_, err := e.s.UpdateSecret(e.ctx, a.ID, coffer.NewID(), &coffer.SecretUpdate{Comment: ptr("x"), At: e.now()}, e.ev("secret.update"))
		wantCode(t, "UpdateSecret of a missing secret", err, coffer.ENOTFOUND)
	})
	r.run("Secret/ByRef", func(t *testing.T, e *env) {
		a := e.account()
		st, other := e.store(a, "prod"), e.store(a, "dev")
		s := e.create(st, "db/password", "v1")
		checkSecret(t, "Secret by name", e.secret(s, "db/password"), s)
		checkSecret(t, "Secret by id", e.secret(s, s.ID), s)
		for _, c := range []struct{ what, store, ref string }{
			{"missing name", st.ID, "nope"},
			{"missing id", st.ID, coffer.NewID()},
			{"name in another store", other.ID, "db/password"},
			{"id in another store", other.ID, s.ID},
		} {
			_, err := e.s.Secret(e.ctx, a.ID, c.store, c.ref)
			wantCode(t, "Secret of a "+c.what, err, coffer.ENOTFOUND)
		}
	})
	r.run("Secret/ByID", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		st, other := e.store(a, "prod"), e.store(a, "dev")
		s := e.create(st, "db/password", "v1")
		o := e.create(other, "db/password", "v1")
		for _, want := range []*coffer.Secret{s, o} {
			got, err := e.s.SecretByID(e.ctx, a.ID, want.ID)
			noErr(t, "SecretByID", err)
			checkSecret(t, "SecretByID", got, want)
		}
		deleted := e.delete(s)
		got, err := e.s.SecretByID(e.ctx, a.ID, s.ID)
		noErr(t, "SecretByID of a deleted secret", err)
		checkSecret(t, "SecretByID of a deleted secret", got, deleted)
		// An id is not a name: a secret named like another's id is not
		// found by it unless its own id matches.
		named := e.create(other, coffer.NewID(), "v1")
		_, err = e.s.SecretByID(e.ctx, a.ID, named.Name)
		wantCode(t, "SecretByID of a name", err, coffer.ENOTFOUND)
		_, err = e.s.SecretByID(e.ctx, b.ID, o.ID)
		wantCode(t, "SecretByID from another account", err, coffer.ENOTFOUND)
		_, err = e.s.SecretByID(e.ctx, a.ID, coffer.NewID())
		wantCode(t, "SecretByID of a missing id", err, coffer.ENOTFOUND)
	})
	r.run("Secret/UpdateIfVersionMinusOne", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		live := e.create(st, "live", "v1")
		_, err := e.s.UpdateSecret(e.ctx, live.AccountID, live.ID, &coffer.SecretUpdate{Comment: ptr("x"), IfVersion: -1, At: e.now()}, e.ev("secret.update"))
		wantCode(t, "UpdateSecret(IfVersion -1) of a live secret", err, coffer.EPRECONDITION)

		old := e.delete(e.create(st, "name", "v1"))
		taken := e.create(st, "name", "v1")
		_, err = e.s.UpdateSecret(e.ctx, old.AccountID, old.ID, &coffer.SecretUpdate{Status: ptr(coffer.StatusActive), IfVersion: -1, At: e.now()}, e.ev("secret.undelete"))
		wantCode(t, "undelete with IfVersion -1 while the name is live", err, coffer.EPRECONDITION)
		e.delete(taken)
		got, err := e.s.UpdateSecret(e.ctx, old.AccountID, old.ID, &coffer.SecretUpdate{Status: ptr(coffer.StatusActive), IfVersion: -1, At: e.now()}, e.ev("secret.undelete"))
		noErr(t, "undelete with IfVersion -1 once the name is free", err)
		if got.Status != coffer.StatusActive {
			t.Fatalf("undeleted: got status %q, want active", got.Status)
		}
	})
	r.run("Secret/CompareAndSetRace", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		const n = 16
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = e.write(st, "db/password", fmt.Sprint("racer", i), 1) })
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch coffer.ErrorCode(err) {
			case "":
				won++
			case coffer.EPRECONDITION:
			default:
				t.Fatalf("writer %d: got %v, want success or %s", i, err, coffer.EPRECONDITION)
			}
		}
		if won != 1 {
			t.Fatalf("winners: got %d, want exactly 1", won)
		}
		if got := e.secret(s, s.ID); got.Version != 2 {
			t.Fatalf("Version: got %d, want 2", got.Version)
		}
	})
	r.run("Secret/PurgeErrConflictLive", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		for _, s := range []*coffer.Secret{e.create(st, "active", "v1"), e.createPending(st, "pending")} {
			ev := e.ev("secret.purge")
			wantCode(t, "PurgeSecret of a live secret", e.s.PurgeSecret(e.ctx, s.AccountID, s.ID, ev), coffer.ECONFLICT)
			if ev.Outcome != coffer.ECONFLICT {
				t.Fatalf("event outcome: got %q, want %q", ev.Outcome, coffer.ECONFLICT)
			}
			checkSecret(t, "Secret after refused purge", e.secret(s, s.ID), s)
		}
	})
	r.run("Secret/Purge", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		e.put(st, "db/password", "v2")
		e.delete(s)
		keep := e.create(st, "db/password", "new")
		ev := e.ev("secret.purge")
		noErr(t, "PurgeSecret", e.s.PurgeSecret(e.ctx, s.AccountID, s.ID, ev))
		if ev.Outcome != "ok" || ev.SecretID != s.ID {
			t.Fatalf("event: got outcome %q secret %q, want ok %q", ev.Outcome, ev.SecretID, s.ID)
		}
		_, err := e.s.Secret(e.ctx, s.AccountID, st.ID, s.ID)
		wantCode(t, "Secret by id after purge", err, coffer.ENOTFOUND)
		vs, err := e.s.Versions(e.ctx, s.AccountID, s.ID)
		if len(vs) != 0 || (err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND) {
			t.Fatalf("Versions after purge: got %d versions and %v, want none", len(vs), err)
		}
		wantCode(t, "PurgeSecret twice", e.s.PurgeSecret(e.ctx, s.AccountID, s.ID, e.ev("secret.purge")), coffer.ENOTFOUND)
		checkSecret(t, "the live secret of the same name", e.secret(keep, "db/password"), keep)
	})
}

func (r *runner) secretListing() {
	r.run("Secrets/OrderAndPaging", func(t *testing.T, e *env) {
		a := e.account()
		st, other := e.store(a, "prod"), e.store(a, "dev")
		var all []*coffer.Secret
		for _, name := range []string{"m", "b", "z", "a/2", "a/1", "k"} {
			all = append(all, e.create(st, name, "v"))
		}
		// Deleted secrets share names with live ones.
		for range 2 {
			all = append(all, e.delete(e.create(st, "dup", "v")))
		}
		all = append(all, e.create(st, "dup", "v"))
		e.create(other, "elsewhere", "v")
		slices.SortFunc(all, func(x, y *coffer.Secret) int {
			return strings.Compare(x.Name+"\x00"+x.ID, y.Name+"\x00"+y.ID)
		})
		var live []*coffer.Secret
		for _, s := range all {
			if s.Status != coffer.StatusDeleted {
				live = append(live, s)
			}
		}
		for _, c := range []struct {
			what string
			q    coffer.SecretQuery
			want []*coffer.Secret
		}{
			{"live", coffer.SecretQuery{Limit: 2}, live},
			{"with deleted", coffer.SecretQuery{Limit: 2, IncludeDeleted: true}, all},
			{"with deleted, pages of 1", coffer.SecretQuery{Limit: 1, IncludeDeleted: true}, all},
		} {
			var got []*coffer.Secret
			q := c.q
			for range 20 {
				page, err := e.s.Secrets(e.ctx, a.ID, st.ID, q)
				noErr(t, "Secrets", err)
				if len(page) > q.Limit {
					t.Fatalf("Secrets(limit %d): got %d", q.Limit, len(page))
				}
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				last := page[len(page)-1]
				q.AfterName, q.AfterID = last.Name, last.ID
			}
			if !slices.Equal(ids(got), ids(c.want)) {
				t.Fatalf("Secrets %s: got %v, want %v", c.what, names(got), names(c.want))
			}
		}
		got, err := e.s.Secrets(e.ctx, a.ID, st.ID, coffer.SecretQuery{IncludeDeleted: true})
		noErr(t, "Secrets without limit", err)
		if !slices.Equal(ids(got), ids(all)) {
			t.Fatalf("Secrets without limit: got %v, want %v", names(got), names(all))
		}
		for i := range got {
			checkSecret(t, "listed secret", got[i], all[i])
		}
	})
	r.run("Secrets/Prefix", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		for _, name := range []string{"db", "db/a", "db/b", "db/c", "dbx", "da", "dc", "web/db/a"} {
			e.create(st, name, "v")
		}
		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"db/", []string{"db/a", "db/b", "db/c"}},
			{"db", []string{"db", "db/a", "db/b", "db/c", "dbx"}},
			{"web/", []string{"web/db/a"}},
			{"nope", nil},
		} {
			got, err := e.s.Secrets(e.ctx, st.AccountID, st.ID, coffer.SecretQuery{Prefix: c.prefix})
			noErr(t, "Secrets", err)
			if !slices.Equal(names(got), c.want) {
				t.Fatalf("Secrets(prefix %q): got %v, want %v", c.prefix, names(got), c.want)
			}
			// The same, one page at a time.
			got = nil
			q := coffer.SecretQuery{Prefix: c.prefix, Limit: 1}
			for range 10 {
				page, err := e.s.Secrets(e.ctx, st.AccountID, st.ID, q)
				noErr(t, "Secrets", err)
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				q.AfterName, q.AfterID = page[0].Name, page[0].ID
			}
			if !slices.Equal(names(got), c.want) {
				t.Fatalf("Secrets(prefix %q) in pages of 1: got %v, want %v", c.prefix, names(got), c.want)
			}
		}
	})
	r.run("Secrets/IncludeDeleted", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		live := e.create(st, "live", "v")
		pending := e.createPending(st, "pending")
		gone := e.delete(e.create(st, "gone", "v"))
		got, err := e.s.Secrets(e.ctx, st.AccountID, st.ID, coffer.SecretQuery{})
		noErr(t, "Secrets", err)
		if want := []string{live.ID, pending.ID}; !slices.Equal(ids(got), want) {
			t.Fatalf("Secrets: got %v, want live and pending", names(got))
		}
		got, err = e.s.Secrets(e.ctx, st.AccountID, st.ID, coffer.SecretQuery{IncludeDeleted: true})
		noErr(t, "Secrets(IncludeDeleted)", err)
		if want := []string{gone.ID, live.ID, pending.ID}; !slices.Equal(ids(got), want) {
			t.Fatalf("Secrets(IncludeDeleted): got %v, want gone, live, pending", names(got))
		}
		if got[0].Status != coffer.StatusDeleted || got[0].DeletedAt == nil {
			t.Fatalf("deleted secret in listing: got %q deleted_at %v, want deleted with a time", got[0].Status, got[0].DeletedAt)
		}
	})
}

func names(ss []*coffer.Secret) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}
