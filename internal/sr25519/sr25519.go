// Package sr25519 checks the signatures of Substrate sr25519 keys, such as
// the Bittensor hotkeys that Chutes clients sign their requests with, and
// parses the SS58 addresses that name those keys.
//
// Signatures are schnorrkel signatures in the signing context "substrate",
// as sp_core makes them. Verify also accepts a signature over the message
// wrapped as "<Bytes>" + message + "</Bytes>", the form polkadot.js signRaw
// produces, because Bittensor's btwallet Keypair.verify accepts it too.
//
// Only the SS58 addresses of 32-byte public keys with a simple one-byte
// prefix (0-63) are supported; Bittensor's are prefix 42, the generic
// Substrate format, whose addresses start with "5".
package sr25519

import (
	"bytes"
	"errors"
	"sync"

	"filippo.io/edwards25519"
	"github.com/ChainSafe/go-schnorrkel"
	"golang.org/x/crypto/blake2b"
)

// Sizes of the encodings.
const (
	PublicKeySize = 32
	SignatureSize = 64
	SeedSize      = 32
)

// Errors of the parsers. They never quote their input.
var (
	ErrAddress   = errors.New("not an SS58 address of a 32-byte public key with a one-byte prefix")
	ErrChecksum  = errors.New("SS58 address checksum does not match")
	ErrPublicKey = errors.New("not an sr25519 public key")
	ErrSignature = errors.New("signature must be exactly 128 hex digits (64 bytes), without 0x")
)

// signingContext is sp_core's SIGNING_CTX for sr25519.
var signingContext = []byte("substrate")

// PublicKey is an sr25519 public key, checked to be a valid point. It is
// safe for concurrent use.
type PublicKey struct {
	raw [PublicKeySize]byte
	a   edwards25519.Point // raw, decoded

	once   sync.Once
	tables *keyTables // a's, made by the first Verify
}

// NewPublicKey checks that b encodes an sr25519 public key (a canonical
// ristretto255 point other than the identity).
func NewPublicKey(b [PublicKeySize]byte) (*PublicKey, error) {
	if b == ([PublicKeySize]byte{}) { // the identity: every signature would verify
		return nil, ErrPublicKey
	}
	k := &PublicKey{raw: b}
	// The identity's only encoding is 32 zero bytes; its class is the
	// points with x = 0 or y = 0, and decoding rejects y = 0.
	var a extPoint
	if !decodeRistretto(&a, b[:]) || a.X.Equal(feZero) == 1 {
		return nil, ErrPublicKey
	}
	if _, err := k.a.SetExtendedCoordinates(&a.X, &a.Y, &a.Z, &a.T); err != nil {
		return nil, ErrPublicKey // not reached: a decoded point is on the curve
	}
	return k, nil
}

// ParseAddress parses an SS58 address and returns its public key and
// prefix: ErrAddress for anything but base58 of a one-byte prefix (0-63), 32
// bytes of key and a 2-byte checksum, ErrChecksum when the checksum is
// wrong, ErrPublicKey when the 32 bytes are no sr25519 key.
func ParseAddress(addr string) (*PublicKey, uint8, error) {
	// 35 bytes are 47 or 48 base58 digits; anything much longer is not an
	// address and would only cost decoding time.
	if len(addr) < 40 || len(addr) > 50 {
		return nil, 0, ErrAddress
	}
	b, ok := decodeBase58(addr)
	if !ok || len(b) != 1+PublicKeySize+2 || b[0] > 63 {
		return nil, 0, ErrAddress
	}
	sum := checksum(b[:1+PublicKeySize])
	if !bytes.Equal(sum[:2], b[1+PublicKeySize:]) {
		return nil, 0, ErrChecksum
	}
	k, err := NewPublicKey([PublicKeySize]byte(b[1 : 1+PublicKeySize]))
	if err != nil {
		return nil, 0, err
	}
	return k, b[0], nil
}

// Address returns the key's SS58 address with the given one-byte prefix
// (0-63; larger values are taken modulo 64).
func (k *PublicKey) Address(prefix uint8) string {
	b := make([]byte, 0, 1+PublicKeySize+2)
	b = append(b, prefix&63)
	b = append(b, k.raw[:]...)
	sum := checksum(b)
	return encodeBase58(append(b, sum[:2]...))
}

// Bytes returns the 32-byte encoding of the key.
func (k *PublicKey) Bytes() [PublicKeySize]byte { return k.raw }

// checksum is blake2b-512("SS58PRE" || prefix || key).
func checksum(data []byte) [blake2b.Size]byte {
	buf := make([]byte, 0, 7+len(data))
	buf = append(buf, "SS58PRE"...)
	return blake2b.Sum512(append(buf, data...))
}

// Signature is a 64-byte sr25519 signature.
type Signature [SignatureSize]byte

// ParseSignatureHex parses exactly 128 hex digits, either case, with no
// prefix or spaces (ErrSignature).
func ParseSignatureHex(s string) (Signature, error) {
	var sig Signature
	if len(s) != 2*SignatureSize {
		return sig, ErrSignature
	}
	for i := range sig {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return Signature{}, ErrSignature
		}
		sig[i] = hi<<4 | lo
	}
	return sig, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Verify reports whether sig is the key's signature over msg, or over msg
// wrapped in "<Bytes>" and "</Bytes>".
//
// It accepts and rejects exactly what go-schnorrkel's (*PublicKey).Verify
// does after (*Signature).Decode: sig is R (a canonical ristretto255
// encoding) and s (a canonical scalar, little-endian, with the top bit of
// its last byte, always 0 in a scalar, set to mark a schnorrkel signature,
// and cleared before decoding), and it verifies when R = s B - k A as
// ristretto255 elements, where A is the key, B the base point and k the
// challenge that the signing transcript gives.
func (k *PublicKey) Verify(msg []byte, sig Signature) bool {
	if sig[63]&0x80 == 0 { // not marked as schnorrkel
		return false
	}
	var r extPoint
	if !decodeRistretto(&r, sig[:32]) {
		return false
	}
	sb := [32]byte(sig[32:])
	sb[31] &= 0x7f
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(sb[:])
	if err != nil { // s is not less than the group order
		return false
	}
	k.once.Do(func() { k.tables = tablesFor(k.raw, &k.a) })
	if k.verify(msg, sig[:32], &r, s) {
		return true
	}
	wrapped := make([]byte, 0, len("<Bytes></Bytes>")+len(msg))
	wrapped = append(append(append(wrapped, "<Bytes>"...), msg...), "</Bytes>"...)
	return k.verify(wrapped, sig[:32], &r, s)
}

// verify checks the signature (R, s) over msg; r is R decoded.
func (k *PublicKey) verify(msg, R []byte, r *extPoint, s *edwards25519.Scalar) bool {
	// schnorrkel's transcript: NewSigningContext(signingContext, msg), then
	// what (*PublicKey).Verify appends.
	t := signingTranscript()
	t.append("sign-bytes", msg)
	t.append("proto-name", []byte("Schnorr-sig"))
	t.append("sign:pk", k.raw[:])
	t.append("sign:R", R)
	c, err := new(edwards25519.Scalar).SetUniformBytes(t.extract("sign:c", 64))
	if err != nil {
		panic("sr25519: " + err.Error()) // 64 bytes are always uniform bytes
	}
	var rhs edwards25519.Point
	X, Y, _, _ := schnorrRHS(&rhs, k.tables, c, s).ExtendedCoordinates()
	return ristrettoEqual(X, Y, &r.X, &r.Y)
}

// PrivateKey signs messages. Servers never hold one; clients and tests do.
type PrivateKey struct {
	sk  *schnorrkel.SecretKey
	pub *PublicKey
}

// NewPrivateKeyFromSeed derives a key pair from a 32-byte seed (a schnorrkel
// mini secret key) the way Substrate, polkadot.js and btwallet do: with the
// "Ed25519" expansion.
func NewPrivateKeyFromSeed(seed [SeedSize]byte) (*PrivateKey, error) {
	mini, err := schnorrkel.NewMiniSecretKeyFromRaw(seed)
	if err != nil {
		return nil, err
	}
	sk := mini.ExpandEd25519()
	pk, err := sk.Public()
	if err != nil {
		return nil, err
	}
	pub, err := NewPublicKey(pk.Encode())
	if err != nil {
		return nil, err
	}
	return &PrivateKey{sk: sk, pub: pub}, nil
}

// Public returns the key's public half.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Sign signs msg in the "substrate" context. Signatures are randomised:
// signing the same message twice gives different signatures.
func (k *PrivateKey) Sign(msg []byte) (Signature, error) {
	s, err := k.sk.Sign(schnorrkel.NewSigningContext(signingContext, msg))
	if err != nil {
		return Signature{}, err
	}
	return s.Encode(), nil
}
