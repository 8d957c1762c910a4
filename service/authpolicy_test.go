package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// TestAuthenticateAccountRate checks that every authentication drains its
// account's bucket, refusing with ERATELIMIT and RetryAfter once it is
// empty, and that exchanging a key for an access token does not.
func TestAuthenticateAccountRate(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	e := svctest.Open(t, service.Options{Now: func() time.Time { return now },
		RateLimits: service.RateLimits{Default: service.RateLimit{Rate: 1, Burst: 2}}}) // Open takes one
	ctx := context.Background()
	cred := coffer.Credential{Token: e.Token, RemoteIP: "127.0.0.1"}
	for range 3 {
		if _, err := e.Svc.IssueAccessToken(ctx, cred, time.Minute); err != nil {
			t.Fatalf("IssueAccessToken: %v", err)
		}
	}
	if _, err := e.Svc.Authenticate(ctx, cred); err != nil {
		t.Fatalf("second request: %v", err)
	}
	_, err := e.Svc.Authenticate(ctx, cred)
	var ce *coffer.Error
	if coffer.ErrorCode(err) != coffer.ERATELIMIT || !errors.As(err, &ce) || ce.RetryAfter != time.Second {
		t.Fatalf("third request: got %v, want ERATELIMIT with RetryAfter 1s", err)
	}
	now = now.Add(time.Second)
	if _, err := e.Svc.Authenticate(ctx, cred); err != nil {
		t.Errorf("a second later: got %v, want a refilled token", err)
	}
}

// TestAuthenticateClientCert checks the client certificate rules: a mapped
// certificate stands in for a token, a certificate mapped to an unknown key
// authenticates no one, whatever token comes with it.
func TestAuthenticateClientCert(t *testing.T) {
	e := svctest.Open(t, service.Options{})
	root := coffer.CallerFrom(e.Root)
	ctx := service.WithClientCertKey(context.Background(), root.KeyID)
	c, err := e.Svc.Authenticate(ctx, coffer.Credential{RemoteIP: "127.0.0.1"})
	if err != nil || c.KeyID != root.KeyID {
		t.Fatalf("certificate alone: got %+v, %v; want the root key's caller", c, err)
	}
	ctx = service.WithClientCertKey(context.Background(), "0123456789abcdef")
	for _, tok := range []string{"", e.Token} {
		if _, err := e.Svc.Authenticate(ctx, coffer.Credential{Token: tok, RemoteIP: "127.0.0.1"}); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Errorf("certificate of an unknown key, token %t: got %v, want EUNAUTHORIZED", tok != "", err)
		}
	}
}

// TestAuthenticateRequireClientCert checks that RequireClientCert refuses
// a valid token without a mapped certificate, and lets one through with.
func TestAuthenticateRequireClientCert(t *testing.T) {
	e := svctest.Open(t, service.Options{})
	svc, err := service.New(context.Background(), e.DB, e.Keyring, service.Options{RequireClientCert: true})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	cred := coffer.Credential{Token: e.Token, RemoteIP: "127.0.0.1"}
	if _, err := svc.Authenticate(context.Background(), cred); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
		t.Errorf("no certificate: got %v, want EUNAUTHORIZED", err)
	}
	if _, err := svc.IssueAccessToken(context.Background(), cred, time.Minute); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
		t.Errorf("access token without a certificate: got %v, want EUNAUTHORIZED", err)
	}
	ctx := service.WithClientCertKey(context.Background(), coffer.CallerFrom(e.Root).KeyID)
	if _, err := svc.Authenticate(ctx, cred); err != nil {
		t.Errorf("with the key's certificate: got %v, want the caller", err)
	}
}
