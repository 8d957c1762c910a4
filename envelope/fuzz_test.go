package envelope_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/coffer-dev/coffer/envelope"
)

// FuzzOpen feeds arbitrary bytes to Cipher.Open and Keyring.Unwrap. Neither
// may panic; every failure must be one of the three sentinel errors; and
// since the fuzzer cannot forge a tag, anything that opens must be the
// value or key sealed for the seed corpus.
func FuzzOpen(f *testing.F) {
	const dataKeyID = 7
	c := MustCipher(f, dataKeyID, testKey(1))
	k := MustKeyring(f, testKey(2), testKey(3))
	value, dek := []byte("fuzz value"), testKey(9)

	f.Add([]byte(nil))
	f.Add([]byte{envelope.FormatValue})
	f.Add([]byte{envelope.FormatWrappedKey, 0, 0, 0, 0})
	f.Add(c.Seal(value, valueAAD))
	f.Add(c.Seal(nil, valueAAD))
	f.Add(MustWrap(f, k, dek, keyAAD))
	f.Add(MustWrap(f, MustKeyring(f, testKey(3)), dek, keyAAD))
	f.Add(append(c.Seal(value, valueAAD), 0))

	f.Fuzz(func(t *testing.T, data []byte) {
		input := bytes.Clone(data)

		got, err := c.Open(data, valueAAD)
		switch {
		case err == nil:
			if !bytes.Equal(got, value) && len(got) != 0 {
				t.Errorf("Open = %q, a plaintext that was never sealed", got)
			}
		case !isSentinel(err):
			t.Errorf("Open error = %v, want a sentinel", err)
		case got != nil:
			t.Errorf("Open = %q, %v; want nil plaintext with an error", got, err)
		}
		if id, err := envelope.CiphertextKeyID(data); err == nil && id != dataKeyID {
			if _, err := c.Open(data, valueAAD); !errors.Is(err, envelope.ErrUnknownKey) {
				t.Errorf("Open(id %d) = %v, want ErrUnknownKey", id, err)
			}
		}

		got, err = k.Unwrap(data, keyAAD)
		switch {
		case err == nil:
			if !bytes.Equal(got, dek) {
				t.Errorf("Unwrap returned a key that was never wrapped")
			}
		case !isSentinel(err):
			t.Errorf("Unwrap error = %v, want a sentinel", err)
		case got != nil:
			t.Errorf("Unwrap returned a key with error %v", err)
		}
		_, _ = envelope.WrappedKeyID(data)

		if !bytes.Equal(data, input) {
			t.Errorf("Open or Unwrap modified its input")
		}
	})
}

func isSentinel(err error) bool {
	return errors.Is(err, envelope.ErrFormat) ||
		errors.Is(err, envelope.ErrUnknownKey) ||
		errors.Is(err, envelope.ErrIntegrity)
}
