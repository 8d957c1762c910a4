package envelope

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"hash"
)

// NewMAC returns a streaming HMAC-SHA256 keyed like Keyring.MAC: by a key
// derived from the master key with HKDF-SHA256 (no salt, info "coffer/" +
// purpose). Its Sum over msg equals Keyring.MAC(purpose, msg) of a keyring
// whose active key is master. For data too large to hold in memory, such as
// a backup file.
func NewMAC(master []byte, purpose string) hash.Hash {
	macKey, err := hkdf.Key(sha256.New, master, nil, "coffer/"+purpose, sha256.Size)
	if err != nil {
		// HKDF-SHA256 fails only for outputs over 255*32 bytes.
		panic("envelope: hkdf: " + err.Error())
	}
	defer Zero(macKey) // hmac.New keeps its own copy
	return hmac.New(sha256.New, macKey)
}
