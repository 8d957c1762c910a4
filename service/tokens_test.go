package service_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// mintKey makes a key with the root context and returns its token.
func mintKey(t *testing.T, svc *service.Service, ctx context.Context, in *coffer.APIKeyCreate) (*coffer.APIKey, string) {
	t.Helper()
	k, token, err := svc.CreateAPIKey(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return k, token
}

// issueCtx is the context a face gives IssueAccessToken: no caller yet,
// only what the audit of a failure records.
func issueCtx() context.Context {
	return coffer.NewContext(context.Background(), &coffer.Caller{RemoteAddr: "192.0.2.7", RequestID: "req-1", Face: "bytenite"})
}

func TestAccessToken(t *testing.T) {
	clk := svctest.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 500123456, time.UTC))
	svc, ctx := mustOpenServiceClock(t, clk)
	scopes := []coffer.Scope{{Store: "s", Actions: []coffer.Action{coffer.ActionList, coffer.ActionReveal}}}
	keyExp := clk.Now().Add(30 * time.Minute)
	key, apiKey := mintKey(t, svc, ctx, &coffer.APIKeyCreate{Name: "ci", Scopes: scopes, ExpiresAt: &keyExp})
	_, adminKey := mintKey(t, svc, ctx, &coffer.APIKeyCreate{Name: "ops", Admin: true})
	cred := func(tok string) coffer.Credential { return coffer.Credential{Token: tok, RemoteIP: "192.0.2.7"} }

	t.Run("OK", func(t *testing.T) {
		at, err := svc.IssueAccessToken(issueCtx(), cred(adminKey), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		want := clk.Now().Add(time.Hour).Truncate(time.Millisecond)
		if !strings.HasPrefix(at.Token, "cat_") || !at.ExpiresAt.Equal(want) || !at.Caller.Admin || at.Caller.Face != "bytenite" {
			t.Fatalf("IssueAccessToken: got %+v (caller %+v), want a cat_ token until %v for an admin", at, at.Caller, want)
		}
		c, err := svc.Authenticate(ctx, cred(at.Token))
		if err != nil {
			t.Fatal(err)
		}
		if c.AccountID != at.Caller.AccountID || c.PrincipalID != at.Caller.PrincipalID || c.KeyID != at.Caller.KeyID || !c.Admin ||
			c.ExpiresAt == nil || !c.ExpiresAt.Equal(want) {
			t.Fatalf("Authenticate: got %+v, want the key's caller until %v", c, want)
		}
		// Another token of the same key in the same millisecond differs.
		again, err := svc.IssueAccessToken(issueCtx(), cred(adminKey), time.Hour)
		if err != nil || again.Token == at.Token {
			t.Fatalf("second token: got %v, %v; want a different token", again, err)
		}
		if s := at.String() + at.GoString(); strings.Contains(s, at.Token) || strings.Contains(s, "cat_") {
			t.Fatalf("AccessToken prints its token: %s", s)
		}
	})

	t.Run("ScopesAndKeyExpiry", func(t *testing.T) {
		at, err := svc.IssueAccessToken(issueCtx(), cred(apiKey), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		want := keyExp.Truncate(time.Millisecond) // the key expires first
		if !at.ExpiresAt.Equal(want) {
			t.Fatalf("ExpiresAt: got %v, want the key's %v in whole milliseconds", at.ExpiresAt, want)
		}
		c, err := svc.Authenticate(ctx, cred(at.Token))
		if err != nil {
			t.Fatal(err)
		}
		if c.Admin || c.KeyID != key.ID || len(c.Scopes) != 1 || c.Scopes[0].String() != scopes[0].String() || !c.ExpiresAt.Equal(want) {
			t.Fatalf("Authenticate: got %+v, want the key's scopes until %v", c, want)
		}
	})

	t.Run("ErrUnauthorizedTampered", func(t *testing.T) {
		at, err := svc.IssueAccessToken(issueCtx(), cred(adminKey), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		body, mac, _ := strings.Cut(strings.TrimPrefix(at.Token, "cat_"), ".")
		flip := func(s string, i int) string {
			b := []byte(s)
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return string(b)
		}
		for name, tok := range map[string]string{
			"payload":   "cat_" + flip(body, 3) + "." + mac,
			"expiry":    "cat_" + flip(body, 8) + "." + mac,
			"key id":    "cat_" + flip(body, len(body)-2) + "." + mac,
			"mac":       "cat_" + body + "." + flip(mac, 5),
			"no mac":    "cat_" + body,
			"empty mac": "cat_" + body + ".",
			"short mac": "cat_" + body + "." + mac[:20],
			"padded":    "cat_" + body + "=." + mac,
			"prefix":    "cat_",
			"other key": "cat_" + strings.Replace(body, body[28:], strings.Repeat("A", len(body)-28), 1) + "." + mac,
		} {
			if _, err := svc.Authenticate(ctx, coffer.Credential{Token: tok, RemoteIP: "198.51.100." + name[:1]}); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
				t.Errorf("%s: got %v, want unauthorized", name, err)
			}
		}
		ev := lastEvent(t, svc, ctx)
		if ev.Action != "auth.fail" || ev.Reason != "malformed or forged access token" || ev.KeyID != "" {
			t.Fatalf("audit: got %+v, want auth.fail of a forged token naming no key", ev)
		}
	})

	t.Run("ErrUnauthorizedOtherServer", func(t *testing.T) {
		other, octx := mustOpenServiceClock(t, clk)
		_, otherKey := mintKey(t, other, octx, &coffer.APIKeyCreate{Name: "x", Admin: true})
		at, err := other.IssueAccessToken(issueCtx(), cred(otherKey), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, cred(at.Token)); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("a token of another server: got %v, want unauthorized", err)
		}
		if _, err := other.Authenticate(octx, cred(at.Token)); err != nil {
			t.Fatalf("on its own server: %v", err)
		}
	})

	t.Run("ErrUnauthorizedExchangeAccessToken", func(t *testing.T) {
		at, err := svc.IssueAccessToken(issueCtx(), cred(adminKey), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.IssueAccessToken(issueCtx(), cred(at.Token), time.Hour); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("exchanging an access token: got %v, want unauthorized", err)
		}
		ev := lastEvent(t, svc, ctx)
		if ev.Action != "auth.fail" || ev.Face != "bytenite" || ev.RequestID != "req-1" || !strings.Contains(ev.Reason, "access token") {
			t.Fatalf("audit: got %+v", ev)
		}
		for _, tok := range []string{"", "cfr_nope", adminKey + "x"} {
			if _, err := svc.IssueAccessToken(issueCtx(), cred(tok), time.Hour); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
				t.Errorf("IssueAccessToken(%q): got %v, want unauthorized", tok, err)
			}
		}
	})

	t.Run("ErrInvalidTTL", func(t *testing.T) {
		for _, ttl := range []time.Duration{0, -time.Second, coffer.MaxAccessTokenTTL + time.Second} {
			if _, err := svc.IssueAccessToken(issueCtx(), cred(adminKey), ttl); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Errorf("ttl %v: got %v, want invalid", ttl, err)
			}
		}
	})

	t.Run("ErrUnauthorizedExpired", func(t *testing.T) {
		at, err := svc.IssueAccessToken(issueCtx(), cred(adminKey), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		clk.Add(9 * time.Second)
		if _, err := svc.Authenticate(ctx, cred(at.Token)); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		clk.Add(time.Second)
		if _, err := svc.Authenticate(ctx, cred(at.Token)); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("after expiry: got %v, want unauthorized", err)
		}
		ev := lastEvent(t, svc, ctx)
		if ev.Action != "auth.fail" || ev.Reason != "expired access token" || ev.KeyID != at.Caller.KeyID || ev.AccountID != at.Caller.AccountID {
			t.Fatalf("audit: got %+v, want auth.fail of an expired token of key %s", ev, at.Caller.KeyID)
		}
		// The key itself is not locked out by its expired tokens.
		for range 20 {
			svc.Authenticate(ctx, coffer.Credential{Token: at.Token, RemoteIP: "203.0.113.9"})
		}
		if _, err := svc.Authenticate(ctx, coffer.Credential{Token: adminKey, RemoteIP: "203.0.113.10"}); err != nil {
			t.Fatalf("the key after its expired token failed 20 times elsewhere: %v", err)
		}
		if _, err := svc.Authenticate(ctx, coffer.Credential{Token: at.Token, RemoteIP: "203.0.113.9"}); coffer.ErrorCode(err) != coffer.ERATELIMIT {
			t.Fatalf("the expired token again from the failing address: got %v, want rate_limited", err)
		}
		if _, err := svc.Authenticate(ctx, coffer.Credential{Token: adminKey, RemoteIP: "203.0.113.9"}); err != nil {
			t.Fatalf("a valid key from the failing address: %v", err)
		}
	})

	t.Run("ErrUnauthorizedKeyExpired", func(t *testing.T) {
		clk.Add(31 * time.Minute) // past keyExp
		if _, err := svc.IssueAccessToken(issueCtx(), cred(apiKey), time.Hour); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("issue with an expired key: got %v, want unauthorized", err)
		}
	})

	t.Run("ErrUnauthorizedRevoked", func(t *testing.T) {
		k, tok := mintKey(t, svc, ctx, &coffer.APIKeyCreate{Name: "doomed", Admin: true})
		at, err := svc.IssueAccessToken(issueCtx(), cred(tok), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, cred(at.Token)); err != nil {
			t.Fatal(err)
		}
		if err := svc.RevokeAPIKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, cred(at.Token)); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("after revoking the key: got %v, want unauthorized", err)
		}
		if ev := lastEvent(t, svc, ctx); ev.Reason != "access token of a revoked key" || ev.KeyID != k.ID {
			t.Fatalf("audit: got %+v", ev)
		}
	})

	t.Run("NeverInAudit", func(t *testing.T) {
		at, err := svc.IssueAccessToken(issueCtx(), cred(adminKey), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if ev := lastEvent(t, svc, ctx); ev.Action != "token.issue" || ev.KeyID != at.Caller.KeyID || ev.Outcome != "ok" || ev.Face != "bytenite" {
			t.Fatalf("audit of the issue: got %+v", ev)
		}
		page, err := svc.AuditEvents(ctx, coffer.AuditQuery{Limit: coffer.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(page)
		_, adminSecret, _ := strings.Cut(strings.TrimPrefix(adminKey, "cfr_"), "_")
		if strings.Contains(string(b), "cat_") || strings.Contains(string(b), adminSecret) {
			t.Fatal("the audit log holds a token")
		}
	})
}
