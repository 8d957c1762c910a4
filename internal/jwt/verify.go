// Package jwt verifies JSON Web Tokens (compact JWS, RFC 7515 and 7519)
// signed with public keys: RS256, RS384, RS512, ES256, ES384 and EdDSA
// (Ed25519). It is the verifier behind workload identity: OIDC tokens of CI
// systems and Kubernetes service-account tokens. It never fetches or trusts
// a key named by a token: keys come from a KeySet, which a Source loads
// from configuration or refreshes in the background.
//
// Errors wrap one of the Err* values below; their text names the rule that
// failed and never holds token content.
package jwt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// Refusals. Every error of Verify wraps exactly one.
var (
	ErrMalformed   = errors.New("jwt: malformed token")          // not compact JWS, bad base64 or JSON, oversize, duplicate members
	ErrAlgorithm   = errors.New("jwt: algorithm not allowed")    // none, HS*, unknown, or not the key's
	ErrHeader      = errors.New("jwt: header not allowed")       // crit, or a key or key URL in the token
	ErrUnknownKey  = errors.New("jwt: no key for this token")    // kid not in the set, or no key of the algorithm's type
	ErrSignature   = errors.New("jwt: bad signature")            // no candidate key verifies it
	ErrExpired     = errors.New("jwt: token expired")            // exp passed (or missing: see ErrClaims)
	ErrNotYetValid = errors.New("jwt: token not yet valid")      // nbf or iat in the future
	ErrTooOld      = errors.New("jwt: token too old")            // iat further back than MaxAge
	ErrIssuer      = errors.New("jwt: wrong issuer")             // iss is not Expectations.Issuer
	ErrAudience    = errors.New("jwt: wrong audience")           // aud holds none of Expectations.Audiences
	ErrClaims      = errors.New("jwt: bad registered claim")     // exp missing, a time not a number, iss/sub not strings
	ErrNoMatch     = errors.New("jwt: claims do not match role") // MatchClaims
)

// MaxTokenBytes bounds the compact token Verify reads.
const MaxTokenBytes = 16 << 10

// DefaultLeeway is the clock skew allowed on exp, nbf and iat when
// Expectations.Leeway is zero.
const DefaultLeeway = 60 * time.Second

// Expectations are what a verified token must satisfy besides its
// signature.
type Expectations struct {
	// Issuer, when set, must equal the iss claim exactly.
	Issuer string
	// Audiences, when set, must hold one of the aud claim's values (a
	// string or an array of strings). When empty, a token carrying aud is
	// refused: a token meant for another service must not log in here.
	Audiences []string
	// Leeway is the clock skew allowed on exp, nbf and iat: zero means
	// DefaultLeeway, a negative value none.
	Leeway time.Duration
	// MaxAge, when positive, refuses a token whose iat is further back than
	// MaxAge (plus leeway), even if it has not expired: the bound on replay.
	// With MaxAge set, iat is required.
	MaxAge time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Claims are the claims of a verified token.
type Claims struct {
	Issuer    string    // iss
	Subject   string    // sub
	Audience  []string  // aud, a string claim as one element
	Expiry    time.Time // exp
	NotBefore time.Time // nbf; zero when absent
	IssuedAt  time.Time // iat; zero when absent
	ID        string    // jti
	// Algorithm and KeyID are the header's alg and kid.
	Algorithm string
	KeyID     string
	// Raw holds every claim, numbers as json.Number, for custom claims and
	// MatchClaims.
	Raw map[string]any
}

// The header members this package reads; a token naming its own key or key
// URL (jku, jwk, x5u, x5c, x5t) is refused, and so is crit: this verifier
// implements no extension.
var refusedHeaders = []string{"crit", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256"}

// Verify checks a compact JWS token against keys and exp and returns its
// claims. It refuses tokens over MaxTokenBytes, anything but three strict
// base64url parts, JSON with duplicate member names or too deep or wide,
// algorithms but RS256, RS384, RS512, ES256, ES384 and EdDSA, the headers in
// refusedHeaders, a kid not in the set (when the set has key ids), and
// claims failing exp.
func Verify(token string, keys *KeySet, exp Expectations) (Claims, error) {
	if len(token) > MaxTokenBytes {
		return Claims{}, fmt.Errorf("%w: over %d bytes", ErrMalformed, MaxTokenBytes)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, fmt.Errorf("%w: not three dot-separated parts", ErrMalformed)
	}
	hjson, err := b64(parts[0])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	header, err := decodeObject(hjson)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	alg, ok := header["alg"].(string)
	if !ok {
		return Claims{}, fmt.Errorf("%w: header has no alg", ErrMalformed)
	}
	if _, ok := hashOf[alg]; !ok && alg != "EdDSA" {
		return Claims{}, fmt.Errorf("%w: %q", ErrAlgorithm, printable(alg))
	}
	for _, h := range refusedHeaders {
		if _, ok := header[h]; ok {
			return Claims{}, fmt.Errorf("%w: %q", ErrHeader, h)
		}
	}
	kid := ""
	if v, ok := header["kid"]; ok {
		if kid, ok = v.(string); !ok {
			return Claims{}, fmt.Errorf("%w: kid is not a string", ErrMalformed)
		}
	}
	sig, err := b64(parts[2])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	cjson, err := b64(parts[1])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	cands := keys.candidates(alg, kid)
	if len(cands) == 0 {
		return Claims{}, fmt.Errorf("%w (alg %s)", ErrUnknownKey, alg)
	}
	signed := []byte(token[:len(parts[0])+1+len(parts[1])])
	verified := false
	for _, k := range cands {
		if verifySig(k.Public, alg, signed, sig) {
			verified = true
			break
		}
	}
	if !verified {
		return Claims{}, ErrSignature
	}
	raw, err := decodeObject(cjson)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	c, err := registered(raw)
	if err != nil {
		return Claims{}, err
	}
	c.Algorithm, c.KeyID = alg, kid
	if err := exp.check(c); err != nil {
		return Claims{}, err
	}
	return c, nil
}

// check applies e to verified claims c.
func (e Expectations) check(c Claims) error {
	now := time.Now()
	if e.Now != nil {
		now = e.Now()
	}
	leeway := e.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	} else if leeway < 0 {
		leeway = 0
	}
	if !now.Before(c.Expiry.Add(leeway)) {
		return ErrExpired
	}
	if !c.NotBefore.IsZero() && now.Add(leeway).Before(c.NotBefore) {
		return fmt.Errorf("%w: nbf", ErrNotYetValid)
	}
	if !c.IssuedAt.IsZero() && now.Add(leeway).Before(c.IssuedAt) {
		return fmt.Errorf("%w: iat in the future", ErrNotYetValid)
	}
	if e.MaxAge > 0 {
		if c.IssuedAt.IsZero() {
			return fmt.Errorf("%w: no iat to bound its age", ErrTooOld)
		}
		if now.Sub(c.IssuedAt) > e.MaxAge+leeway {
			return ErrTooOld
		}
	}
	if e.Issuer != "" && c.Issuer != e.Issuer {
		return ErrIssuer
	}
	if len(e.Audiences) == 0 {
		if len(c.Audience) > 0 {
			return fmt.Errorf("%w: the token has an audience and none is expected", ErrAudience)
		}
		return nil
	}
	for _, a := range c.Audience {
		for _, want := range e.Audiences {
			if a == want {
				return nil
			}
		}
	}
	return ErrAudience
}

// registered reads the registered claims of raw.
func registered(raw map[string]any) (Claims, error) {
	c := Claims{Raw: raw}
	var err error
	str := func(name string) string {
		v, ok := raw[name]
		if !ok || err != nil {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			err = fmt.Errorf("%w: %s is not a string", ErrClaims, name)
		}
		return s
	}
	tm := func(name string) time.Time {
		v, ok := raw[name]
		if !ok || err != nil {
			return time.Time{}
		}
		n, ok := v.(json.Number)
		f, ferr := n.Float64()
		if !ok || ferr != nil || math.IsNaN(f) || f <= 0 || f > 1e11 {
			err = fmt.Errorf("%w: %s is not a time", ErrClaims, name)
			return time.Time{}
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9))
	}
	c.Issuer, c.Subject, c.ID = str("iss"), str("sub"), str("jti")
	c.Expiry, c.NotBefore, c.IssuedAt = tm("exp"), tm("nbf"), tm("iat")
	if err != nil {
		return Claims{}, err
	}
	if _, ok := raw["exp"]; !ok {
		return Claims{}, fmt.Errorf("%w: no exp", ErrClaims)
	}
	switch aud := raw["aud"].(type) {
	case nil:
		if _, ok := raw["aud"]; ok {
			return Claims{}, fmt.Errorf("%w: aud is null", ErrClaims)
		}
	case string:
		c.Audience = []string{aud}
	case []any:
		for _, a := range aud {
			s, ok := a.(string)
			if !ok {
				return Claims{}, fmt.Errorf("%w: aud holds a non-string", ErrClaims)
			}
			c.Audience = append(c.Audience, s)
		}
	default:
		return Claims{}, fmt.Errorf("%w: aud is neither a string nor an array", ErrClaims)
	}
	return c, nil
}

// hashOf maps each allowed RSA and ECDSA algorithm to its hash.
var hashOf = map[string]crypto.Hash{
	"RS256": crypto.SHA256, "RS384": crypto.SHA384, "RS512": crypto.SHA512,
	"ES256": crypto.SHA256, "ES384": crypto.SHA384,
}

// keyFits reports whether pub is of the type alg signs with.
func keyFits(pub crypto.PublicKey, alg string) bool {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS")
	case *ecdsa.PublicKey:
		return curveAlg(p) == alg
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// curveAlg returns the one JWS algorithm of an EC key's curve, "" for a
// curve this package does not use.
func curveAlg(p *ecdsa.PublicKey) string {
	switch p.Curve {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	}
	return ""
}

// verifySig reports whether sig is pub's signature of signed under alg.
// ECDSA signatures are the raw r||s of RFC 7518, not DER.
func verifySig(pub crypto.PublicKey, alg string, signed, sig []byte) bool {
	if alg == "EdDSA" {
		p, ok := pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(p, signed, sig)
	}
	h := hashOf[alg]
	digest := digestOf(h, signed)
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(p, h, digest, sig) == nil
	case *ecdsa.PublicKey:
		size := (p.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(p, digest, r, s)
	}
	return false
}

func digestOf(h crypto.Hash, data []byte) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384(data)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(data)
		return d[:]
	}
	d := sha256.Sum256(data)
	return d[:]
}

// b64 decodes strict unpadded base64url: only the 64 letters of the
// alphabet (the decoder would skip newlines), and zero unused bits.
func b64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, errors.New("not base64url")
		}
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// printable returns s cut to 20 bytes of printable ASCII, for naming a
// refused algorithm in an error without echoing arbitrary token bytes.
func printable(s string) string {
	var b bytes.Buffer
	for i := 0; i < len(s) && b.Len() < 20; i++ {
		if s[i] >= 0x20 && s[i] < 0x7f {
			b.WriteByte(s[i])
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}
