package sr25519_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/sr25519"
)

// FuzzParseAddress checks that the SS58 parser never panics and that
// whatever it accepts is the one canonical address of its key and prefix.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnu",
		"5HBWHtpMAiZiKPE8BJxXrFXevCXHiwQr4zQK7SUB6GZsbRDj",
		"167oSE5R2VqBkvEe8x1XzQMompWwRExz9V8oGjTXeMbPmdQD",
		"Hh7xDADo5ae533Zx1makCtf4noXXcE2XNF4W6k8a4nNLSQ2",
		"5DcjVUSFQsUSFDCMFNSFYRwBYgya7BEcoA47F5pkphi8NXnv",
		"", "1", "11111111111111111111111111111111111111111111111",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, prefix, err := sr25519.ParseAddress(s)
		if err != nil {
			if k != nil {
				t.Fatal("ParseAddress returned a key with an error")
			}
			return
		}
		if prefix > 63 {
			t.Fatalf("prefix %d accepted", prefix)
		}
		if got := k.Address(prefix); got != s {
			t.Fatalf("ParseAddress(%q) accepted a non-canonical address; canonical %q", s, got)
		}
		k2, p2, err := sr25519.ParseAddress(k.Address(42))
		if err != nil || p2 != 42 || k2.Bytes() != k.Bytes() {
			t.Fatalf("the prefix-42 address of an accepted key does not parse back: %v", err)
		}
	})
}

// FuzzParseSignatureHex checks that the signature parser accepts exactly
// 128 hex digits and decodes them as encoding/hex does.
func FuzzParseSignatureHex(f *testing.F) {
	f.Add(strings.Repeat("ab", 64))
	f.Add(strings.Repeat("AB", 64))
	f.Add("0x" + strings.Repeat("ab", 63))
	f.Add(strings.Repeat("ab", 63) + "g0")
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := sr25519.ParseSignatureHex(s)
		want, herr := hex.DecodeString(s)
		ok := herr == nil && len(want) == sr25519.SignatureSize
		if (err == nil) != ok {
			t.Fatalf("ParseSignatureHex(%q): got err %v, want ok %v", s, err, ok)
		}
		if ok && string(sig[:]) != string(want) {
			t.Fatalf("ParseSignatureHex(%q): got %x, want %x", s, sig, want)
		}
	})
}

// FuzzBase58 checks that decoding inverts encoding.
func FuzzBase58(f *testing.F) {
	f.Add([]byte{0, 0, 1, 2, 255})
	f.Add([]byte("hello"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 256 {
			return
		}
		s := sr25519.EncodeBase58ForTest(b)
		got, ok := sr25519.DecodeBase58ForTest(s)
		if len(b) == 0 {
			if ok || s != "" {
				t.Fatalf("empty input: encoded %q, decode ok %v", s, ok)
			}
			return
		}
		if !ok || string(got) != string(b) {
			t.Fatalf("round trip of %x: got %x, %v", b, got, ok)
		}
	})
}
