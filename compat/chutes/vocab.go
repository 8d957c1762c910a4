package chutes

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/sr25519"
)

// This file holds Chutes' words that the service needs without knowing
// them, registered with it through service.Options: the cpk_ token format
// (TokenFormat), hotkeys' sr25519 keys and signatures (HotkeyScheme), and
// the texts of Chutes' refusals of signed requests (hotkeyDetail).

// KeyFormatName is the name of Chutes' token format in
// coffer.APIKeyCreate.Format.
const KeyFormatName = "chutes"

var (
	_ coffer.KeyFormat       = TokenFormat{}
	_ coffer.SignatureScheme = HotkeyScheme{}
)

// Chutes tokens are "cpk_" + 32 hex digits of key id + "." + 32 hex digits
// of principal id + "." + 32 letters and digits of secret (190 bits), as
// Chutes' own keys are. The principal id is hashed with the secret, so a
// token naming another principal does not verify.
const (
	tokenPrefix = "cpk_"
	tokIDLen    = 32
	tokSecLen   = 32
	tokLen      = len(tokenPrefix) + tokIDLen + 1 + tokIDLen + 1 + tokSecLen
)

// TokenFormat is Chutes' API key token format, to register with the
// service (service.Options.KeyFormats).
type TokenFormat struct{}

// Name implements coffer.KeyFormat.
func (TokenFormat) Name() string { return KeyFormatName }

// ParseToken implements coffer.KeyFormat: the secret is
// "<principal id>.<secret>".
func (TokenFormat) ParseToken(tok string) (id string, secret []byte, ok bool) {
	if len(tok) != tokLen || !strings.HasPrefix(tok, tokenPrefix) {
		return "", nil, false
	}
	id, rest, _ := strings.Cut(tok[len(tokenPrefix):], ".")
	principal, sec, _ := strings.Cut(rest, ".")
	if len(id) != tokIDLen || len(principal) != tokIDLen || len(sec) != tokSecLen ||
		!isLowerHex(id) || !isLowerHex(principal) || !isAlnum(sec) {
		return "", nil, false
	}
	return id, []byte(rest), true
}

// NewToken implements coffer.KeyFormat.
func (TokenFormat) NewToken(principal string) (id, token string, secret []byte) {
	const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var b [tokIDLen/2 + tokSecLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	id = hex.EncodeToString(b[:tokIDLen/2])
	sec := make([]byte, tokSecLen)
	for i, r := range b[tokIDLen/2:] {
		// 256 is not a multiple of 62; rejection sampling keeps the
		// letters uniform.
		for r >= 248 {
			var one [1]byte
			if _, err := rand.Read(one[:]); err != nil {
				panic("crypto/rand: " + err.Error())
			}
			r = one[0]
		}
		sec[i] = alnum[int(r)%len(alnum)]
	}
	rest := principal + "." + string(sec)
	return id, tokenPrefix + id + "." + rest, []byte(rest)
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// hotkeyPrefix is the SS58 prefix hotkeys are kept under: 42, the generic
// Substrate format that Bittensor uses.
const hotkeyPrefix = 42

// HotkeyScheme reads Chutes' hotkeys (SS58 addresses of sr25519 keys) and
// their signatures (hex), to register with the service
// (service.Options.Hotkeys).
type HotkeyScheme struct{}

// ParseKey implements coffer.SignatureScheme: an SS58 address in any
// one-byte format, kept in format 42.
func (HotkeyScheme) ParseKey(ss58 string) (string, coffer.VerifyKey, error) {
	pub, _, err := sr25519.ParseAddress(ss58)
	if err != nil {
		msg := "hotkey must be the SS58 address of an sr25519 public key"
		if errors.Is(err, sr25519.ErrChecksum) {
			msg += ": its checksum does not match (mistyped?)"
		}
		return "", nil, errors.New(msg)
	}
	return pub.Address(hotkeyPrefix), verifyKey{pub}, nil
}

// ParseSignature implements coffer.SignatureScheme: 128 hex digits, either
// case.
func (HotkeyScheme) ParseSignature(s string) ([]byte, error) {
	sig, err := sr25519.ParseSignatureHex(s)
	if err != nil {
		return nil, err
	}
	return sig[:], nil
}

type verifyKey struct{ pub *sr25519.PublicKey }

func (k verifyKey) Verify(msg, sig []byte) bool {
	return len(sig) == sr25519.SignatureSize && k.pub.Verify(msg, sr25519.Signature(sig))
}

// hotkeyDetail is Chutes' text for the service's refusal err of the signed
// request p.
func hotkeyDetail(err error, p coffer.HotkeyProof) string {
	var r *coffer.HotkeyRefusal
	if !errors.As(err, &r) {
		return coffer.ErrorMessage(err)
	}
	switch r.Reason {
	case coffer.HotkeyBadNonce:
		return "Invalid nonce!"
	case coffer.HotkeyMalformedKey:
		return "Invalid hotkey: want the SS58 address of an sr25519 key"
	case coffer.HotkeyUnknown:
		return "Could not find user with hotkey: " + p.Hotkey
	case coffer.HotkeyMalformedSignature, coffer.HotkeyBadSignature:
		d := "Invalid request signature for hotkey " + p.Hotkey + "."
		if utf8.Valid(p.Message) && len(p.Message) <= 1024 {
			d += " Message: " + string(p.Message)
		}
		return d
	case coffer.HotkeyReplayed:
		return "Replayed request: this nonce and signature were used already; sign every request with a new nonce"
	}
	return coffer.ErrorMessage(err)
}
