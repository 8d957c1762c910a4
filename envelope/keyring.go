package envelope

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"log/slog"
)

// Keyring holds master keys (KEKs) by id. The first key given to NewKeyring
// is active: it wraps new data keys and makes MACs. The others only unwrap
// data keys and verify MACs, so that data written before a rotation stays
// readable. A Keyring is immutable and safe for concurrent use. Build one
// with NewKeyring; the zero Keyring holds no key.
//
// A Keyring redacts itself when printed or logged: only key ids show.
type Keyring struct {
	active uint32
	keys   []kek // active first
}

// kek is one master key. The raw key is kept because MAC keys are derived
// from it per purpose.
type kek struct {
	id     uint32
	master []byte
	aead   cipher.AEAD
}

// NewKeyring returns a Keyring whose active key is active and which can also
// unwrap with the keys in old. It copies the keys, so the caller may Zero its
// own copies. It returns an error if a key is not KeySize bytes long or if
// two keys have the same id (the same key given twice).
func NewKeyring(active []byte, old ...[]byte) (*Keyring, error) {
	all := append([][]byte{active}, old...)
	k := &Keyring{keys: make([]kek, 0, len(all))}
	for i, key := range all {
		aead, err := newAEAD(key)
		if err != nil {
			return nil, fmt.Errorf("envelope: master key %d: %w", i, err)
		}
		id := KeyID(key)
		for j, other := range k.keys {
			if other.id == id {
				return nil, fmt.Errorf("envelope: master keys %d and %d have the same id %08x", j, i, id)
			}
		}
		k.keys = append(k.keys, kek{id: id, master: append([]byte(nil), key...), aead: aead})
	}
	k.active = k.keys[0].id
	return k, nil
}

// KeyID returns the stable 32-bit id of a master key: the first 4 bytes, big
// endian, of SHA-256("coffer/kek-id/v1" || master). It is never 0 (a hash
// that starts with 4 zero bytes maps to 1), so 0 can mean "no key".
func KeyID(master []byte) uint32 {
	h := sha256.New()
	h.Write([]byte("coffer/kek-id/v1"))
	h.Write(master)
	var sum [sha256.Size]byte
	id := binary.BigEndian.Uint32(h.Sum(sum[:0]))
	if id == 0 {
		id = 1
	}
	return id
}

// ActiveID returns the id of the active master key.
func (k *Keyring) ActiveID() uint32 { return k.active }

// Has reports whether the keyring holds the master key with this id.
func (k *Keyring) Has(id uint32) bool { return k.find(id) != nil }

func (k *Keyring) find(id uint32) *kek {
	for i := range k.keys {
		if k.keys[i].id == id {
			return &k.keys[i]
		}
	}
	return nil
}

// Wrap encrypts the data key dek under the active master key and binds it to
// aad, which Unwrap must be given again. The result is WrappedKeySize bytes:
//
//	[FormatWrappedKey][4-byte big-endian master key id][12-byte nonce][ciphertext+tag]
//
// The GCM additional data is the 5-byte header followed by aad. Wrap returns
// an error only if dek is not KeySize bytes long.
func (k *Keyring) Wrap(dek, aad []byte) ([]byte, error) {
	if len(dek) != KeySize {
		return nil, fmt.Errorf("envelope: data key is %d bytes, want %d", len(dek), KeySize)
	}
	return seal(k.keys[0].aead, FormatWrappedKey, k.active, dek, aad), nil
}

// Unwrap decrypts a data key made by Wrap with the same aad, using whichever
// master key its header names. It returns ErrFormat if wrapped is not a
// wrapped key, ErrUnknownKey if its master key is not in the keyring, and
// ErrIntegrity if it was modified or wrapped with other associated data.
func (k *Keyring) Unwrap(wrapped, aad []byte) ([]byte, error) {
	id, err := WrappedKeyID(wrapped)
	if err != nil {
		return nil, err
	}
	key := k.find(id)
	if key == nil {
		return nil, ErrUnknownKey
	}
	return open(key.aead, wrapped, aad)
}

// WrappedKeyID returns the master key id in the header of a data key made by
// Keyring.Wrap. It returns ErrFormat if wrapped is not a wrapped key.
func WrappedKeyID(wrapped []byte) (uint32, error) {
	if len(wrapped) != WrappedKeySize || wrapped[0] != FormatWrappedKey {
		return 0, ErrFormat
	}
	return binary.BigEndian.Uint32(wrapped[1:headerSize]), nil
}

// MAC returns the HMAC-SHA256 of msg keyed by a key derived from the active
// master key with HKDF-SHA256 (no salt, info "coffer/" + purpose). Different
// purposes get independent keys. The audit log uses it to authenticate its
// head.
func (k *Keyring) MAC(purpose string, msg []byte) []byte {
	return k.keys[0].mac(purpose, msg)
}

// VerifyMAC reports whether mac is the MAC of msg for purpose under any
// master key in the keyring, so MACs made before a rotation still verify.
// Each comparison takes constant time, and every key is tried.
func (k *Keyring) VerifyMAC(purpose string, msg, mac []byte) bool {
	ok := 0
	for i := range k.keys {
		ok |= subtle.ConstantTimeCompare(k.keys[i].mac(purpose, msg), mac)
	}
	return ok == 1
}

func (key *kek) mac(purpose string, msg []byte) []byte {
	macKey, err := hkdf.Key(sha256.New, key.master, nil, "coffer/"+purpose, sha256.Size)
	if err != nil {
		// HKDF-SHA256 fails only for outputs over 255*32 bytes.
		panic("envelope: hkdf: " + err.Error())
	}
	defer Zero(macKey)
	h := hmac.New(sha256.New, macKey)
	h.Write(msg)
	return h.Sum(nil)
}

// String describes k by its key ids only.
func (k *Keyring) String() string {
	s := fmt.Sprintf("envelope.Keyring{active: %08x", k.active)
	if len(k.keys) > 1 {
		s += ", old:"
		for _, key := range k.keys[1:] {
			s += fmt.Sprintf(" %08x", key.id)
		}
	}
	return s + "}"
}

// Format prints k as String does for every verb, so that no verb (%x, %d,
// %#v) can print the keys.
func (k *Keyring) Format(f fmt.State, verb rune) { fmt.Fprint(f, k.String()) }

// LogValue logs k as String does.
func (k *Keyring) LogValue() slog.Value { return slog.StringValue(k.String()) }

// IDs returns the ids of the keyring's master keys, the active one first.
func (k *Keyring) IDs() []uint32 {
	ids := make([]uint32, len(k.keys))
	for i, key := range k.keys {
		ids[i] = key.id
	}
	return ids
}
