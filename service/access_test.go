package service_test

import (
	"context"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/service"
)

// scopedCtx mints a key with scopes and returns a context acting as it.
func scopedCtx(t *testing.T, svc *service.Service, root context.Context, name string, scopes ...coffer.Scope) context.Context {
	t.Helper()
	_, tok := mintKey(t, svc, root, &coffer.APIKeyCreate{Name: name, Scopes: scopes})
	return powersActingAs(t, svc, tok)
}

// wantRefusal checks that err is EFORBIDDEN and that the newest audit event
// records the refusal of action on name.
func wantRefusal(t *testing.T, svc *service.Service, root context.Context, err error, action, name, reason string) {
	t.Helper()
	if coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("got %v, want EFORBIDDEN", err)
	}
	ev := lastEvent(t, svc, root)
	if ev.Action != action || ev.Name != name || ev.Outcome != coffer.EFORBIDDEN || ev.Reason != reason {
		t.Fatalf("audit: got %s %q %s %q, want %s %q EFORBIDDEN %q", ev.Action, ev.Name, ev.Outcome, ev.Reason, action, name, reason)
	}
}

func TestRequireAccount(t *testing.T) {
	svc, root := mustOpenService(t)
	t.Run("OK", func(t *testing.T) {
		if err := svc.RequireAccount(root, coffer.CallerFrom(root).AccountID); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("EFORBIDDEN", func(t *testing.T) {
		const other = "0123456789abcdef0123456789abcdef"
		err := svc.RequireAccount(root, other)
		wantRefusal(t, svc, root, err, "account.access", other, "the path names an account other than the key's")
	})
	t.Run("EUNAUTHORIZED", func(t *testing.T) {
		if err := svc.RequireAccount(context.Background(), ""); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("got %v, want EUNAUTHORIZED", err)
		}
	})
}

func TestRequireAdmin(t *testing.T) {
	svc, root := mustOpenService(t)
	if err := svc.RequireAdmin(root, "key.list", "x", "why"); err != nil {
		t.Fatalf("admin: %v", err)
	}
	scoped := scopedCtx(t, svc, root, "s", coffer.Scope{Store: "*", Actions: []coffer.Action{coffer.ActionAdmin}})
	err := svc.RequireAdmin(scoped, "key.list", "x", "admins only")
	wantRefusal(t, svc, root, err, "key.list", "x", "admins only")
	if got := coffer.ErrorMessage(err); got != "admins only" {
		t.Errorf("message: got %q, want the reason", got)
	}
}

func TestRequireObjectScope(t *testing.T) {
	svc, root := mustOpenService(t)
	for _, tt := range []struct {
		name    string
		actions []coffer.Action
		ok      bool
	}{
		{"OK", []coffer.Action{"read"}, true},
		{"OKAll", nil, true},
		{"EFORBIDDEN", []coffer.Action{"write"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := scopedCtx(t, svc, root, tt.name, coffer.Scope{ObjectType: "registry", Actions: tt.actions})
			err := svc.RequireObjectScope(ctx, "registry", "read", "registry.auth")
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantRefusal(t, svc, root, err, "registry.auth", "", "no registry scope")
		})
	}
	t.Run("SecretScope", func(t *testing.T) {
		ctx := scopedCtx(t, svc, root, "secrets", coffer.Scope{Store: "*", Actions: coffer.Actions})
		err := svc.RequireObjectScope(ctx, "registry", "read", "registry.auth")
		wantRefusal(t, svc, root, err, "registry.auth", "", "no registry scope")
	})
}

func TestAuthorizeNewStore(t *testing.T) {
	svc, root := mustOpenService(t)
	ctx := scopedCtx(t, svc, root, "s", coffer.Scope{Store: "chutes", Actions: []coffer.Action{coffer.ActionList}})
	if err := svc.AuthorizeNewStore(ctx, coffer.ActionList, "chutes"); err != nil {
		t.Fatal(err)
	}
	err := svc.AuthorizeNewStore(ctx, coffer.ActionList, "other")
	wantRefusal(t, svc, root, err, "secret.list", "other", "no scope grants list")
}

func TestCheckStoreAdmin(t *testing.T) {
	svc, root := mustOpenService(t)
	if err := svc.CheckStoreAdmin(root, "", "g"); err != nil {
		t.Fatalf("admin: %v", err)
	}
	ctx := scopedCtx(t, svc, root, "s", coffer.Scope{Store: "g", Secret: "a*", Actions: []coffer.Action{coffer.ActionAdmin}})
	before := lastEvent(t, svc, root)
	if err := svc.CheckStoreAdmin(ctx, "", "g"); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("admin of some secrets only: got %v, want EFORBIDDEN", err)
	}
	if after := lastEvent(t, svc, root); after.Seq != before.Seq {
		t.Errorf("a dry run's refusal was audited: %s %s", after.Action, after.Outcome)
	}
}

func TestOwnAPIKeys(t *testing.T) {
	svc, root := mustOpenService(t)
	p, err := svc.CreatePrincipal(root, &coffer.PrincipalCreate{Name: "other", Kind: "service"})
	if err != nil {
		t.Fatal(err)
	}
	mintKey(t, svc, root, &coffer.APIKeyCreate{Name: "theirs", PrincipalID: p.ID, Admin: true})
	mine, _ := mintKey(t, svc, root, &coffer.APIKeyCreate{Name: "mine", Admin: true})
	gone, _ := mintKey(t, svc, root, &coffer.APIKeyCreate{Name: "gone", Admin: true})
	if err := svc.RevokeAPIKey(root, gone.ID); err != nil {
		t.Fatal(err)
	}
	keys, err := svc.OwnAPIKeys(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range keys {
		names = append(names, k.Name)
	}
	// The root key was made first, by Bootstrap.
	if len(keys) != 2 || keys[0].ID != mine.ID || keys[1].ID != coffer.CallerFrom(root).KeyID {
		t.Fatalf("got %q, want [mine, the root key]", names)
	}
}

func TestCreateOwnAPIKey(t *testing.T) {
	svc, root := mustOpenService(t)
	t.Run("Admin", func(t *testing.T) {
		k, tok, err := svc.CreateOwnAPIKey(root, "a", nil)
		if err != nil || tok == "" {
			t.Fatal(err)
		}
		if !k.Admin || k.PrincipalID != coffer.CallerFrom(root).PrincipalID {
			t.Errorf("got admin %v principal %s, want an admin key of the caller's principal", k.Admin, k.PrincipalID)
		}
	})
	t.Run("Scoped", func(t *testing.T) {
		sc := coffer.Scope{Store: "s", Actions: []coffer.Action{coffer.ActionRead}}
		ctx := scopedCtx(t, svc, root, "s", sc)
		k, _, err := svc.CreateOwnAPIKey(ctx, "b", nil)
		if err != nil {
			t.Fatal(err)
		}
		if k.Admin || len(k.Scopes) != 1 || k.Scopes[0].String() != sc.String() {
			t.Errorf("got admin %v scopes %v, want the caller's scopes %v", k.Admin, k.Scopes, sc)
		}
	})
}

func TestPurgeIfAllowed(t *testing.T) {
	svc, root := mustOpenService(t)
	if _, err := svc.CreateStore(root, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	put := func(name string) *coffer.Secret {
		sec, err := svc.PutSecret(root, "s", &coffer.SecretPut{Name: name, Value: []byte("v")})
		if err != nil {
			t.Fatal(err)
		}
		return sec
	}
	del := func(name string) *coffer.Secret {
		sec := put(name)
		if _, err := svc.DeleteSecret(root, "s", name, 0); err != nil {
			t.Fatal(err)
		}
		return sec
	}
	ctx := scopedCtx(t, svc, root, "d", coffer.Scope{Store: "s", Secret: "a*", Actions: []coffer.Action{coffer.ActionDelete}})
	t.Run("OK", func(t *testing.T) {
		sec := del("a1")
		if ok, err := svc.PurgeIfAllowed(ctx, "s", sec.ID); !ok || err != nil {
			t.Fatalf("got %v, %v; want true, nil", ok, err)
		}
		if _, err := svc.SecretByID(root, sec.ID); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("after purge: got %v, want ENOTFOUND", err)
		}
	})
	t.Run("NotAllowed", func(t *testing.T) {
		sec := del("b1")
		before := lastEvent(t, svc, root)
		if ok, err := svc.PurgeIfAllowed(ctx, "s", sec.ID); ok || err != nil {
			t.Fatalf("got %v, %v; want false, nil", ok, err)
		}
		if after := lastEvent(t, svc, root); after.Seq != before.Seq {
			t.Errorf("a purge not asked for was audited: %s %s", after.Action, after.Outcome)
		}
		if _, err := svc.SecretByID(root, sec.ID); err != nil {
			t.Fatalf("the secret is gone: %v", err)
		}
	})
	t.Run("ECONFLICT", func(t *testing.T) {
		sec := put("a2")
		if _, err := svc.PurgeIfAllowed(ctx, "s", sec.ID); coffer.ErrorCode(err) != coffer.ECONFLICT {
			t.Fatalf("a live secret: got %v, want ECONFLICT", err)
		}
	})
	t.Run("ENOTFOUND", func(t *testing.T) {
		if _, err := svc.PurgeIfAllowed(ctx, "s", "0123456789abcdef0123456789abcdef"); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("got %v, want ENOTFOUND", err)
		}
	})
}

func TestRevokeOwnAPIKey(t *testing.T) {
	svc, root := mustOpenService(t)
	p, err := svc.CreatePrincipal(root, &coffer.PrincipalCreate{Name: "other", Kind: "service"})
	if err != nil {
		t.Fatal(err)
	}
	theirs, _ := mintKey(t, svc, root, &coffer.APIKeyCreate{Name: "theirs", PrincipalID: p.ID, Admin: true})
	mine, _ := mintKey(t, svc, root, &coffer.APIKeyCreate{Name: "mine", Admin: true})
	t.Run("ENOTFOUND", func(t *testing.T) {
		if err := svc.RevokeOwnAPIKey(root, theirs.ID); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("another principal's key: got %v, want ENOTFOUND", err)
		}
		keys, err := svc.APIKeys(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.ID == theirs.ID && k.RevokedAt != nil {
				t.Fatal("another principal's key was revoked")
			}
		}
	})
	t.Run("OK", func(t *testing.T) {
		if err := svc.RevokeOwnAPIKey(root, mine.ID); err != nil {
			t.Fatal(err)
		}
		if err := svc.RevokeOwnAPIKey(root, mine.ID); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("a revoked key: got %v, want ENOTFOUND", err)
		}
	})
}
