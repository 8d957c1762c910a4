package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// appRole adds a role named name to a with a new key of principal p.
func (e *env) appRole(a *coffer.Account, p *coffer.Principal, name string) *coffer.AppRole {
	e.t.Helper()
	r := &coffer.AppRole{RoleID: coffer.NewID(), AccountID: a.ID, Name: name, PrincipalID: p.ID,
		Scopes: []coffer.Scope{{Store: "app", Actions: []coffer.Action{coffer.ActionRead}}}, TokenTTL: time.Hour,
		SecretIDBoundCIDRs: []string{"10.0.0.0/8"}, CreatedAt: e.now(), UpdatedAt: e.now()}
	k := &coffer.APIKey{ID: coffer.NewID(), AccountID: a.ID, PrincipalID: p.ID, Name: "approle:" + name,
		Scopes: r.Scopes, Hash: []byte("h"), CreatedAt: e.now()}
	noErr(e.t, "CreateAppRole", e.s.CreateAppRole(e.ctx, r, k, e.ev("approle.create")))
	return r
}

// appRoleSecret adds a secret id with uses uses to r.
func (e *env) appRoleSecret(r *coffer.AppRole, hash string, uses int) *coffer.AppRoleSecret {
	e.t.Helper()
	sec := &coffer.AppRoleSecret{Accessor: coffer.NewID(), AccountID: r.AccountID, RoleID: r.RoleID, Hash: []byte(hash),
		CreatedAt: e.now(), NumUses: uses, UsesLeft: uses, BoundCIDRs: []string{"10.1.0.0/16"}, Metadata: map[string]string{"env": "ci"}}
	noErr(e.t, "CreateAppRoleSecret", e.s.CreateAppRoleSecret(e.ctx, sec, e.ev("approle.secret-id.create")))
	return sec
}

func (r *runner) appRoles() {
	r.run("AppRole/OK", func(t *testing.T, e *env) {
		a := e.account()
		p := e.principal(a, "svc")
		role := e.appRole(a, p, "ci")
		got, err := e.s.AppRole(e.ctx, a.ID, "ci")
		noErr(t, "AppRole", err)
		if got.RoleID != role.RoleID || got.KeyID == "" || got.PrincipalID != p.ID || got.TokenTTL != time.Hour ||
			len(got.Scopes) != 1 || got.Scopes[0].Store != "app" || len(got.SecretIDBoundCIDRs) != 1 {
			t.Fatalf("AppRole: got %+v, want %+v", got, role)
		}
		byID, err := e.s.AppRoleByID(e.ctx, role.RoleID)
		noErr(t, "AppRoleByID", err)
		if byID.Name != "ci" || byID.AccountID != a.ID {
			t.Fatalf("AppRoleByID: got %s in %s, want ci in %s", byID.Name, byID.AccountID, a.ID)
		}
		k, err := e.s.APIKey(e.ctx, got.KeyID)
		noErr(t, "APIKey", err)
		if k.Name != "approle:ci" || k.PrincipalID != p.ID {
			t.Fatalf("role key: got %s of %s, want approle:ci of %s", k.Name, k.PrincipalID, p.ID)
		}
		e.appRole(a, p, "app")
		list, err := e.s.AppRoles(e.ctx, a.ID)
		noErr(t, "AppRoles", err)
		if len(list) != 2 || list[0].Name != "app" || list[1].Name != "ci" {
			t.Fatalf("AppRoles: got %d roles, want app, ci", len(list))
		}
	})
	r.run("AppRole/ErrConflict", func(t *testing.T, e *env) {
		a := e.account()
		p := e.principal(a, "svc")
		e.appRole(a, p, "ci")
		r := &coffer.AppRole{RoleID: coffer.NewID(), AccountID: a.ID, Name: "ci", PrincipalID: p.ID}
		k := &coffer.APIKey{ID: coffer.NewID(), AccountID: a.ID, PrincipalID: p.ID, Name: "approle:ci", Hash: []byte("h")}
		wantCode(t, "CreateAppRole twice", e.s.CreateAppRole(e.ctx, r, k, e.ev("approle.create")), coffer.ECONFLICT)
		if _, err := e.s.APIKey(e.ctx, k.ID); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("key of a refused role: got %v, want ENOTFOUND (one transaction)", err)
		}
	})
	r.run("AppRole/Isolation", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		role := e.appRole(a, e.principal(a, "svc"), "ci")
		_, err := e.s.AppRole(e.ctx, b.ID, "ci")
		wantCode(t, "AppRole of another account", err, coffer.ENOTFOUND)
		wantCode(t, "DeleteAppRole of another account", e.s.DeleteAppRole(e.ctx, b.ID, role.RoleID, e.now(), e.ev("approle.delete")), coffer.ENOTFOUND)
		sec := &coffer.AppRoleSecret{Accessor: coffer.NewID(), AccountID: b.ID, RoleID: role.RoleID, Hash: []byte("x")}
		wantCode(t, "CreateAppRoleSecret in another account", e.s.CreateAppRoleSecret(e.ctx, sec, e.ev("x")), coffer.ENOTFOUND)
		list, err := e.s.AppRoles(e.ctx, b.ID)
		noErr(t, "AppRoles", err)
		if len(list) != 0 {
			t.Fatalf("AppRoles of another account: got %d, want 0", len(list))
		}
	})
	r.run("AppRole/UpdateReplacesKey", func(t *testing.T, e *env) {
		a := e.account()
		p := e.principal(a, "svc")
		role := e.appRole(a, p, "ci")
		old := role.KeyID
		role.Scopes = []coffer.Scope{{Store: "other", Actions: []coffer.Action{coffer.ActionRead}}}
		role.TokenTTL = time.Minute
		role.UpdatedAt = e.now()
		k := &coffer.APIKey{ID: coffer.NewID(), AccountID: a.ID, PrincipalID: p.ID, Name: "approle:ci", Scopes: role.Scopes, Hash: []byte("h2")}
		noErr(t, "UpdateAppRole", e.s.UpdateAppRole(e.ctx, role, k, e.ev("approle.update")))
		got, err := e.s.AppRole(e.ctx, a.ID, "ci")
		noErr(t, "AppRole", err)
		if got.KeyID != k.ID || got.TokenTTL != time.Minute || got.Scopes[0].Store != "other" {
			t.Fatalf("after update: got key %s ttl %s, want %s 1m", got.KeyID, got.TokenTTL, k.ID)
		}
		ok, err := e.s.APIKey(e.ctx, old)
		noErr(t, "APIKey", err)
		if ok.RevokedAt == nil {
			t.Fatal("the role's former key is not revoked")
		}
		role.UpdatedAt = e.now()
		noErr(t, "UpdateAppRole without key", e.s.UpdateAppRole(e.ctx, role, nil, e.ev("approle.update")))
		if got, _ := e.s.AppRole(e.ctx, a.ID, "ci"); got.KeyID != k.ID {
			t.Fatalf("update without a key: got key %s, want %s", got.KeyID, k.ID)
		}
	})
	r.run("AppRole/DeleteRevokesKey", func(t *testing.T, e *env) {
		a := e.account()
		role := e.appRole(a, e.principal(a, "svc"), "ci")
		sec := e.appRoleSecret(role, "h1", 0)
		noErr(t, "DeleteAppRole", e.s.DeleteAppRole(e.ctx, a.ID, role.RoleID, e.now(), e.ev("approle.delete")))
		_, err := e.s.AppRoleByID(e.ctx, role.RoleID)
		wantCode(t, "AppRoleByID after delete", err, coffer.ENOTFOUND)
		_, err = e.s.AppRoleSecret(e.ctx, role.RoleID, sec.Hash)
		wantCode(t, "AppRoleSecret after delete", err, coffer.ENOTFOUND)
		k, err := e.s.APIKey(e.ctx, role.KeyID)
		noErr(t, "APIKey", err)
		if k.RevokedAt == nil {
			t.Fatal("the deleted role's key is not revoked")
		}
	})
	r.run("AppRoleSecret/OK", func(t *testing.T, e *env) {
		a := e.account()
		role := e.appRole(a, e.principal(a, "svc"), "ci")
		exp := e.now().Add(time.Hour)
		sec := &coffer.AppRoleSecret{Accessor: coffer.NewID(), AccountID: a.ID, RoleID: role.RoleID, Hash: []byte("h1"),
			CreatedAt: e.now(), ExpiresAt: &exp, NumUses: 3, UsesLeft: 3, BoundCIDRs: []string{"10.1.0.0/16"},
			Metadata: map[string]string{"env": "ci"}}
		noErr(t, "CreateAppRoleSecret", e.s.CreateAppRoleSecret(e.ctx, sec, e.ev("approle.secret-id.create")))
		got, err := e.s.AppRoleSecret(e.ctx, role.RoleID, []byte("h1"))
		noErr(t, "AppRoleSecret", err)
		if got.Accessor != sec.Accessor || got.UsesLeft != 3 || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) ||
			got.Metadata["env"] != "ci" || len(got.BoundCIDRs) != 1 {
			t.Fatalf("AppRoleSecret: got %+v, want %+v", got, sec)
		}
		_, err = e.s.AppRoleSecret(e.ctx, role.RoleID, []byte("h2"))
		wantCode(t, "AppRoleSecret of another hash", err, coffer.ENOTFOUND)
		e.appRoleSecret(role, "h2", 0)
		list, err := e.s.AppRoleSecrets(e.ctx, a.ID, role.RoleID)
		noErr(t, "AppRoleSecrets", err)
		if len(list) != 2 || list[0].Accessor != sec.Accessor {
			t.Fatalf("AppRoleSecrets: got %d, want 2, oldest first", len(list))
		}
		wantCode(t, "DeleteAppRoleSecret of another account",
			e.s.DeleteAppRoleSecret(e.ctx, e.account().ID, role.RoleID, sec.Accessor, e.ev("x")), coffer.ENOTFOUND)
		noErr(t, "DeleteAppRoleSecret", e.s.DeleteAppRoleSecret(e.ctx, a.ID, role.RoleID, sec.Accessor, e.ev("approle.secret-id.destroy")))
		wantCode(t, "DeleteAppRoleSecret twice",
			e.s.DeleteAppRoleSecret(e.ctx, a.ID, role.RoleID, sec.Accessor, e.ev("approle.secret-id.destroy")), coffer.ENOTFOUND)
	})
	r.run("AppRoleSecret/Uses", func(t *testing.T, e *env) {
		a := e.account()
		role := e.appRole(a, e.principal(a, "svc"), "ci")
		sec := e.appRoleSecret(role, "h1", 2)
		noErr(t, "UseAppRoleSecret 1", e.s.UseAppRoleSecret(e.ctx, role.RoleID, sec.Accessor, e.ev("approle.login")))
		if got, _ := e.s.AppRoleSecret(e.ctx, role.RoleID, sec.Hash); got == nil || got.UsesLeft != 1 {
			t.Fatalf("uses left after one use: got %+v, want 1", got)
		}
		noErr(t, "UseAppRoleSecret 2", e.s.UseAppRoleSecret(e.ctx, role.RoleID, sec.Accessor, e.ev("approle.login")))
		ev := e.ev("approle.login")
		wantCode(t, "UseAppRoleSecret 3", e.s.UseAppRoleSecret(e.ctx, role.RoleID, sec.Accessor, ev), coffer.ENOTFOUND)
		if ev.Outcome != coffer.ENOTFOUND || ev.Seq == 0 {
			t.Fatalf("refused use's event: got outcome %q seq %d, want ENOTFOUND and recorded", ev.Outcome, ev.Seq)
		}
		free := e.appRoleSecret(role, "h2", 0)
		for i := 0; i < 3; i++ {
			noErr(t, "UseAppRoleSecret unlimited", e.s.UseAppRoleSecret(e.ctx, role.RoleID, free.Accessor, e.ev("approle.login")))
		}
		wantCode(t, "UseAppRoleSecret of another role", e.s.UseAppRoleSecret(e.ctx, coffer.NewID(), free.Accessor, e.ev("x")), coffer.ENOTFOUND)
	})
	r.run("AppRoleSecret/LastUseOnce", func(t *testing.T, e *env) {
		a := e.account()
		role := e.appRole(a, e.principal(a, "svc"), "ci")
		for round := 0; round < 5; round++ {
			sec := e.appRoleSecret(role, "h"+string(rune('a'+round)), 1)
			const n = 8
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = e.s.UseAppRoleSecret(e.ctx, role.RoleID, sec.Accessor, e.ev("approle.login"))
				}()
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
				} else if c := coffer.ErrorCode(err); c != coffer.ENOTFOUND && c != coffer.ECONFLICT {
					t.Fatalf("concurrent use: got %v, want ENOTFOUND or ECONFLICT", err)
				}
			}
			if won != 1 {
				t.Fatalf("concurrent uses of the last use: %d succeeded, want exactly 1", won)
			}
		}
	})
}
