package jwt_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/jwt"
)

// testKeys are generated once per test binary: RSA generation is slow.
type testKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	p256      *ecdsa.PrivateKey
	p384      *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func mustKeys(tb testing.TB) testKeys {
	tb.Helper()
	keysOnce.Do(func() {
		var err error
		if keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keys.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keys.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if keys.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			panic(err)
		}
		if _, keys.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
	return keys
}

// now is the fixed time of the tests.
var now = time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// claims returns valid claims for now, with over applied (a nil value
// deletes the claim).
func claims(over map[string]any) map[string]any {
	c := map[string]any{
		"iss": "https://issuer.test",
		"aud": "coffer",
		"sub": "repo:acme/app:ref:refs/heads/main",
		"iat": now.Add(-time.Minute).Unix(),
		"nbf": now.Add(-time.Minute).Unix(),
		"exp": now.Add(10 * time.Minute).Unix(),
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// expect is the Expectations matching claims(nil).
func expect() jwt.Expectations {
	return jwt.Expectations{Issuer: "https://issuer.test", Audiences: []string{"coffer"}, Now: func() time.Time { return now }}
}

// signRaw signs the header and claims JSON as given with key under alg.
func signRaw(tb testing.TB, alg string, key crypto.Signer, header, claims string) string {
	tb.Helper()
	input := b64([]byte(header)) + "." + b64([]byte(claims))
	return input + "." + b64(sigOf(tb, alg, key, []byte(input)))
}

// sign signs claims with a header of alg and kid (none when "").
func sign(tb testing.TB, alg, kid string, key crypto.Signer, c map[string]any) string {
	tb.Helper()
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	return signRaw(tb, alg, key, mustJSON(tb, h), mustJSON(tb, c))
}

func sigOf(tb testing.TB, alg string, key crypto.Signer, input []byte) []byte {
	tb.Helper()
	var h crypto.Hash
	var digest []byte
	switch alg {
	case "RS256", "ES256":
		d := sha256.Sum256(input)
		h, digest = crypto.SHA256, d[:]
	case "RS384", "ES384":
		d := sha512.Sum384(input)
		h, digest = crypto.SHA384, d[:]
	case "RS512":
		d := sha512.Sum512(input)
		h, digest = crypto.SHA512, d[:]
	case "EdDSA":
		sig, err := key.Sign(rand.Reader, input, crypto.Hash(0))
		if err != nil {
			tb.Fatal(err)
		}
		return sig
	}
	if ek, ok := key.(*ecdsa.PrivateKey); ok { // raw r||s, as JWS wants
		r, s, err := ecdsa.Sign(rand.Reader, ek, digest)
		if err != nil {
			tb.Fatal(err)
		}
		size := (ek.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	}
	sig, err := key.Sign(rand.Reader, digest, h)
	if err != nil {
		tb.Fatal(err)
	}
	return sig
}

// jwk returns the public JWK of pub with kid and alg (omitted when "").
func jwk(kid, alg string, pub crypto.PublicKey) map[string]any {
	m := map[string]any{"use": "sig"}
	if kid != "" {
		m["kid"] = kid
	}
	if alg != "" {
		m["alg"] = alg
	}
	switch p := pub.(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		point, err := p.Bytes() // 0x04 || x || y
		if err != nil {
			panic(err)
		}
		size := len(point) / 2
		m["kty"], m["crv"], m["x"], m["y"] = "EC", p.Curve.Params().Name, b64(point[1:1+size]), b64(point[1+size:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(p)
	}
	return m
}

func jwks(tb testing.TB, keys ...map[string]any) []byte {
	tb.Helper()
	return []byte(mustJSON(tb, map[string]any{"keys": keys}))
}

// testSet is the JWKS of every test key: kids "rsa", "p256", "p384", "ed".
func testSet(tb testing.TB) *jwt.KeySet {
	tb.Helper()
	k := mustKeys(tb)
	ks, err := jwt.ParseJWKS(jwks(tb,
		jwk("rsa", "", &k.rsa.PublicKey),
		jwk("p256", "ES256", &k.p256.PublicKey),
		jwk("p384", "", &k.p384.PublicKey),
		jwk("ed", "EdDSA", k.ed.Public()),
	))
	if err != nil {
		tb.Fatal(err)
	}
	return ks
}

// privateD returns the base64url private scalar of key, as a JWK's "d".
func privateD(key *ecdsa.PrivateKey) string {
	d, err := key.Bytes()
	if err != nil {
		panic(err)
	}
	return b64(d)
}
