package coffer

// This file holds what a face registers with the service so that the core
// speaks no provider's words (STYLE.md habit 16): the shapes of its API key
// tokens, the signature scheme of its signed requests, and the reasons the
// service gives when it refuses a signed request, which each face words in
// its own way.

// KeyFormat is a shape of API key token other than coffer's own (cfr_...),
// registered with the service by the face whose provider uses it. Keys of
// every registered format authenticate on every face. Implementations are
// safe for concurrent use.
type KeyFormat interface {
	// Name is the format's name in APIKeyCreate.Format. It is not empty.
	Name() string
	// ParseToken splits a token of this format into its key id and the
	// secret bytes that the service hashes, or returns ok false for a token
	// that is not one of this format. Key ids are lowercase hex digits and
	// of another length than coffer's own (16): every format's keys share
	// one id space.
	ParseToken(token string) (id string, secret []byte, ok bool)
	// NewToken makes a new key of the principal principalID from fresh
	// random bits: its id, its token, and the secret bytes that ParseToken
	// returns for that token.
	NewToken(principalID string) (id, token string, secret []byte)
}

// SignatureScheme reads the public keys and signatures of hotkey-signed
// requests (HotkeyAuthenticator, HotkeyService), registered with the
// service by the face whose provider signs requests so. Implementations are
// safe for concurrent use.
type SignatureScheme interface {
	// ParseKey parses a public key as a request or the hotkey API spells
	// it, and returns its canonical spelling (the one it is registered
	// under: every spelling of one key gives the same) and the key. The
	// error's text is public: it says what is wrong, without quoting the
	// spelling.
	ParseKey(spelled string) (canonical string, key VerifyKey, err error)
	// ParseSignature parses a signature as a request carries it. Two
	// spellings of the same signature give the same bytes.
	ParseSignature(s string) ([]byte, error)
}

// VerifyKey is a public key of a SignatureScheme. It is safe for
// concurrent use.
type VerifyKey interface {
	// Verify reports whether sig (from ParseSignature) is the key's
	// signature over msg.
	Verify(msg, sig []byte) bool
}

// HotkeyReason says why a hotkey-signed request was refused. Its value is
// what the audit log records as the failure's reason.
type HotkeyReason string

// Reasons of HotkeyRefusal, in the order AuthenticateHotkey checks them.
const (
	HotkeyBadNonce           HotkeyReason = "bad nonce"           // not unix seconds within the window around now
	HotkeyMalformedKey       HotkeyReason = "malformed hotkey"    // not a public key of the scheme
	HotkeyUnknown            HotkeyReason = "unknown hotkey"      // not registered
	HotkeyMalformedSignature HotkeyReason = "malformed signature" // not a signature of the scheme
	HotkeyBadSignature       HotkeyReason = "bad signature"       // not the key's signature of the message
	HotkeyReplayed           HotkeyReason = "replayed signature"  // nonce and signature used already
)

// HotkeyRefusal is the error of a refused hotkey-signed request: an
// EUNAUTHORIZED *Error with a neutral message, which it unwraps to, and the
// reason, from which a face writes its provider's own message.
type HotkeyRefusal struct {
	Reason HotkeyReason
	Err    *Error
}

// Error implements the error interface.
func (e *HotkeyRefusal) Error() string { return e.Err.Error() }

// Unwrap returns the *Error, so that ErrorCode and ErrorMessage see it.
func (e *HotkeyRefusal) Unwrap() error { return e.Err }
