package sr25519

// Hooks for the external tests.
var (
	EncodeBase58ForTest = encodeBase58
	DecodeBase58ForTest = decodeBase58
	ChecksumForTest     = checksum
)
