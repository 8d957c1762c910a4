package envelope

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
)

// errParseKey is returned by ParseKey for every malformed key. It is fixed
// text so that a key pasted into the wrong place never reaches a log.
var errParseKey = errors.New("envelope: master key must be 64 hex digits or the base64 of 32 bytes")

// GenerateKey returns a new random key of KeySize bytes. It panics only if
// the system random source fails.
func GenerateKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k) // never fails; crypto/rand crashes the program instead
	return k
}

// ParseKey parses a master key written as text: 64 hex digits (either case),
// or 32 bytes in standard or URL-safe base64, padded or not. Surrounding
// whitespace, such as the newline ending a key file, is ignored. The error
// does not quote the input.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == hex.EncodedLen(KeySize) {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.URLEncoding,
		base64.RawStdEncoding, base64.RawURLEncoding,
	} {
		if len(s) != enc.EncodedLen(KeySize) {
			continue
		}
		if k, err := enc.Strict().DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, errParseKey
}

// EncodeKey renders k as lowercase hex digits (64 for a KeySize key), the
// format of the master key file.
func EncodeKey(k []byte) string { return hex.EncodeToString(k) }

// AAD builds associated data from parts, unambiguously: "coffer/aad/v1"
// followed by each part as its 4-byte big-endian length and its bytes, so
// AAD("ab", "c") differs from AAD("a", "bc"). Callers bind a ciphertext to its
// place with it, for example AAD("value", accountID, storeID, secretID, "3").
func AAD(parts ...string) []byte {
	const prefix = "coffer/aad/v1"
	n := len(prefix)
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	b = append(b, prefix...)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// Zero overwrites b with zeros. Use it on keys and plaintexts once done.
func Zero(b []byte) { clear(b) }
