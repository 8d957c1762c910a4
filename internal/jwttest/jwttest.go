// Package jwttest signs JSON Web Tokens with test keys and serves their
// JWKS, for the tests of workload identity. Imported by tests only.
package jwttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

var enc = base64.RawURLEncoding

// Key is a private test key with its kid.
type Key struct {
	ID   string
	Alg  string // RS256, ES256 or EdDSA
	Priv crypto.Signer
}

var (
	rsaOnce sync.Once
	rsaKeys [2]*rsa.PrivateKey
)

// RSA returns test RSA key i (0 or 1), generated once per test binary.
func RSA(tb testing.TB, kid string, i int) Key {
	tb.Helper()
	rsaOnce.Do(func() {
		for j := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
	})
	return Key{ID: kid, Alg: "RS256", Priv: rsaKeys[i]}
}

// EC returns a new P-256 key.
func EC(tb testing.TB, kid string) Key {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return Key{ID: kid, Alg: "ES256", Priv: k}
}

// Ed25519 returns a new Ed25519 key.
func Ed25519(tb testing.TB, kid string) Key {
	tb.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return Key{ID: kid, Alg: "EdDSA", Priv: k}
}

// JWK returns the public JWK of k.
func (k Key) JWK() map[string]string {
	m := map[string]string{"kid": k.ID}
	switch p := k.Priv.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", enc.EncodeToString(p.N.Bytes()), enc.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		b, _ := p.Bytes()
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", enc.EncodeToString(b[1:33]), enc.EncodeToString(b[33:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", enc.EncodeToString(p)
	}
	return m
}

// JWKS returns the JWKS document of keys.
func JWKS(keys ...Key) string {
	l := make([]map[string]string, len(keys))
	for i, k := range keys {
		l[i] = k.JWK()
	}
	b, _ := json.Marshal(map[string]any{"keys": l})
	return string(b)
}

// Sign returns the compact token of claims signed by k.
func (k Key) Sign(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	return k.SignHeader(tb, map[string]any{"alg": k.Alg, "typ": "JWT", "kid": k.ID}, claims)
}

// SignHeader signs claims with k under header as given.
func (k Key) SignHeader(tb testing.TB, header, claims map[string]any) string {
	tb.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	var sig []byte
	var err error
	switch p := k.Priv.(type) {
	case *rsa.PrivateKey:
		d := sha256.Sum256([]byte(signed))
		sig, err = rsa.SignPKCS1v15(rand.Reader, p, crypto.SHA256, d[:])
	case *ecdsa.PrivateKey:
		d := sha256.Sum256([]byte(signed))
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, p, d[:])
		if err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(p, []byte(signed))
	}
	if err != nil {
		tb.Fatal(err)
	}
	return signed + "." + enc.EncodeToString(sig)
}

// Unsigned returns an alg:none token of claims.
func Unsigned(claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "none", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	return enc.EncodeToString(h) + "." + enc.EncodeToString(c) + "."
}

// HMAC returns an HS256 token of claims keyed with secret (the confusion
// attack: a public key's bytes used as the HMAC key).
func HMAC(secret []byte, kid string, claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid})
	c, _ := json.Marshal(claims)
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(signed))
	return signed + "." + enc.EncodeToString(m.Sum(nil))
}

// Issuer is an OIDC issuer on loopback TLS: its discovery document and a
// JWKS whose keys SetKeys replaces (rotation).
type Issuer struct {
	*httptest.Server
	mu   sync.Mutex
	jwks string
}

// NewIssuer starts an issuer serving keys; it stops when tb ends.
func NewIssuer(tb testing.TB, keys ...Key) *Issuer {
	tb.Helper()
	is := &Issuer{jwks: JWKS(keys...)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"issuer": is.URL, "jwks_uri": is.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		defer is.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(is.jwks))
	})
	is.Server = httptest.NewTLSServer(mux)
	tb.Cleanup(is.Close)
	return is
}

// SetKeys replaces the served keys.
func (is *Issuer) SetKeys(keys ...Key) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.jwks = JWKS(keys...)
}
