package sr25519

import (
	"encoding/binary"
	"sync"

	"github.com/mimoo/StrobeGo/strobe"
)

// transcript is a Merlin transcript (merlin.cool), as github.com/gtank/merlin
// builds it on STROBE-128, with one difference that matters on the hot
// path: its state can be copied. Every verification starts from the same
// state, after the signing context, so it starts from a copy of that state
// instead of building it again.
type transcript struct {
	s *strobe.Strobe
}

// newTranscript is merlin.NewTranscript(appLabel).
func newTranscript(appLabel string) transcript {
	s := strobe.InitStrobe("Merlin v1.0", 128)
	t := transcript{&s}
	t.append("dom-sep", []byte(appLabel))
	return t
}

// append is (*merlin.Transcript).AppendMessage: meta-AD of the label and the
// message's length (little-endian, 32 bits) in one operation, then AD of the
// message.
func (t transcript) append(label string, msg []byte) {
	t.s.AD(true, binary.LittleEndian.AppendUint32([]byte(label), uint32(len(msg))))
	t.s.AD(false, msg)
}

// extract is (*merlin.Transcript).ExtractBytes.
func (t transcript) extract(label string, n int) []byte {
	t.s.AD(true, binary.LittleEndian.AppendUint32([]byte(label), uint32(n)))
	return t.s.PRF(n)
}

// signingPrefix is schnorrkel's NewSigningContext(signingContext, ...)
// transcript before the message: what every verification shares.
var signingPrefix = sync.OnceValue(func() *strobe.Strobe {
	t := newTranscript("SigningContext")
	t.append("", signingContext)
	return t.s
})

// signingTranscript returns a transcript at signingPrefix, its own copy.
func signingTranscript() transcript {
	return transcript{signingPrefix().Clone()}
}
