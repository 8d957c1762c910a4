package sr25519

import "github.com/ChainSafe/go-schnorrkel"

// Hooks for the external tests.
var (
	EncodeBase58ForTest = encodeBase58
	DecodeBase58ForTest = decodeBase58
	ChecksumForTest     = checksum
)

// OracleVerify is what Verify was before it did its own arithmetic:
// go-schnorrkel's verification, on gtank/ristretto255. The tests hold
// Verify to it.
func OracleVerify(k *PublicKey, msg []byte, sig Signature) bool {
	pk, err := schnorrkel.NewPublicKey(k.raw)
	if err != nil {
		panic("a PublicKey that go-schnorrkel does not take: " + err.Error())
	}
	return OracleVerifyKey(pk, msg, sig)
}

// OracleVerifyKey is OracleVerify for a schnorrkel public key, which need
// not be one that NewPublicKey takes.
func OracleVerifyKey(pk *schnorrkel.PublicKey, msg []byte, sig Signature) bool {
	var s schnorrkel.Signature
	if err := s.Decode(sig); err != nil { // not marked as schnorrkel, or not canonical
		return false
	}
	if ok, err := pk.Verify(&s, schnorrkel.NewSigningContext(signingContext, msg)); err == nil && ok {
		return true
	}
	wrapped := make([]byte, 0, len("<Bytes></Bytes>")+len(msg))
	wrapped = append(append(append(wrapped, "<Bytes>"...), msg...), "</Bytes>"...)
	ok, err := pk.Verify(&s, schnorrkel.NewSigningContext(signingContext, wrapped))
	return err == nil && ok
}

// ForgetTablesForTest empties the cache of keys' tables.
func ForgetTablesForTest() {
	tableCache.Lock()
	tableCache.m = nil
	tableCache.Unlock()
}
