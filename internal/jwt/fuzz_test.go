package jwt_test

import (
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/jwt"
)

// FuzzVerify feeds Verify mutations of valid tokens. It must never panic,
// and it must accept only tokens whose signed part (header.claims) is one
// the test signed: nothing else is signed by the set.
func FuzzVerify(f *testing.F) {
	k := mustKeys(f)
	ks := testSet(f)
	signed := map[string]bool{}
	add := func(tok string) {
		i := strings.LastIndexByte(tok, '.')
		signed[tok[:i]] = true
		f.Add(tok)
	}
	c := claims(map[string]any{"groups": []string{"a", "b"}, "kubernetes.io": map[string]any{"namespace": "ns"}})
	add(sign(f, "RS256", "rsa", k.rsa, c))
	add(sign(f, "RS512", "", k.rsa, c))
	add(sign(f, "ES256", "p256", k.p256, c))
	add(sign(f, "ES384", "p384", k.p384, c))
	add(sign(f, "EdDSA", "ed", k.ed, c))
	add(sign(f, "EdDSA", "ed", k.ed, claims(map[string]any{"aud": []string{"x", "coffer"}})))
	f.Add(b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(mustJSON(f, c))) + ".")
	f.Add("..")
	f.Add("e30.e30.")
	e := expect()
	e.MaxAge = time.Hour
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := jwt.Verify(tok, ks, e)
		if err != nil {
			return
		}
		i := strings.LastIndexByte(tok, '.')
		if !signed[tok[:i]] {
			t.Fatalf("accepted a token the test did not sign: %q", tok)
		}
		_ = jwt.MatchClaims(got, map[string][]string{"/kubernetes.io/namespace": {"n*"}, "groups": {"*"}}, true)
		_, _ = jwt.Kubernetes(got)
	})
}
