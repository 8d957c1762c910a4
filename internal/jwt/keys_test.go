package jwt_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/jwt"
)

func TestParseJWKS(t *testing.T) {
	k := mustKeys(t)
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc := jwk("enc", "", &k.rsa2.PublicKey)
	enc["use"] = "enc"
	withX5c := jwk("x5c", "", &k.rsa2.PublicKey)
	withX5c["x5c"] = []string{"MIIB"}
	ks, err := jwt.ParseJWKS(jwks(t,
		jwk("rsa", "RS256", &k.rsa.PublicKey),
		enc,                              // another use: skipped
		jwk("p521", "", &p521.PublicKey), // a curve not used: skipped
		map[string]any{"kty": "OKP", "crv": "X25519", "x": b64(make([]byte, 32))}, // not a signing curve: skipped
		map[string]any{"kty": "RSA-PSS-future", "kid": "what"},                    // unknown kind: skipped
		withX5c,
		jwk("ed", "", k.ed.Public()),
	))
	if err != nil {
		t.Fatalf("ParseJWKS: %v", err)
	}
	if got, want := ks.KeyIDs(), []string{"ed", "rsa", "x5c"}; !slices.Equal(got, want) {
		t.Errorf("KeyIDs: got %q, want %q", got, want)
	}
	if got := ks.Len(); got != 3 {
		t.Errorf("Len: got %d, want 3", got)
	}

	p256 := jwk("p", "", &k.p256.PublicKey)
	offCurve := jwk("p", "", &k.p256.PublicKey)
	offCurve["y"] = offCurve["x"]
	shortX := jwk("p", "", &k.p256.PublicKey)
	shortX["x"] = b64(make([]byte, 31))
	priv := jwk("p", "", &k.p256.PublicKey)
	priv["d"] = privateD(k.p256)
	badN := jwk("r", "", &k.rsa.PublicKey)
	badN["n"] = "AAAA" + badN["n"].(string)
	badEd := jwk("e", "", k.ed.Public())
	badEd["x"] = b64(make([]byte, 31))
	numKid := jwk("p", "", &k.p256.PublicKey)
	numKid["kid"] = 7
	for _, tc := range []struct {
		name string
		doc  string
	}{
		{"PrivateKey", string(jwks(t, p256, priv))},
		{"Symmetric", string(jwks(t, p256, map[string]any{"kty": "oct", "k": b64([]byte("hmac secret"))}))},
		{"OffCurve", string(jwks(t, offCurve))},
		{"ShortCoordinate", string(jwks(t, shortX))},
		{"LeadingZeroModulus", string(jwks(t, badN))},
		{"ShortEd25519", string(jwks(t, badEd))},
		{"KidNotString", string(jwks(t, numKid))},
		{"NoUsableKey", string(jwks(t, enc))},
		{"Empty", `{"keys":[]}`},
		{"NotJSON", `{"keys":`},
		{"DuplicateMember", strings.Replace(string(jwks(t, p256)), `"kty":"EC"`, `"kty":"EC","kty":"RSA"`, 1)},
		{"TrailingData", string(jwks(t, p256)) + "{}"},
		{"KeysCaseVariant", strings.Replace(string(jwks(t, p256)), `"keys"`, `"Keys"`, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := jwt.ParseJWKS([]byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted, %d keys", ks.Len())
			}
			if tc.name == "PrivateKey" && strings.Contains(err.Error(), privateD(k.p256)) {
				t.Errorf("error echoes the private key")
			}
		})
	}
}

func TestParsePEM(t *testing.T) {
	k := mustKeys(t)
	pkixDER, _ := x509.MarshalPKIXPublicKey(k.p256.Public())
	edDER, _ := x509.MarshalPKIXPublicKey(k.ed.Public())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sa-signer"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1, 0)} // expired: only its key matters
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.rsa2.PublicKey, k.rsa2)
	if err != nil {
		t.Fatal(err)
	}
	block := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	all := block("PUBLIC KEY", pkixDER) + block("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)) +
		block("CERTIFICATE", certDER) + block("PUBLIC KEY", edDER)
	ks, err := jwt.ParseKeys([]byte(all))
	if err != nil {
		t.Fatalf("ParseKeys: %v", err)
	}
	if ks.Len() != 4 {
		t.Fatalf("Len: got %d, want 4", ks.Len())
	}
	e := expect()
	for _, tok := range []string{
		sign(t, "ES256", "", k.p256, claims(nil)),
		sign(t, "RS256", "", k.rsa, claims(nil)),
		sign(t, "RS512", "", k.rsa2, claims(nil)),
		sign(t, "EdDSA", "", k.ed, claims(nil)),
	} {
		if _, err := jwt.Verify(tok, ks, e); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}

	ecPriv, _ := x509.MarshalECPrivateKey(k.p256)
	pk8, _ := x509.MarshalPKCS8PrivateKey(k.ed)
	for _, tc := range []struct{ name, doc string }{
		{"ECPrivateKey", block("PUBLIC KEY", pkixDER) + block("EC PRIVATE KEY", ecPriv)},
		{"PKCS8", block("PRIVATE KEY", pk8)},
		{"OtherBlock", block("CERTIFICATE REQUEST", []byte{1})},
		{"BadDER", block("PUBLIC KEY", []byte{1, 2, 3})},
		{"TextAfter", block("PUBLIC KEY", pkixDER) + "and more"},
		{"Nothing", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := jwt.ParsePEM([]byte(tc.doc)); err == nil {
				t.Error("accepted")
			}
		})
	}
}
