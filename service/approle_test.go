package service_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// approleEnv is a service with stores "app" and "other", one secret each,
// and a role "ci" that reveals "app" only.
type approleEnv struct {
	t    *testing.T
	svc  *service.Service
	root context.Context
	clk  *svctest.Clock
	role *coffer.AppRole
}

func newApproleEnv(t *testing.T, in *coffer.AppRoleCreate) *approleEnv {
	t.Helper()
	clk := svctest.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	svc, root := mustOpenServiceClock(t, clk)
	for _, st := range []string{"app", "other"} {
		if _, err := svc.CreateStore(root, &coffer.StoreCreate{Name: st}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.PutSecret(root, st, &coffer.SecretPut{Name: "k", Value: []byte("v-" + st)}); err != nil {
			t.Fatal(err)
		}
	}
	if in.Name == "" {
		in.Name = "ci"
	}
	if in.Scopes == nil {
		in.Scopes = []coffer.Scope{{Store: "app", Actions: []coffer.Action{coffer.ActionReveal}}}
	}
	role, err := svc.CreateAppRole(root, in)
	if err != nil {
		t.Fatal(err)
	}
	return &approleEnv{t: t, svc: svc, root: root, clk: clk, role: role}
}

func (e *approleEnv) secretID(in *coffer.AppRoleSecretCreate) string {
	e.t.Helper()
	if in == nil {
		in = &coffer.AppRoleSecretCreate{}
	}
	_, sid, err := e.svc.CreateAppRoleSecret(e.root, e.role.Name, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return sid
}

// as returns the context of the caller the token authenticates.
func (e *approleEnv) as(tok string) (context.Context, error) {
	c, err := e.svc.Authenticate(context.Background(), coffer.Credential{Token: tok, RemoteIP: "192.0.2.7"})
	if err != nil {
		return nil, err
	}
	return coffer.NewContext(context.Background(), c), nil
}

func TestAppRoleLogin(t *testing.T) {
	e := newApproleEnv(t, &coffer.AppRoleCreate{TokenTTL: 10 * time.Minute})
	sid := e.secretID(nil)
	if !strings.HasPrefix(sid, "csi_") || len(e.role.RoleID) != 36 {
		t.Fatalf("got secret id %d chars, role id %q; want csi_ and a UUID", len(sid), e.role.RoleID)
	}
	tok, err := e.svc.AppRoleLogin(context.Background(), e.role.RoleID, sid, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	if want := e.clk.Now().Add(10 * time.Minute); !tok.ExpiresAt.Equal(want) || !strings.HasPrefix(tok.Token, "cat_") {
		t.Fatalf("token: got expiry %v, want %v", tok.ExpiresAt, want)
	}
	ctx, err := e.as(tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := e.svc.Reveal(ctx, "app", "k", 0); err != nil || string(v.Data) != "v-app" {
		t.Fatalf("Reveal app: got %v, want v-app", err)
	}
	if _, err := e.svc.Reveal(ctx, "other", "k", 0); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("Reveal other: got %v, want EFORBIDDEN", err)
	}
	if _, _, err := e.svc.CreateOwnAPIKey(ctx, "child", nil); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("a role token mints a key: got %v, want EFORBIDDEN (it would outlive the role)", err)
	}
	if _, _, err := e.svc.CreateAPIKey(e.root, &coffer.APIKeyCreate{Name: "approle:x", Admin: true}); coffer.ErrorCode(err) != coffer.EINVALID {
		t.Fatalf("a key named like a role key: got %v, want EINVALID", err)
	}
	if _, err := e.svc.CreateAppRole(ctx, &coffer.AppRoleCreate{Name: "x"}); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("CreateAppRole by a role token: got %v, want EFORBIDDEN", err)
	}
	checkNoSecrets(t, e, sid, tok.Token, e.role.RoleID)
}

// isLoginRefusal reports whether err is the one refusal of every bad login.
func isLoginRefusal(err error) bool {
	var ce *coffer.Error
	return errors.As(err, &ce) && ce.Code == coffer.EUNAUTHORIZED && ce.Message == "invalid role_id or secret_id"
}

// checkNoSecrets fails if any audit event holds one of the strings.
func checkNoSecrets(t *testing.T, e *approleEnv, secrets ...string) {
	t.Helper()
	page, err := e.svc.AuditEvents(e.root, coffer.AuditQuery{Limit: coffer.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range page.Events {
		all := strings.Join([]string{ev.Name, ev.Reason, ev.KeyID, ev.Remote, ev.Action}, "|")
		for _, s := range secrets {
			if strings.Contains(all, s) {
				t.Fatalf("audit event %s holds a secret: %s", ev.Action, all)
			}
		}
	}
}

func TestAppRoleLoginRefusals(t *testing.T) {
	bad := func(t *testing.T, e *approleEnv, roleID, sid, ip, reason string) {
		t.Helper()
		_, err := e.svc.AppRoleLogin(context.Background(), roleID, sid, ip)
		if !isLoginRefusal(err) {
			t.Fatalf("login: got %v, want EUNAUTHORIZED invalid role_id or secret_id", err)
		}
		page, err := e.svc.AuditEvents(e.root, coffer.AuditQuery{Newest: true, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if ev := page.Events[0]; ev.Action != "approle.login" || ev.Outcome == "ok" || !strings.Contains(ev.Reason, reason) {
			t.Fatalf("audit: got %s %s %q, want a refused approle.login: %s", ev.Action, ev.Outcome, ev.Reason, reason)
		}
		checkNoSecrets(t, e, sid, roleID)
	}
	t.Run("UnknownRoleID", func(t *testing.T) {
		e := newApproleEnv(t, &coffer.AppRoleCreate{})
		sid := e.secretID(nil)
		_, err := e.svc.AppRoleLogin(context.Background(), "00000000-0000-4000-8000-000000000000", sid, "192.0.2.7")
		if !isLoginRefusal(err) {
			t.Fatalf("got %v, want the same EUNAUTHORIZED", err)
		}
	})
	t.Run("BadSecretID", func(t *testing.T) {
		e := newApproleEnv(t, &coffer.AppRoleCreate{})
		e.secretID(nil)
		bad(t, e, e.role.RoleID, "csi_"+strings.Repeat("ab", 32), "192.0.2.7", "unknown secret_id")
		bad(t, e, e.role.RoleID, "nope", "192.0.2.7", "malformed secret_id")
	})
	t.Run("OtherRolesSecretID", func(t *testing.T) {
		e := newApproleEnv(t, &coffer.AppRoleCreate{})
		other, err := e.svc.CreateAppRole(e.root, &coffer.AppRoleCreate{Name: "other"})
		if err != nil {
			t.Fatal(err)
		}
		bad(t, e, other.RoleID, e.secretID(nil), "192.0.2.7", "unknown secret_id")
	})
	t.Run("Expired", func(t *testing.T) {
		e := newApproleEnv(t, &coffer.AppRoleCreate{SecretIDTTL: time.Minute})
		sid := e.secretID(nil)
		e.clk.Add(time.Minute)
		bad(t, e, e.role.RoleID, sid, "192.0.2.7", "expired secret_id")
	})
	t.Run("UsedUp", func(t *testing.T) {
		e := newApproleEnv(t, &coffer.AppRoleCreate{SecretIDNumUses: 1})
		sid := e.secretID(nil)
		if _, err := e.svc.AppRoleLogin(context.Background(), e.role.RoleID, sid, "192.0.2.7"); err != nil {
			t.Fatal(err)
		}
		bad(t, e, e.role.RoleID, sid, "192.0.2.7", "unknown secret_id")
	})
	t.Run("CIDR", func(t *testing.T) {
		e := newApproleEnv(t, &coffer.AppRoleCreate{TokenBoundCIDRs: []string{"192.0.2.0/24"}})
		sid := e.secretID(&coffer.AppRoleSecretCreate{CIDRs: []string{"192.0.2.7"}})
		bad(t, e, e.role.RoleID, sid, "192.0.2.8", "outside the secret_id's networks")
		sid2 := e.secretID(nil)
		bad(t, e, e.role.RoleID, sid2, "198.51.100.1", "outside the role's token networks")
		if _, err := e.svc.AppRoleLogin(context.Background(), e.role.RoleID, sid, "192.0.2.7"); err != nil {
			t.Fatalf("login from the bound address: %v", err)
		}
	})
	t.Run("DeletedRole", func(t *testing.T) {
		e := newApproleEnv(t, &coffer.AppRoleCreate{})
		sid := e.secretID(nil)
		tok, err := e.svc.AppRoleLogin(context.Background(), e.role.RoleID, sid, "192.0.2.7")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeleteAppRole(e.root, "ci"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.as(tok.Token); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("token of a deleted role: got %v, want EUNAUTHORIZED", err)
		}
		_, err = e.svc.AppRoleLogin(context.Background(), e.role.RoleID, sid, "192.0.2.7")
		if coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("login to a deleted role: got %v, want EUNAUTHORIZED", err)
		}
	})
	t.Run("DestroyedSecretID", func(t *testing.T) {
		e := newApproleEnv(t, &coffer.AppRoleCreate{})
		sid := e.secretID(nil)
		list, err := e.svc.AppRoleSecrets(e.root, "ci")
		if err != nil || len(list) != 1 {
			t.Fatalf("AppRoleSecrets: got %d, %v; want 1", len(list), err)
		}
		if err := e.svc.DestroyAppRoleSecret(e.root, "ci", list[0].Accessor); err != nil {
			t.Fatal(err)
		}
		bad(t, e, e.role.RoleID, sid, "192.0.2.7", "unknown secret_id")
	})
	t.Run("RateLimit", func(t *testing.T) {
		e := newApproleEnv(t, &coffer.AppRoleCreate{})
		sid := e.secretID(nil)
		var last error
		for i := 0; i < 40; i++ {
			_, last = e.svc.AppRoleLogin(context.Background(), e.role.RoleID, "csi_"+strings.Repeat("00", 32), "192.0.2.9")
		}
		if coffer.ErrorCode(last) != coffer.ERATELIMIT {
			t.Fatalf("after 40 failures: got %v, want ERATELIMIT", last)
		}
		// A valid login is never refused by the limiter.
		if _, err := e.svc.AppRoleLogin(context.Background(), e.role.RoleID, sid, "192.0.2.9"); err != nil {
			t.Fatalf("valid login after failures: %v", err)
		}
	})
}

func TestAppRoleScopesChange(t *testing.T) {
	e := newApproleEnv(t, &coffer.AppRoleCreate{})
	sid := e.secretID(nil)
	tok, err := e.svc.AppRoleLogin(context.Background(), e.role.RoleID, sid, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	other := []coffer.Scope{{Store: "other", Actions: []coffer.Action{coffer.ActionReveal}}}
	if _, err := e.svc.UpdateAppRole(e.root, "ci", &coffer.AppRoleUpdate{Scopes: other}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.as(tok.Token); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
		t.Fatalf("token issued before the change: got %v, want EUNAUTHORIZED (ended at once)", err)
	}
	tok2, err := e.svc.AppRoleLogin(context.Background(), e.role.RoleID, sid, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := e.as(tok2.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Reveal(ctx, "app", "k", 0); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("Reveal app after the change: got %v, want EFORBIDDEN", err)
	}
	if _, err := e.svc.Reveal(ctx, "other", "k", 0); err != nil {
		t.Fatalf("Reveal other after the change: %v", err)
	}
	ttl := 2 * time.Minute
	if _, err := e.svc.UpdateAppRole(e.root, "ci", &coffer.AppRoleUpdate{TokenTTL: &ttl}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.as(tok2.Token); err != nil {
		t.Fatalf("a change of ttl alone ended the token: %v", err)
	}
}

func TestAppRoleLastUseOnce(t *testing.T) {
	e := newApproleEnv(t, &coffer.AppRoleCreate{SecretIDNumUses: 1})
	sid := e.secretID(nil)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.svc.AppRoleLogin(context.Background(), e.role.RoleID, sid, "192.0.2.7")
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("concurrent logins with the last use: %d succeeded, want 1", won)
	}
}

func TestAppRoleManagement(t *testing.T) {
	e := newApproleEnv(t, &coffer.AppRoleCreate{})
	_, err := e.svc.CreateAppRole(e.root, &coffer.AppRoleCreate{Name: "ci"})
	if coffer.ErrorCode(err) != coffer.ECONFLICT {
		t.Fatalf("second role named ci: got %v, want ECONFLICT", err)
	}
	for _, in := range []*coffer.AppRoleCreate{
		{Name: "a/b"}, {Name: strings.Repeat("a", 65)}, {Name: "x", TokenTTL: 25 * time.Hour},
		{Name: "y", SecretIDBoundCIDRs: []string{"nope"}}, {Name: "z", SecretIDNumUses: -1},
	} {
		if _, err := e.svc.CreateAppRole(e.root, in); coffer.ErrorCode(err) != coffer.EINVALID {
			t.Fatalf("CreateAppRole(%+v): got %v, want EINVALID", in, err)
		}
	}
	// Deleted and made again, a role acts as the same principal.
	if err := e.svc.DeleteAppRole(e.root, "ci"); err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.CreateAppRole(e.root, &coffer.AppRoleCreate{Name: "ci"})
	if err != nil || again.PrincipalID != e.role.PrincipalID || again.RoleID == e.role.RoleID {
		t.Fatalf("role made again: got %+v, %v; want the same principal, a new role id", again, err)
	}
	e.role = again
	k, err := e.svc.APIKeys(e.root)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range k {
		if key.ID == e.role.KeyID && (key.Admin || key.Name != "approle:ci") {
			t.Fatalf("role key: got %+v, want approle:ci, not admin", key)
		}
	}
	_, narrow := mintKey(t, e.svc, e.root, &coffer.APIKeyCreate{Name: "n", Scopes: []coffer.Scope{{Actions: []coffer.Action{coffer.ActionAdmin}}}})
	ctx, err := e.as(narrow)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateAppRoleSecret(ctx, "ci", &coffer.AppRoleSecretCreate{}); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("secret id by a key that is not admin: got %v, want EFORBIDDEN", err)
	}
	if _, err := e.svc.AppRoles(ctx); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("AppRoles by a key that is not admin: got %v, want EFORBIDDEN", err)
	}
}
