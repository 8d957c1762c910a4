package servertest

import (
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/sr25519"
)

// The hotkey of internal/sr25519/testdata/chutes-sr25519-vectors.json (made
// with @polkadot/util-crypto), and its seed.
const (
	VectorHotkey = "5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu"
	VectorSeed   = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
)

// ChutesSigner signs Chutes requests with the vectors' hotkey as Chutes'
// client does: X-Chutes-Hotkey, X-Chutes-Nonce (unix seconds) and
// X-Chutes-Signature, the hex sr25519 signature of
// "{hotkey}:{nonce}:{purpose or sha256 hex of the body}".
type ChutesSigner struct {
	t    testing.TB
	priv *sr25519.PrivateKey
}

// NewChutesSigner returns a signer holding the vectors' key.
func NewChutesSigner(t testing.TB) *ChutesSigner {
	t.Helper()
	seed, _ := hex.DecodeString(VectorSeed)
	priv, err := sr25519.NewPrivateKeyFromSeed([32]byte(seed))
	if err != nil {
		t.Fatal(err)
	}
	return &ChutesSigner{t: t, priv: priv}
}

// Headers signs what for a request at time at, and returns the headers
// as names and values, in pairs.
func (s *ChutesSigner) Headers(at time.Time, what string) []string {
	s.t.Helper()
	nonce := strconv.FormatInt(at.Unix(), 10)
	sig, err := s.priv.Sign([]byte(VectorHotkey + ":" + nonce + ":" + what))
	if err != nil {
		s.t.Fatal(err)
	}
	return []string{"X-Chutes-Hotkey", VectorHotkey, "X-Chutes-Nonce", nonce, "X-Chutes-Signature", hex.EncodeToString(sig[:])}
}
