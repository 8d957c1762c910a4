package service_test

import (
	"context"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// BenchmarkAuthenticateLimited measures what a flood of bad credentials
// from one address costs once the address has spent its failure budget:
// a wrong secret for a real key, and a well-formed token of no key.
func BenchmarkAuthenticateLimited(b *testing.B) {
	env := svctest.Open(b, service.Options{})
	ctx := context.Background()
	wrong := env.Token[:len(env.Token)-4] + "0000"
	if wrong == env.Token {
		wrong = env.Token[:len(env.Token)-4] + "1111"
	}
	unknown := "cfr_0123456789abcdef_" + env.Token[len(env.Token)-64:]
	for range 12 { // spend the address's budget
		env.Svc.Authenticate(ctx, coffer.Credential{Token: unknown, RemoteIP: "192.0.2.7"})
	}
	for _, bc := range []struct{ name, tok string }{{"WrongSecret", wrong}, {"UnknownKey", unknown}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				// The budget gains one failure every 6 s, which is then
				// counted and audited as unauthorized.
				_, err := env.Svc.Authenticate(ctx, coffer.Credential{Token: bc.tok, RemoteIP: "192.0.2.7"})
				if code := coffer.ErrorCode(err); code != coffer.ERATELIMIT && code != coffer.EUNAUTHORIZED {
					b.Fatalf("got %v, want rate_limited", err)
				}
			}
		})
	}
}
