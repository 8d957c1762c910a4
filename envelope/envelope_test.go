package envelope_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/envelope"
)

// testKey returns a fixed key filled with b, so that tests are repeatable.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, envelope.KeySize) }

// MustCipher returns a Cipher for key under id, or fails the test.
func MustCipher(tb testing.TB, id uint32, key []byte) *envelope.Cipher {
	tb.Helper()
	c, err := envelope.NewCipher(id, key)
	if err != nil {
		tb.Fatalf("NewCipher: %v", err)
	}
	return c
}

// flips are the byte masks the tamper tests apply, one at a time, to every
// byte position.
var flips = []byte{0x01, 0x80, 0xff}

var valueAAD = envelope.AAD("value", "acct_1", "store_1", "secret_1", "3")

func TestCipher_RoundTrip(t *testing.T) {
	c := MustCipher(t, 7, testKey(1))
	big := make([]byte, 64<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	for _, tt := range []struct {
		name      string
		plaintext []byte
		aad       []byte
	}{
		{"Empty", []byte{}, valueAAD},
		{"Nil", nil, valueAAD},
		{"OneByte", []byte{0x42}, valueAAD},
		{"64KiB", big, valueAAD},
		{"NoAAD", []byte("hunter2"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sealed := c.Seal(tt.plaintext, tt.aad)
			if got, want := len(sealed), len(tt.plaintext)+envelope.Overhead; got != want {
				t.Errorf("len(sealed) = %d, want %d", got, want)
			}
			if got, want := sealed[0], envelope.FormatValue; got != want {
				t.Errorf("format byte = %#x, want %#x", got, want)
			}
			if id, err := envelope.CiphertextKeyID(sealed); err != nil || id != 7 {
				t.Errorf("CiphertextKeyID = %d, %v; want 7, nil", id, err)
			}
			got, err := c.Open(sealed, tt.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %x..., want %x...", head(got), head(tt.plaintext))
			}
		})
	}
}

// head returns at most the first 16 bytes of b, for failure messages.
func head(b []byte) []byte { return b[:min(len(b), 16)] }

func TestCipher_SealDoesNotAliasAppend(t *testing.T) {
	// Appending to a sealed value must not write into memory that Seal
	// used as scratch space, nor must Seal have changed its inputs.
	c := MustCipher(t, 1, testKey(1))
	aad := envelope.AAD("a")
	aadCopy := bytes.Clone(aad)
	pt := []byte("secret")
	sealed := c.Seal(pt, aad)
	if got, want := cap(sealed), len(sealed); got != want {
		t.Errorf("cap(sealed) = %d, want %d", got, want)
	}
	opened, err := c.Open(sealed, aad)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got, want := cap(opened), len(opened); got != want {
		t.Errorf("cap(opened) = %d, want %d", got, want)
	}
	if !bytes.Equal(aad, aadCopy) || string(pt) != "secret" {
		t.Errorf("Seal modified its inputs")
	}
}

func TestCipher_NonceUnique(t *testing.T) {
	c := MustCipher(t, 1, testKey(1))
	seen := make(map[string]bool)
	for range 1000 {
		sealed := c.Seal([]byte("same"), valueAAD)
		nonce := string(sealed[5:17])
		if seen[nonce] {
			t.Fatalf("nonce %x repeated", nonce)
		}
		seen[nonce] = true
	}
	a, b := c.Seal([]byte("same"), valueAAD), c.Seal([]byte("same"), valueAAD)
	if bytes.Equal(a, b) {
		t.Errorf("two seals of the same plaintext are equal: %x", a)
	}
}

func TestCipher_Tamper(t *testing.T) {
	c := MustCipher(t, 0x01020304, testKey(1))
	sealed := c.Seal([]byte("correct horse battery staple"), valueAAD)
	for i := range sealed {
		for _, mask := range flips {
			bad := bytes.Clone(sealed)
			bad[i] ^= mask
			got, err := c.Open(bad, valueAAD)
			if want := tamperErr(i); !errors.Is(err, want) {
				t.Errorf("byte %d ^ %#x: Open = %q, %v; want %v", i, mask, got, err, want)
			}
			if got != nil {
				t.Errorf("byte %d ^ %#x: Open returned plaintext %q", i, mask, got)
			}
		}
	}
	t.Run("Truncated", func(t *testing.T) {
		for n := range len(sealed) {
			_, err := c.Open(sealed[:n], valueAAD)
			if !errors.Is(err, envelope.ErrFormat) && !errors.Is(err, envelope.ErrIntegrity) {
				t.Errorf("Open(sealed[:%d]) = %v, want ErrFormat or ErrIntegrity", n, err)
			}
		}
	})
	t.Run("Extended", func(t *testing.T) {
		_, err := c.Open(append(bytes.Clone(sealed), 0), valueAAD)
		if !errors.Is(err, envelope.ErrIntegrity) {
			t.Errorf("Open(sealed+0) = %v, want ErrIntegrity", err)
		}
	})
}

// tamperErr returns the error expected when byte i of a ciphertext changes:
// the format byte, then the key id, then the authenticated rest.
func tamperErr(i int) error {
	switch {
	case i == 0:
		return envelope.ErrFormat
	case i < 5:
		return envelope.ErrUnknownKey
	default:
		return envelope.ErrIntegrity
	}
}

func TestCipher_WrongAAD(t *testing.T) {
	c := MustCipher(t, 1, testKey(1))
	parts := []string{"value", "acct_1", "store_1", "secret_1", "3"}
	sealed := c.Seal([]byte("v"), envelope.AAD(parts...))

	tests := map[string][]byte{
		"Nil":        nil,
		"NoParts":    envelope.AAD(),
		"FewerParts": envelope.AAD(parts[:4]...),
		"ExtraPart":  envelope.AAD(append(parts[:5:5], "")...),
		"Raw":        []byte("valueacct_1store_1secret_13"),
		"Shifted":    envelope.AAD("value", "acct_1s", "tore_1", "secret_1", "3"),
		"Swapped":    envelope.AAD("value", "store_1", "acct_1", "secret_1", "3"),
	}
	for i := range parts {
		changed := append([]string(nil), parts...)
		changed[i] += "x"
		tests[fmt.Sprintf("Part%dChanged", i)] = envelope.AAD(changed...)
	}
	for name, aad := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := c.Open(sealed, aad)
			if !errors.Is(err, envelope.ErrIntegrity) {
				t.Errorf("Open = %q, %v; want ErrIntegrity", got, err)
			}
		})
	}
}

func TestAAD(t *testing.T) {
	if got, want := envelope.AAD("ab", "c"), envelope.AAD("a", "bc"); bytes.Equal(got, want) {
		t.Errorf("AAD(ab, c) = AAD(a, bc) = %q", got)
	}
	if got, want := envelope.AAD("a", ""), envelope.AAD("a"); bytes.Equal(got, want) {
		t.Errorf("AAD(a, \"\") = AAD(a) = %q", got)
	}
	got := envelope.AAD("value", "s1")
	want := []byte("coffer/aad/v1\x00\x00\x00\x05value\x00\x00\x00\x02s1")
	if !bytes.Equal(got, want) {
		t.Errorf("AAD(value, s1) = %q, want %q", got, want)
	}
}

func TestCipher_WrongKey(t *testing.T) {
	c := MustCipher(t, 1, testKey(1))
	sealed := c.Seal([]byte("v"), valueAAD)

	t.Run("ErrUnknownKey", func(t *testing.T) {
		other := MustCipher(t, 2, testKey(1))
		if _, err := other.Open(sealed, valueAAD); !errors.Is(err, envelope.ErrUnknownKey) {
			t.Errorf("Open = %v, want ErrUnknownKey", err)
		}
	})
	t.Run("ErrIntegrity", func(t *testing.T) {
		// Another key labelled with the same id.
		other := MustCipher(t, 1, testKey(2))
		if _, err := other.Open(sealed, valueAAD); !errors.Is(err, envelope.ErrIntegrity) {
			t.Errorf("Open = %v, want ErrIntegrity", err)
		}
	})
	t.Run("ErrFormat", func(t *testing.T) {
		// A wrapped key is not a sealed value, even with the right key.
		k, err := envelope.NewKeyring(testKey(1))
		if err != nil {
			t.Fatal(err)
		}
		wrapped, err := k.Wrap(testKey(9), valueAAD)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Open(wrapped, valueAAD); !errors.Is(err, envelope.ErrFormat) {
			t.Errorf("Open(wrapped key) = %v, want ErrFormat", err)
		}
	})
}

func TestNewCipher_BadKey(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		key := bytes.Repeat([]byte{0xab}, n)
		c, err := envelope.NewCipher(1, key)
		if err == nil {
			t.Errorf("NewCipher(%d-byte key) = %v, want error", n, c)
			continue
		}
		if n > 0 && bytes.Contains([]byte(err.Error()), []byte("ab")) {
			t.Errorf("NewCipher error %q may contain the key", err)
		}
	}
}

func TestCiphertextKeyID(t *testing.T) {
	for _, tt := range []struct {
		name  string
		input []byte
		want  uint32
		err   error
	}{
		{"OK", append([]byte{1, 0xde, 0xad, 0xbe, 0xef}, make([]byte, 28)...), 0xdeadbeef, nil},
		{"Nil", nil, 0, envelope.ErrFormat},
		{"TooShort", append([]byte{1, 0xde, 0xad, 0xbe, 0xef}, make([]byte, 27)...), 0, envelope.ErrFormat},
		{"WrongFormat", append([]byte{2, 0xde, 0xad, 0xbe, 0xef}, make([]byte, 28)...), 0, envelope.ErrFormat},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := envelope.CiphertextKeyID(tt.input)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("CiphertextKeyID = %#x, %v; want %#x, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestCipher_Concurrent(t *testing.T) {
	c := MustCipher(t, 1, testKey(1))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			pt := []byte(fmt.Sprintf("value %d", g))
			for range 100 {
				got, err := c.Open(c.Seal(pt, valueAAD), valueAAD)
				if err != nil || !bytes.Equal(got, pt) {
					t.Errorf("Open(Seal(%q)) = %q, %v", pt, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestCipher_Allocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	c := MustCipher(t, 1, testKey(1))
	pt := make([]byte, 64)
	sealed := c.Seal(pt, valueAAD)
	if got := testing.AllocsPerRun(100, func() { c.Seal(pt, valueAAD) }); got != 1 {
		t.Errorf("Seal allocations = %v, want 1", got)
	}
	if got := testing.AllocsPerRun(100, func() { c.Open(sealed, valueAAD) }); got != 1 {
		t.Errorf("Open allocations = %v, want 1", got)
	}
}

func TestCipher_String(t *testing.T) {
	c := MustCipher(t, 3, testKey(0xab))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d"} {
		if got, want := fmt.Sprintf(verb, c), "envelope.Cipher{id: 3}"; got != want {
			t.Errorf("Sprintf(%q) = %q, want %q", verb, got, want)
		}
	}
}

func BenchmarkSeal64(b *testing.B) {
	c := MustCipher(b, 1, testKey(1))
	pt := make([]byte, 64)
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		c.Seal(pt, valueAAD)
	}
}

func BenchmarkOpen64(b *testing.B) {
	c := MustCipher(b, 1, testKey(1))
	sealed := c.Seal(make([]byte, 64), valueAAD)
	b.SetBytes(64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Open(sealed, valueAAD); err != nil {
			b.Fatal(err)
		}
	}
}
