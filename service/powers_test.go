package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/chutes"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// powersActingAs authenticates token and returns a context acting as it.
func powersActingAs(t *testing.T, svc interface {
	Authenticate(context.Context, coffer.Credential) (*coffer.Caller, error)
}, token string) context.Context {
	t.Helper()
	c, err := svc.Authenticate(context.Background(), coffer.Credential{Token: token, RemoteIP: "192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	return coffer.NewContext(context.Background(), c)
}

// TestKeyExpiryBound checks the rule that no key outlives its maker, for
// admin makers and access tokens too: no expiry asked gets the maker's, a
// later one is EFORBIDDEN and writes nothing.
func TestKeyExpiryBound(t *testing.T) {
	clk := svctest.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	svc, root := mustOpenServiceClock(t, clk)
	exp := clk.Now().Add(time.Hour)
	later := exp.Add(time.Hour)
	_, adminTok := mintKey(t, svc, root, &coffer.APIKeyCreate{Name: "temp", Admin: true, ExpiresAt: &exp})
	admin := powersActingAs(t, svc, adminTok)

	for _, tt := range []struct {
		name string
		in   coffer.APIKeyCreate
	}{
		{"Admin", coffer.APIKeyCreate{Name: "a", Admin: true}},
		{"Scoped", coffer.APIKeyCreate{Name: "s", Scopes: []coffer.Scope{{Store: "x", Actions: []coffer.Action{coffer.ActionRead}}}}},
		{"Chutes", coffer.APIKeyCreate{Name: "c", Admin: true, Format: chutes.KeyFormatName}},
	} {
		t.Run("NoExpiry"+tt.name, func(t *testing.T) {
			in := tt.in
			k, _, err := svc.CreateAPIKey(admin, &in)
			if err != nil {
				t.Fatal(err)
			}
			if k.ExpiresAt == nil || !k.ExpiresAt.Equal(exp) {
				t.Errorf("expires at %v, want the maker's %v", k.ExpiresAt, exp)
			}
		})
	}
	t.Run("EFORBIDDEN", func(t *testing.T) {
		before, _ := svc.APIKeys(root)
		_, _, err := svc.CreateAPIKey(admin, &coffer.APIKeyCreate{Name: "l", Admin: true, ExpiresAt: &later})
		if coffer.ErrorCode(err) != coffer.EFORBIDDEN {
			t.Fatalf("later expiry from an admin key: got %v, want EFORBIDDEN", err)
		}
		if after, _ := svc.APIKeys(root); len(after) != len(before) {
			t.Errorf("a refused mint wrote a key: %d keys, want %d", len(after), len(before))
		}
	})
	t.Run("AccessToken", func(t *testing.T) {
		at, err := svc.IssueAccessToken(issueCtx(), coffer.Credential{Token: powersForeverAdmin(t, svc, root), RemoteIP: "192.0.2.7"}, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		k, _, err := svc.CreateAPIKey(powersActingAs(t, svc, at.Token), &coffer.APIKeyCreate{Name: "from-token", Admin: true})
		if err != nil {
			t.Fatal(err)
		}
		if k.ExpiresAt == nil || !k.ExpiresAt.Equal(at.ExpiresAt) {
			t.Errorf("key from an admin access token expires at %v, want the token's %v", k.ExpiresAt, at.ExpiresAt)
		}
	})
	t.Run("Account", func(t *testing.T) {
		out, err := svc.CreateAccount(admin, &coffer.AccountCreate{Name: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		if out.Key.ExpiresAt == nil || !out.Key.ExpiresAt.Equal(exp) {
			t.Errorf("an account's first key made by an expiring operator key expires at %v, want %v", out.Key.ExpiresAt, exp)
		}
	})
}

// powersForeverAdmin mints a fresh admin key without expiry with root and
// returns its token.
func powersForeverAdmin(t *testing.T, svc interface {
	CreateAPIKey(context.Context, *coffer.APIKeyCreate) (*coffer.APIKey, string, error)
}, root context.Context) string {
	t.Helper()
	_, tok, err := svc.CreateAPIKey(root, &coffer.APIKeyCreate{Name: "forever", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestSetPowers checks that setting a principal's powers compares them
// with every live key of the principal, not only the newest.
func TestSetPowers(t *testing.T) {
	clk := svctest.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	env := svctest.Open(t, service.Options{Now: clk.Now})
	svc, root := env.Svc, env.Root
	p, err := svc.CreatePrincipal(root, &coffer.PrincipalCreate{Name: "bot", Kind: "service"})
	if err != nil {
		t.Fatal(err)
	}
	editor := coffer.Powers{Scopes: []coffer.Scope{{Store: "app", Actions: []coffer.Action{coffer.ActionList, coffer.ActionRead, coffer.ActionReveal, coffer.ActionWrite, coffer.ActionDelete}}}}
	viewer := coffer.Powers{Scopes: []coffer.Scope{{Store: "app", Actions: []coffer.Action{coffer.ActionList, coffer.ActionRead}}}}

	k1, tok1, err := svc.SetPowers(root, p.ID, "bot", editor)
	if err != nil || tok1 == "" {
		t.Fatalf("first SetPowers: %v, token %q", err, tok1)
	}
	if k, tok, err := svc.SetPowers(root, p.ID, "bot", editor); err != nil || tok != "" || k.ID != k1.ID {
		t.Fatalf("same powers again: got key %v token %q err %v, want key %s unchanged", k.ID, tok, err, k1.ID)
	}
	// The account mints a key with exactly the viewer's powers: newest.
	clk.Add(time.Second)
	self, selfTok, err := svc.CreateAPIKey(powersActingAs(t, svc, tok1), &coffer.APIKeyCreate{Name: "self", Scopes: viewer.Scopes})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	k2, tok2, err := svc.SetPowers(root, p.ID, "bot", viewer)
	if err != nil {
		t.Fatal(err)
	}
	if tok2 == "" || k2.ID == self.ID {
		t.Fatalf("downgrade with a wider key alive: got key %s and no token, want a new key (the self-minted %s is not settled)", k2.ID, self.ID)
	}
	for name, tok := range map[string]string{"editor": tok1, "self-minted": selfTok} {
		if _, err := svc.Authenticate(context.Background(), coffer.Credential{Token: tok, RemoteIP: "192.0.2.10"}); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Errorf("%s key after the downgrade: got %v, want EUNAUTHORIZED", name, err)
		}
	}
	// The keys SetPowers revoked are bound again as revoked: every record
	// still verifies (doctor would report one that does not).
	rep, err := service.CheckRecords(root, env.DB, env.Keyring, func(fn func(rec any) error) error {
		keys, err := env.DB.APIKeys(root, p.AccountID)
		for _, k := range keys {
			if err := fn(k); err != nil {
				return err
			}
		}
		return err
	})
	if err != nil || len(rep.Failed) > 0 || rep.Checked < 4 {
		t.Errorf("records after the downgrade: %+v, %v; want every key (at least 3) and the operator setting verified", rep, err)
	}
	if _, _, err := svc.SetPowers(powersActingAs(t, svc, tok2), p.ID, "bot", viewer); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Errorf("SetPowers by a key that is not admin: got %v, want EFORBIDDEN", err)
	}
	if _, _, err := svc.SetPowers(root, "0123456789abcdef0123456789abcdef", "bot", viewer); coffer.ErrorCode(err) != coffer.ENOTFOUND {
		t.Errorf("SetPowers of an unknown principal: got %v, want ENOTFOUND", err)
	}
}
