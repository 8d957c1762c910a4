package service_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/chutes"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// fuzzIP gives each fuzz call an address of its own, so that the failure
// limiter does not turn every later call into ERATELIMIT before the
// token is even parsed.
var fuzzIP atomic.Uint32

func nextFuzzIP() string {
	n := fuzzIP.Add(1)
	return "10." + strconv.Itoa(int(n>>16&0xff)) + "." + strconv.Itoa(int(n>>8&0xff)) + "." + strconv.Itoa(int(n&0xff))
}

// FuzzAuthenticate sends arbitrary credentials (native cfr_ keys, Chutes
// cpk_ keys, ByteNite-style cat_ access tokens, and anything else) to the
// one Authenticator every face uses. Only the tokens the service issued
// authenticate; everything else is EUNAUTHORIZED (or ERATELIMIT), and no
// error quotes the token.
func FuzzAuthenticate(f *testing.F) {
	env := svctest.Open(f, withFaces(service.Options{}))
	_, chutesTok, err := env.Svc.CreateAPIKey(env.Root, &coffer.APIKeyCreate{Format: chutes.KeyFormatName, Name: "fuzz-chutes", Admin: true})
	if err != nil {
		f.Fatal(err)
	}
	rk, revoked, err := env.Svc.CreateAPIKey(env.Root, &coffer.APIKeyCreate{Name: "fuzz-revoked", Admin: true})
	if err != nil {
		f.Fatal(err)
	}
	if err := env.Svc.RevokeAPIKey(env.Root, rk.ID); err != nil {
		f.Fatal(err)
	}
	at, err := env.Svc.IssueAccessToken(env.Root, coffer.Credential{Token: env.Token, RemoteIP: "127.0.0.1"}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	valid := map[string]bool{env.Token: true, chutesTok: true, at.Token: true}
	for _, s := range []string{
		env.Token, chutesTok, at.Token, revoked,
		env.Token[:len(env.Token)-1] + "0", strings.ToUpper(env.Token), chutesTok + "x", at.Token[:len(at.Token)-2],
		"cfr_", "cpk_", "cat_", "cat_.", "cfr_0000000000000000_" + strings.Repeat("0", 64),
		"cpk_" + strings.Repeat("a", 32) + "." + strings.Repeat("b", 32) + "." + strings.Repeat("C", 32),
		"cat_AQAAAAAAAAAA." + strings.Repeat("A", 43), "Bearer x", "", " ", "\x00", "\xff\xfe",
	} {
		f.Add(s)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := env.Svc.Authenticate(ctx, coffer.Credential{Token: tok, RemoteIP: nextFuzzIP()})
		if err == nil {
			if !valid[tok] || c == nil || c.KeyID == "" {
				t.Fatalf("Authenticate(%q) = %+v, want a refusal", tok, c)
			}
			return
		}
		switch code := coffer.ErrorCode(err); code {
		case coffer.EUNAUTHORIZED, coffer.ERATELIMIT:
		default:
			t.Fatalf("Authenticate(%q) = %v (code %s), want unauthorized", tok, err, code)
		}
		if valid[tok] {
			t.Fatalf("Authenticate of an issued token: %v", err)
		}
		if len(tok) >= 8 && strings.Contains(err.Error(), tok) {
			t.Fatalf("the error quotes the token: %v", err)
		}
	})
}
