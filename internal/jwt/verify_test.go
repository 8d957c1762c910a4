package jwt_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/jwt"
)

func TestVerifyAccepts(t *testing.T) {
	k := mustKeys(t)
	ks := testSet(t)
	for _, tc := range []struct {
		name, alg, kid string
		key            crypto.Signer
		over           map[string]any
		exp            func(*jwt.Expectations)
	}{
		{name: "RS256", alg: "RS256", kid: "rsa", key: k.rsa},
		{name: "RS384", alg: "RS384", kid: "rsa", key: k.rsa},
		{name: "RS512", alg: "RS512", kid: "rsa", key: k.rsa},
		{name: "ES256", alg: "ES256", kid: "p256", key: k.p256},
		{name: "ES384", alg: "ES384", kid: "p384", key: k.p384},
		{name: "EdDSA", alg: "EdDSA", kid: "ed", key: k.ed},
		{name: "NoKid", alg: "ES256", key: k.p256},
		{name: "AudArray", alg: "EdDSA", kid: "ed", key: k.ed, over: map[string]any{"aud": []string{"other", "coffer"}}},
		{name: "NoAudNoneExpected", alg: "EdDSA", kid: "ed", key: k.ed, over: map[string]any{"aud": nil},
			exp: func(e *jwt.Expectations) { e.Audiences = nil }},
		{name: "AnyIssuer", alg: "EdDSA", kid: "ed", key: k.ed, over: map[string]any{"iss": "elsewhere"},
			exp: func(e *jwt.Expectations) { e.Issuer = "" }},
		{name: "ExpiredWithinLeeway", alg: "EdDSA", kid: "ed", key: k.ed, over: map[string]any{"exp": now.Add(-30 * time.Second).Unix()}},
		{name: "FractionalTimes", alg: "EdDSA", kid: "ed", key: k.ed, over: map[string]any{"exp": float64(now.Unix()) + 600.5}},
		{name: "WithinMaxAge", alg: "EdDSA", kid: "ed", key: k.ed,
			exp: func(e *jwt.Expectations) { e.MaxAge = 5 * time.Minute }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := claims(map[string]any{"repository": "acme/app", "run_number": 42})
			for k, v := range tc.over {
				if v == nil {
					delete(c, k)
				} else {
					c[k] = v
				}
			}
			tok := sign(t, tc.alg, tc.kid, tc.key, c)
			e := expect()
			if tc.exp != nil {
				tc.exp(&e)
			}
			got, err := jwt.Verify(tok, ks, e)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject != c["sub"] || got.Algorithm != tc.alg || got.KeyID != tc.kid {
				t.Errorf("got sub %q alg %q kid %q", got.Subject, got.Algorithm, got.KeyID)
			}
			if got.Raw["repository"] != "acme/app" || got.Raw["run_number"] != json.Number("42") {
				t.Errorf("custom claims: got %v", got.Raw)
			}
			if exp, ok := c["exp"].(int64); ok && !got.Expiry.Equal(time.Unix(exp, 0)) {
				t.Errorf("Expiry: got %v, want %v", got.Expiry, time.Unix(exp, 0))
			}
		})
	}
}

// TestVerifyPEM verifies with keys from PEM, which have no kid.
func TestVerifyPEM(t *testing.T) {
	k := mustKeys(t)
	der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := jwt.ParsePEM(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Verify(sign(t, "RS256", "some-kid", k.rsa, claims(nil)), ks, expect()); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if _, err := jwt.Verify(sign(t, "RS256", "", k.rsa2, claims(nil)), ks, expect()); !errors.Is(err, jwt.ErrSignature) {
		t.Errorf("other key: got %v, want ErrSignature", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	k := mustKeys(t)
	ks := testSet(t)
	hdr := func(alg, kid string, extra string) string {
		return `{"alg":"` + alg + `","kid":"` + kid + `"` + extra + `}`
	}
	good := mustJSON(t, claims(nil))
	// The classic confusion: HS256 keyed with the bytes of the RSA public key.
	pkix, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	hs256 := func(secret []byte) string {
		input := b64([]byte(hdr("HS256", "rsa", ""))) + "." + b64([]byte(good))
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		return input + "." + b64(m.Sum(nil))
	}
	valid := sign(t, "ES256", "p256", k.p256, claims(nil))
	parts := strings.Split(valid, ".")
	derSig := func() string { // an ES256 signature in ASN.1 DER, as crypto/ecdsa makes it
		input := parts[0] + "." + parts[1]
		d := sha256.Sum256([]byte(input))
		sig, err := ecdsa.SignASN1(rand.Reader, k.p256, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + b64(sig)
	}()
	tooOld := func(e *jwt.Expectations) { e.MaxAge = 30 * time.Second }
	for _, tc := range []struct {
		name  string
		token string
		want  error
		exp   func(*jwt.Expectations)
	}{
		{"AlgNone", b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(good)) + ".", jwt.ErrAlgorithm, nil},
		{"AlgNoneCase", b64([]byte(`{"alg":"None"}`)) + "." + b64([]byte(good)) + ".", jwt.ErrAlgorithm, nil},
		{"HS256WithPKIX", hs256(pkix), jwt.ErrAlgorithm, nil},
		{"HS256WithPEM", hs256(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})), jwt.ErrAlgorithm, nil},
		{"PS256", signRaw(t, "RS256", k.rsa, hdr("PS256", "rsa", ""), good), jwt.ErrAlgorithm, nil},
		{"NoAlg", signRaw(t, "RS256", k.rsa, `{"kid":"rsa"}`, good), jwt.ErrMalformed, nil},
		{"Expired", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"exp": now.Add(-2 * time.Minute).Unix()})), jwt.ErrExpired, nil},
		{"ExpiredNoLeeway", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"exp": now.Add(-time.Second).Unix()})), jwt.ErrExpired,
			func(e *jwt.Expectations) { e.Leeway = -1 }},
		{"NoExp", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"exp": nil})), jwt.ErrClaims, nil},
		{"ExpString", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"exp": "tomorrow"})), jwt.ErrClaims, nil},
		{"SubNumber", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"sub": 7})), jwt.ErrClaims, nil},
		{"NotYetValid", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"nbf": now.Add(2 * time.Minute).Unix()})), jwt.ErrNotYetValid, nil},
		{"IssuedInFuture", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"iat": now.Add(2 * time.Minute).Unix()})), jwt.ErrNotYetValid, nil},
		{"WrongIssuer", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"iss": "https://issuer.test/"})), jwt.ErrIssuer, nil},
		{"NoIssuer", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"iss": nil})), jwt.ErrIssuer, nil},
		{"WrongAudience", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"aud": []string{"other", "vault"}})), jwt.ErrAudience, nil},
		{"NoAudience", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"aud": nil})), jwt.ErrAudience, nil},
		{"AudienceNoneExpected", sign(t, "RS256", "rsa", k.rsa, claims(nil)), jwt.ErrAudience,
			func(e *jwt.Expectations) { e.Audiences = nil }},
		{"AudienceNumber", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"aud": 1})), jwt.ErrClaims, nil},
		{"TooOld", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"iat": now.Add(-2 * time.Minute).Unix()})), jwt.ErrTooOld, tooOld},
		{"MaxAgeNoIat", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"iat": nil})), jwt.ErrTooOld, tooOld},
		{"UnknownKid", sign(t, "RS256", "gone", k.rsa, claims(nil)), jwt.ErrUnknownKey, nil},
		{"KidOfOtherType", sign(t, "RS256", "p256", k.rsa, claims(nil)), jwt.ErrUnknownKey, nil},
		{"KeyAlgMismatch", sign(t, "ES384", "p256", k.p384, claims(nil)), jwt.ErrUnknownKey, nil},
		{"EdKeyAlgMismatch", signRaw(t, "EdDSA", k.ed, hdr("RS256", "ed", ""), good), jwt.ErrUnknownKey, nil},
		{"OtherKey", sign(t, "RS256", "rsa", k.rsa2, claims(nil)), jwt.ErrSignature, nil},
		{"Tampered", parts[0] + "." + b64([]byte(mustJSON(t, claims(map[string]any{"sub": "admin"})))) + "." + parts[2], jwt.ErrSignature, nil},
		{"ES256DER", derSig, jwt.ErrSignature, nil},
		{"DuplicateSub", signRaw(t, "RS256", k.rsa, hdr("RS256", "rsa", ""), strings.Replace(good, `{`, `{"sub":"admin",`, 1)), jwt.ErrMalformed, nil},
		{"DuplicateNested", signRaw(t, "RS256", k.rsa, hdr("RS256", "rsa", ""), strings.Replace(good, `{`, `{"k":{"a":1,"a":2},`, 1)), jwt.ErrMalformed, nil},
		{"DuplicateAlg", signRaw(t, "RS256", k.rsa, `{"alg":"none","alg":"RS256","kid":"rsa"}`, good), jwt.ErrMalformed, nil},
		{"Deep", signRaw(t, "RS256", k.rsa, hdr("RS256", "rsa", ""), strings.Replace(good, `{`, `{"d":`+strings.Repeat("[", 20)+strings.Repeat("]", 20)+`,`, 1)), jwt.ErrMalformed, nil},
		{"TrailingJSON", signRaw(t, "RS256", k.rsa, hdr("RS256", "rsa", ""), good+`{}`), jwt.ErrMalformed, nil},
		{"ClaimsArray", signRaw(t, "RS256", k.rsa, hdr("RS256", "rsa", ""), `[]`), jwt.ErrMalformed, nil},
		{"Crit", signRaw(t, "RS256", k.rsa, hdr("RS256", "rsa", `,"crit":["exp"],"exp":1`), good), jwt.ErrHeader, nil},
		{"Jku", signRaw(t, "RS256", k.rsa, hdr("RS256", "rsa", `,"jku":"https://evil.test/jwks"`), good), jwt.ErrHeader, nil},
		{"X5u", signRaw(t, "RS256", k.rsa, hdr("RS256", "rsa", `,"x5u":"https://evil.test/cert"`), good), jwt.ErrHeader, nil},
		{"Jwk", signRaw(t, "RS256", k.rsa, hdr("RS256", "rsa", `,"jwk":`+mustJSON(t, jwk("rsa", "", &k.rsa.PublicKey))), good), jwt.ErrHeader, nil},
		{"KidNumber", signRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":1}`, good), jwt.ErrMalformed, nil},
		{"Padding", parts[0] + "=." + parts[1] + "." + parts[2], jwt.ErrMalformed, nil},
		{"StdBase64", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+", jwt.ErrMalformed, nil},
		{"Newline", parts[0] + "." + parts[1][:4] + "\n" + parts[1][4:] + "." + parts[2], jwt.ErrMalformed, nil},
		{"TrailingBits", parts[0] + "." + parts[1] + "." + setUnusedBits(parts[2]), jwt.ErrMalformed, nil},
		{"TwoParts", parts[0] + "." + parts[1], jwt.ErrMalformed, nil},
		{"FourParts", valid + ".", jwt.ErrMalformed, nil},
		{"JWE", valid + "." + parts[2] + ".x", jwt.ErrMalformed, nil},
		{"Empty", "", jwt.ErrMalformed, nil},
		{"Oversize", sign(t, "RS256", "rsa", k.rsa, claims(map[string]any{"pad": strings.Repeat("x", jwt.MaxTokenBytes)})), jwt.ErrMalformed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := expect()
			if tc.exp != nil {
				tc.exp(&e)
			}
			c, err := jwt.Verify(tc.token, ks, e)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if c.Raw != nil || c.Subject != "" {
				t.Errorf("refused token returned claims %v", c)
			}
			if tc.name == "Tampered" && strings.Contains(err.Error(), "admin") {
				t.Errorf("error %q echoes token content", err)
			}
		})
	}
}

func TestNewKeySetRefusesShortRSA(t *testing.T) {
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.NewKeySet(jwt.Key{Public: &short.PublicKey}); err == nil {
		t.Error("NewKeySet: 1024-bit RSA key accepted")
	}
	if _, err := jwt.ParseJWKS(jwks(t, jwk("short", "", &short.PublicKey))); err == nil {
		t.Error("ParseJWKS: 1024-bit RSA key accepted")
	}
	bad := &rsa.PublicKey{N: mustKeys(t).rsa.N, E: 65536}
	if _, err := jwt.NewKeySet(jwt.Key{Public: bad}); err == nil {
		t.Error("NewKeySet: even exponent accepted")
	}
}

// setUnusedBits sets the unused low bits of the last character of s, the
// unpadded base64url of 64 bytes: a lenient decoder reads the same bytes.
func setUnusedBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i|1])
}
