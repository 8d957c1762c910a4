package jwt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// MinRSABits is the smallest RSA modulus a key set accepts.
const MinRSABits = 2048

// maxKeySetBytes bounds a JWKS or PEM document, local or fetched.
const maxKeySetBytes = 1 << 20

// Key is one public verification key: an *rsa.PublicKey, an
// *ecdsa.PublicKey on P-256 or P-384, or an ed25519.PublicKey.
type Key struct {
	ID     string           // the JWKS "kid"; "" for PEM keys and JWKS keys without one
	Alg    string           // the JWKS "alg"; when set, a token must name this algorithm
	Public crypto.PublicKey // the key itself
}

// KeySet is an immutable set of public keys, safe for concurrent use. The
// zero value and nil are empty sets, which verify nothing.
type KeySet struct {
	keys   []Key
	hasIDs bool // some key has an ID: then a token's kid must name one
}

// NewKeySet returns a set of copies of keys. It refuses a key of an
// unsupported type and an RSA key under MinRSABits.
func NewKeySet(keys ...Key) (*KeySet, error) {
	ks := &KeySet{}
	for _, k := range keys {
		switch pub := k.Public.(type) {
		case *rsa.PublicKey:
			if err := checkRSA(pub); err != nil {
				return nil, err
			}
		case *ecdsa.PublicKey:
			if curveAlg(pub) == "" {
				return nil, errors.New("jwt: EC key on an unsupported curve")
			}
		case ed25519.PublicKey:
			if len(pub) != ed25519.PublicKeySize {
				return nil, errors.New("jwt: bad Ed25519 key")
			}
		default:
			return nil, fmt.Errorf("jwt: unsupported key type %T", k.Public)
		}
		ks.keys = append(ks.keys, k)
		ks.hasIDs = ks.hasIDs || k.ID != ""
	}
	return ks, nil
}

// Len returns the number of keys in s.
func (s *KeySet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// Keys returns a copy of s's keys; the keys themselves are shared and must
// not be modified.
func (s *KeySet) Keys() []Key {
	if s == nil {
		return nil
	}
	return slices.Clone(s.keys)
}

// KeyIDs returns the key ids of s, sorted, without duplicates or "".
func (s *KeySet) KeyIDs() []string {
	var ids []string
	for _, k := range s.Keys() {
		if k.ID != "" {
			ids = append(ids, k.ID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// candidates returns the keys that may have signed a token with header alg
// and kid: those of alg's type whose own Alg is unset or alg, and, when the
// set has key ids and the token names one, only those with that id.
func (s *KeySet) candidates(alg, kid string) []Key {
	if s == nil {
		return nil
	}
	var out []Key
	for _, k := range s.keys {
		if s.hasIDs && kid != "" && k.ID != kid {
			continue
		}
		if k.Alg != "" && k.Alg != alg {
			continue
		}
		if keyFits(k.Public, alg) {
			out = append(out, k)
		}
	}
	return out
}

// ParseKeys parses a JWKS document (JSON starting with '{') or PEM public
// keys, whichever data holds.
func ParseKeys(data []byte) (*KeySet, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return ParseJWKS(data)
	}
	return ParsePEM(data)
}

// ParseJWKS parses a JWKS document (RFC 7517). It keeps the signing keys it
// knows (kty RSA; EC on P-256 and P-384; OKP on Ed25519; "use" unset or
// "sig") and skips the others without error. It refuses a document holding
// private or symmetric key material ("d" or "k": a configuration mistake
// that would put a secret in a public place), duplicate JSON member names,
// malformed known keys, RSA keys under MinRSABits, and a set with no usable
// key.
func ParseJWKS(data []byte) (*KeySet, error) {
	if len(data) > maxKeySetBytes {
		return nil, errors.New("jwt: JWKS too large")
	}
	if err := checkStructure(data); err != nil {
		return nil, fmt.Errorf("jwt: JWKS: %w", err)
	}
	var doc map[string]json.RawMessage // a map, not a struct: member names match exactly
	var set []map[string]json.RawMessage
	if json.Unmarshal(data, &doc) != nil || json.Unmarshal(doc["keys"], &set) != nil {
		return nil, errors.New("jwt: JWKS: not a key set")
	}
	var keys []Key
	for i, raw := range set {
		if raw["d"] != nil || raw["k"] != nil {
			return nil, fmt.Errorf("jwt: JWKS key %d holds private or symmetric key material: publish public keys only", i)
		}
		m, err := stringMembers(raw, "kty", "use", "kid", "alg", "crv", "n", "e", "x", "y")
		if err != nil {
			return nil, fmt.Errorf("jwt: JWKS key %d: %w", i, err)
		}
		if m["use"] != "" && m["use"] != "sig" {
			continue
		}
		pub, err := jwkPublic(m)
		if err != nil {
			return nil, fmt.Errorf("jwt: JWKS key %d: %w", i, err)
		}
		if pub == nil {
			continue
		}
		keys = append(keys, Key{ID: m["kid"], Alg: m["alg"], Public: pub})
	}
	if len(keys) == 0 {
		return nil, errors.New("jwt: JWKS has no usable signing key")
	}
	return NewKeySet(keys...)
}

// stringMembers returns the named members of raw that are present, each of
// which must be a JSON string.
func stringMembers(raw map[string]json.RawMessage, names ...string) (map[string]string, error) {
	m := map[string]string{}
	for _, n := range names {
		v, ok := raw[n]
		if !ok {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("%q is not a string", n)
		}
		m[n] = s
	}
	return m, nil
}

// jwkPublic returns the public key of a JWK's members, nil for a kind this
// package does not verify with.
func jwkPublic(m map[string]string) (crypto.PublicKey, error) {
	switch m["kty"] {
	case "RSA":
		n, err := b64(m["n"])
		if err != nil || len(n) == 0 || n[0] == 0 {
			return nil, errors.New("bad RSA modulus")
		}
		e, err := b64(m["e"])
		if err != nil || len(e) == 0 || len(e) > 4 || e[0] == 0 {
			return nil, errors.New("bad RSA exponent")
		}
		ev := new(big.Int).SetBytes(e)
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ev.Int64())}
		return pub, checkRSA(pub)
	case "EC":
		var curve elliptic.Curve
		var size int
		switch m["crv"] {
		case "P-256":
			curve, size = elliptic.P256(), 32
		case "P-384":
			curve, size = elliptic.P384(), 48
		default:
			return nil, nil
		}
		x, errx := b64(m["x"])
		y, erry := b64(m["y"])
		if errx != nil || erry != nil || len(x) != size || len(y) != size {
			return nil, errors.New("bad EC point")
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point) // on the curve, not infinity
		if err != nil {
			return nil, errors.New("bad EC point")
		}
		return pub, nil
	case "OKP":
		if m["crv"] != "Ed25519" {
			return nil, nil
		}
		x, err := b64(m["x"])
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad Ed25519 key")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, nil
}

// checkRSA refuses short moduli and exponents that are even, under 3 or
// over 2^31-1.
func checkRSA(pub *rsa.PublicKey) error {
	if pub.N == nil || pub.N.BitLen() < MinRSABits {
		return fmt.Errorf("jwt: RSA key under %d bits", MinRSABits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return errors.New("jwt: bad RSA exponent")
	}
	return nil
}

// ParsePEM parses one or more PEM blocks of public keys: "PUBLIC KEY"
// (PKIX: RSA, ECDSA P-256/P-384, Ed25519), "RSA PUBLIC KEY" (PKCS #1) and
// "CERTIFICATE" (its subject key; the certificate's validity and chain are
// not checked: it is a container for the key). It refuses private keys,
// other block types and text outside the blocks.
func ParsePEM(data []byte) (*KeySet, error) {
	if len(data) > maxKeySetBytes {
		return nil, errors.New("jwt: PEM too large")
	}
	var keys []Key
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		var pub any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		default:
			if bytes.Contains([]byte(block.Type), []byte("PRIVATE")) {
				return nil, errors.New("jwt: PEM holds a private key: give the public key only")
			}
			return nil, fmt.Errorf("jwt: PEM block %q is not a public key", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("jwt: PEM block %q: %w", block.Type, err)
		}
		keys = append(keys, Key{Public: pub})
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("jwt: PEM: text that is not a PEM block")
	}
	if len(keys) == 0 {
		return nil, errors.New("jwt: no PEM public key")
	}
	return NewKeySet(keys...)
}
