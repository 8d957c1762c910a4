package sr25519

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/gtank/merlin"
)

// TestTranscriptMatchesMerlin checks transcript against gtank/merlin, which
// go-schnorrkel signs with, over messages across STROBE's 166-byte blocks,
// and that copies of signingPrefix do not share state.
func TestTranscriptMatchesMerlin(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 31, 32, 163, 164, 165, 166, 167, 300, 1000} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		want := merlin.NewTranscript("SigningContext")
		want.AppendMessage([]byte(""), signingContext)
		want.AppendMessage([]byte("sign-bytes"), msg)
		want.AppendMessage([]byte("sign:R"), msg[:min(n, 32)])
		got := signingTranscript()
		got.append("sign-bytes", msg)
		got.append("sign:R", msg[:min(n, 32)])
		if g, w := got.extract("sign:c", 64), want.ExtractBytes([]byte("sign:c"), 64); !bytes.Equal(g, w) {
			t.Fatalf("message of %d bytes: got %x, want %x", n, g, w)
		}
	}
	a, b := signingTranscript(), signingTranscript()
	a.append("x", []byte("one"))
	b.append("x", []byte("two"))
	if bytes.Equal(a.extract("c", 32), b.extract("c", 32)) {
		t.Fatal("two transcripts from signingPrefix share their state")
	}
}
