// Package envelope implements coffer's envelope encryption.
//
// Secret values are sealed with AES-256-GCM under a data key (DEK), one per
// store. Data keys are stored wrapped (encrypted with AES-256-GCM) under a
// master key (KEK) held in a Keyring. Rotating the master key means building
// a Keyring with the new key first and the old keys after it: the new key
// wraps, every key still unwraps.
//
// Every ciphertext starts with a 5-byte header: a format byte (FormatValue
// for sealed values, FormatWrappedKey for wrapped data keys) and the 4-byte
// big-endian id of the key that sealed it. A random 12-byte nonce follows,
// then the GCM ciphertext and its 16-byte tag. The header is authenticated:
// the GCM additional data is the header followed by the caller's associated
// data, which binds a ciphertext to its place (see AAD).
//
// Errors never contain key material, plaintext or associated data. Decoding
// errors are one of ErrFormat, ErrUnknownKey and ErrIntegrity, to be tested
// with errors.Is.
package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
)

// KeySize is the size in bytes of every key: master keys and data keys are
// AES-256 keys.
const KeySize = 32

// Format bytes: the first byte of every ciphertext says what it is and how
// to read the rest.
const (
	// FormatValue starts a value sealed by Cipher.Seal.
	FormatValue byte = 0x01
	// FormatWrappedKey starts a data key wrapped by Keyring.Wrap.
	FormatWrappedKey byte = 0x02
)

// Sizes of ciphertexts.
const (
	// Overhead is the number of bytes Cipher.Seal adds to a plaintext:
	// header, nonce and tag.
	Overhead = prefixSize + tagSize

	// WrappedKeySize is the size of every data key wrapped by Keyring.Wrap.
	WrappedKeySize = Overhead + KeySize
)

const (
	headerSize = 1 + 4 // format byte, key id
	nonceSize  = 12    // standard GCM nonce
	tagSize    = 16    // standard GCM tag
	prefixSize = headerSize + nonceSize
)

// Errors returned when opening a ciphertext. They never carry details about
// the input, so they are safe to log.
var (
	ErrIntegrity  = errors.New("envelope: integrity check failed: the ciphertext was modified, moved to another place, or opened with the wrong key")
	ErrUnknownKey = errors.New("envelope: ciphertext was sealed with a key that is not in the keyring")
	ErrFormat     = errors.New("envelope: not a coffer ciphertext (bad format byte or too short)")
)

// Cipher seals and opens values with one data key. It keeps only the AEAD
// built from the key, not the key itself. A Cipher is safe for concurrent
// use, and cheap to keep per data key. Build one with NewCipher.
//
// Each Seal draws a random 96-bit nonce, so one data key should seal well
// under 2^32 values; per-store data keys stay far below that.
type Cipher struct {
	id   uint32
	aead cipher.AEAD
}

// NewCipher returns a Cipher that seals with the data key dek and labels its
// ciphertexts with id. It returns an error if dek is not KeySize bytes long.
// The caller may Zero dek afterwards.
func NewCipher(id uint32, dek []byte) (*Cipher, error) {
	aead, err := newAEAD(dek)
	if err != nil {
		return nil, fmt.Errorf("envelope: data key: %w", err)
	}
	return &Cipher{id: id, aead: aead}, nil
}

// ID returns the data key id that c writes into and expects in headers.
func (c *Cipher) ID() uint32 { return c.id }

// String describes c by its id only.
func (c *Cipher) String() string { return fmt.Sprintf("envelope.Cipher{id: %d}", c.id) }

// Format prints c as String does for every verb.
func (c *Cipher) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// LogValue logs c as String does.
func (c *Cipher) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Seal encrypts plaintext and binds it to aad, which Open must be given
// again. The result is
//
//	[FormatValue][4-byte big-endian data key id][12-byte nonce][ciphertext+tag]
//
// and is len(plaintext)+Overhead bytes long. Seal makes one allocation, the
// result.
func (c *Cipher) Seal(plaintext, aad []byte) []byte {
	return seal(c.aead, FormatValue, c.id, plaintext, aad)
}

// Open decrypts a value made by Seal with the same aad. It returns ErrFormat
// if ciphertext is not a sealed value, ErrUnknownKey if it was sealed with
// another data key id, and ErrIntegrity if it was modified, sealed with
// other associated data, or sealed with another key under the same id. Open
// makes one allocation, holding the plaintext.
func (c *Cipher) Open(ciphertext, aad []byte) ([]byte, error) {
	id, err := CiphertextKeyID(ciphertext)
	if err != nil {
		return nil, err
	}
	if id != c.id {
		return nil, ErrUnknownKey
	}
	return open(c.aead, ciphertext, aad)
}

// CiphertextKeyID returns the data key id in the header of a value made by
// Cipher.Seal, so that the caller can pick the Cipher to open it with. It
// returns ErrFormat if ciphertext is not a sealed value.
func CiphertextKeyID(ciphertext []byte) (uint32, error) {
	if len(ciphertext) < Overhead || ciphertext[0] != FormatValue {
		return 0, ErrFormat
	}
	return binary.BigEndian.Uint32(ciphertext[1:headerSize]), nil
}

// newAEAD returns AES-256-GCM with key. Its error does not mention the key.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal returns [format][id][nonce][aead.Seal(plaintext)] with the additional
// data header||aad. It makes one allocation: the additional data is built in
// spare capacity past the end of the result, which the result's capacity
// hides.
func seal(aead cipher.AEAD, format byte, id uint32, plaintext, aad []byte) []byte {
	n := prefixSize + len(plaintext) + tagSize
	buf := make([]byte, n, n+headerSize+len(aad))
	buf[0] = format
	binary.BigEndian.PutUint32(buf[1:headerSize], id)
	nonce := buf[headerSize:prefixSize]
	rand.Read(nonce) // never fails; crypto/rand crashes the program instead
	ad := append(buf[n:n], buf[:headerSize]...)
	ad = append(ad, aad...)
	aead.Seal(buf[:prefixSize], nonce, plaintext, ad)
	return buf[:n:n]
}

// open reverses seal for a ciphertext whose header the caller has checked.
// It makes one allocation: the additional data is built in front of the
// plaintext, and the result's slice starts after it.
func open(aead cipher.AEAD, ciphertext, aad []byte) ([]byte, error) {
	ptLen := len(ciphertext) - Overhead
	adLen := headerSize + len(aad)
	buf := make([]byte, adLen+ptLen)
	ad := append(buf[:0], ciphertext[:headerSize]...)
	ad = append(ad, aad...)
	nonce := ciphertext[headerSize:prefixSize]
	plaintext, err := aead.Open(buf[adLen:adLen], nonce, ciphertext[prefixSize:], ad)
	if err != nil {
		return nil, ErrIntegrity
	}
	return plaintext[:ptLen:ptLen], nil
}
