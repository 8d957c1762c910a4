package sr25519_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/internal/sr25519"
)

// vectorFile is the shape of both vector files: testdata/chutes-sr25519-vectors.json
// (the project's reference vectors) and testdata/polkadot-vectors.json
// (made by testdata/gen/gen.mjs). Both come from @polkadot/util-crypto.
type vectorFile struct {
	SeedHex      string `json:"seedHex"`
	PublicKeyHex string `json:"publicKeyHex"`
	SS58Format   int    `json:"ss58Format"`
	Hotkey       string `json:"hotkey"`
	Nonce        int64  `json:"nonce"`
	Addresses    []struct {
		Prefix uint8  `json:"prefix"`
		SS58   string `json:"ss58"`
	} `json:"addresses"`
	OtherPublicKeyHex string `json:"otherPublicKeyHex"`
	OtherHotkey       string `json:"otherHotkey"`
	OtherSignatureHex string `json:"otherSignatureHex"`
	Vectors           []struct {
		Purpose             string `json:"purpose"`
		Body                string `json:"body"`
		BodySha256          string `json:"bodySha256"`
		Message             string `json:"message"`
		SignatureHex        string `json:"signatureHex"`
		WrappedMessage      string `json:"wrappedMessage"`
		WrappedSignatureHex string `json:"wrappedSignatureHex"`
	} `json:"vectors"`
}

var vectorFiles = []string{"testdata/chutes-sr25519-vectors.json", "testdata/polkadot-vectors.json"}

func loadVectors(t *testing.T, path string) *vectorFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(b, &vf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(vf.Vectors) < 4 {
		t.Fatalf("%s: got %d vectors, want at least 4", path, len(vf.Vectors))
	}
	return &vf
}

func mustSig(t *testing.T, s string) sr25519.Signature {
	t.Helper()
	sig, err := sr25519.ParseSignatureHex(s)
	if err != nil {
		t.Fatalf("ParseSignatureHex(%.16s...): %v", s, err)
	}
	return sig
}

func mustSeed(t *testing.T, s string) [sr25519.SeedSize]byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sr25519.SeedSize {
		t.Fatalf("seed %q: %v", s, err)
	}
	return [sr25519.SeedSize]byte(b)
}

// TestVectors checks keys, addresses and signatures made by polkadot.js.
func TestVectors(t *testing.T) {
	files := make([]*vectorFile, len(vectorFiles))
	for i, path := range vectorFiles {
		files[i] = loadVectors(t, path)
	}
	for i, path := range vectorFiles {
		vf := files[i]
		other := files[(i+1)%len(files)] // a different key's vectors
		t.Run(path, func(t *testing.T) {
			k, prefix, err := sr25519.ParseAddress(vf.Hotkey)
			if err != nil {
				t.Fatalf("ParseAddress(%s): %v", vf.Hotkey, err)
			}
			if got, want := prefix, uint8(vf.SS58Format); got != want {
				t.Errorf("prefix: got %d, want %d", got, want)
			}
			if pub := k.Bytes(); hex.EncodeToString(pub[:]) != vf.PublicKeyHex {
				t.Errorf("public key: got %x, want %s", pub, vf.PublicKeyHex)
			}
			if got := k.Address(prefix); got != vf.Hotkey {
				t.Errorf("Address(%d): got %s, want %s", prefix, got, vf.Hotkey)
			}
			for _, a := range vf.Addresses {
				k2, p2, err := sr25519.ParseAddress(a.SS58)
				if err != nil || p2 != a.Prefix || k2.Bytes() != k.Bytes() {
					t.Errorf("ParseAddress(%s): got prefix %d, err %v, want prefix %d and the same key", a.SS58, p2, err, a.Prefix)
				}
				if got := k.Address(a.Prefix); got != a.SS58 {
					t.Errorf("Address(%d): got %s, want %s", a.Prefix, got, a.SS58)
				}
			}

			// Our derivation from the seed gives polkadot's public key.
			priv, err := sr25519.NewPrivateKeyFromSeed(mustSeed(t, vf.SeedHex))
			if err != nil {
				t.Fatal(err)
			}
			if priv.Public().Bytes() != k.Bytes() {
				pub := priv.Public().Bytes()
				t.Fatalf("key from seed: got %x, want %s", pub, vf.PublicKeyHex)
			}

			ok, _, err := sr25519.ParseAddress(other.Hotkey)
			if err != nil {
				t.Fatal(err)
			}
			otherKey := ok
			for j, v := range vf.Vectors {
				tail := v.Purpose
				if v.Body != "" {
					sum := sha256.Sum256([]byte(v.Body))
					if got := hex.EncodeToString(sum[:]); got != v.BodySha256 {
						t.Fatalf("vector %d: body sha256 got %s, want %s", j, got, v.BodySha256)
					}
					tail = v.BodySha256
				}
				if want := vf.Hotkey + ":" + strconv.FormatInt(vf.Nonce, 10) + ":" + tail; v.Message != want {
					t.Fatalf("vector %d: message %q, want %q", j, v.Message, want)
				}
				if want := "<Bytes>" + v.Message + "</Bytes>"; v.WrappedMessage != want {
					t.Fatalf("vector %d: wrapped message %q, want %q", j, v.WrappedMessage, want)
				}
				msg := []byte(v.Message)
				sig, wsig := mustSig(t, v.SignatureHex), mustSig(t, v.WrappedSignatureHex)
				for _, c := range []struct {
					name string
					msg  []byte
					sig  sr25519.Signature
					key  *sr25519.PublicKey
					want bool
				}{
					{"plain", msg, sig, k, true},
					{"wrapped form for the plain message", msg, wsig, k, true},
					{"wrapped message signed as is", []byte(v.WrappedMessage), wsig, k, true},
					{"upper-case hex", msg, mustSig(t, strings.ToUpper(v.SignatureHex)), k, true},
					{"tampered message", append(bytes.Clone(msg[:len(msg)-1]), msg[len(msg)-1]^1), sig, k, false},
					{"tampered wrapped", append(bytes.Clone(msg[:len(msg)-1]), msg[len(msg)-1]^1), wsig, k, false},
					{"another purpose's signature", []byte(vf.Vectors[(j+1)%len(vf.Vectors)].Message), sig, k, false},
					{"plain signature, wrapped message", []byte(v.WrappedMessage), sig, k, false},
					{"wrong key", msg, sig, otherKey, false},
					{"flipped bit in R", msg, flip(sig, 3, 0x10), k, false},
					{"flipped bit in s", msg, flip(sig, 40, 0x01), k, false},
					{"schnorrkel marker cleared", msg, flip(sig, 63, 0x80), k, false},
					{"zero signature", msg, sr25519.Signature{}, k, false},
					{"empty message", nil, sig, k, false},
				} {
					if got := c.key.Verify(c.msg, c.sig); got != c.want {
						t.Errorf("vector %d (%s) %s: Verify got %v, want %v", j, v.Purpose, c.name, got, c.want)
					}
				}
			}
			if vf.OtherSignatureHex != "" {
				if k.Verify([]byte(vf.Vectors[0].Message), mustSig(t, vf.OtherSignatureHex)) {
					t.Error("a signature by another key over the same message verifies")
				}
				if ok, _, err := sr25519.ParseAddress(vf.OtherHotkey); err != nil || hex.EncodeToString(func() []byte { b := ok.Bytes(); return b[:] }()) != vf.OtherPublicKeyHex {
					t.Errorf("other hotkey: %v", err)
				} else if !ok.Verify([]byte(vf.Vectors[0].Message), mustSig(t, vf.OtherSignatureHex)) {
					t.Error("the other key's signature does not verify with the other key")
				}
			}
		})
	}
}

func flip(s sr25519.Signature, i int, bit byte) sr25519.Signature {
	s[i] ^= bit
	return s
}

// TestSignVerify checks that our signatures verify and are randomised.
func TestSignVerify(t *testing.T) {
	vf := loadVectors(t, vectorFiles[0])
	priv, err := sr25519.NewPrivateKeyFromSeed(mustSeed(t, vf.SeedHex))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte(vf.Vectors[0].Message)
	s1, err := priv.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := priv.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if s1 == s2 {
		t.Error("two signatures of one message are equal; want randomised signatures")
	}
	pub, _, err := sr25519.ParseAddress(vf.Hotkey)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []sr25519.Signature{s1, s2} {
		if !pub.Verify(msg, s) {
			t.Errorf("signature %d does not verify", i)
		}
		if pub.Verify([]byte(vf.Vectors[1].Message), s) {
			t.Errorf("signature %d verifies another message", i)
		}
	}
}

// address encodes raw bytes as SS58 would, with a checksum over all but the
// last two bytes of data (which the checksum replaces) unless bad.
func address(data []byte, bad bool) string {
	return sr25519.EncodeBase58ForTest(withChecksum(data, bad))
}

func withChecksum(data []byte, bad bool) []byte {
	sum := sr25519.ChecksumForTest(data)
	b := append(bytes.Clone(data), sum[:2]...)
	if bad {
		b[len(b)-1] ^= 1
	}
	return b
}

func TestParseAddress(t *testing.T) {
	vf := loadVectors(t, vectorFiles[0])
	pub, _ := hex.DecodeString(vf.PublicKeyHex)
	withPrefix := func(p byte, key []byte) []byte { return append([]byte{p}, key...) }
	notAPoint := bytes.Repeat([]byte{0xff}, 32)
	tests := []struct {
		name string
		addr string
		err  error
	}{
		{"OK", vf.Hotkey, nil},
		{"OKPrefix0", address(withPrefix(0, pub), false), nil},
		{"OKPrefix63", address(withPrefix(63, pub), false), nil},
		{"ErrChecksum", address(withPrefix(42, pub), true), sr25519.ErrChecksum},
		{"ErrChecksumOneCharChanged", vf.Hotkey[:len(vf.Hotkey)-1] + nextDigit(vf.Hotkey[len(vf.Hotkey)-1]), sr25519.ErrChecksum},
		{"ErrTwoBytePrefix", address(withPrefix(64, pub), false), sr25519.ErrAddress},
		{"ErrShortKey", address(withPrefix(42, pub[:31]), false), sr25519.ErrAddress},
		{"ErrLongKey", address(withPrefix(42, append(bytes.Clone(pub), 7)), false), sr25519.ErrAddress},
		{"ErrNoChecksum", sr25519.EncodeBase58ForTest(withPrefix(42, pub)), sr25519.ErrAddress},
		{"ErrNotAPoint", address(withPrefix(42, notAPoint), false), sr25519.ErrPublicKey},
		{"ErrIdentity", address(withPrefix(42, make([]byte, 32)), false), sr25519.ErrPublicKey},
		{"ErrEmpty", "", sr25519.ErrAddress},
		{"ErrNotBase58", "0" + vf.Hotkey[1:], sr25519.ErrAddress},
		{"ErrNotBase58l", vf.Hotkey[:10] + "l" + vf.Hotkey[11:], sr25519.ErrAddress},
		{"ErrSpace", " " + vf.Hotkey, sr25519.ErrAddress},
		{"ErrLeadingOne", "1" + vf.Hotkey, sr25519.ErrAddress},
		{"ErrTooLong", strings.Repeat("z", 200), sr25519.ErrAddress},
		{"ErrHex", "0x" + vf.PublicKeyHex, sr25519.ErrAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, _, err := sr25519.ParseAddress(tt.addr)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseAddress(%q): got %v, want %v", tt.addr, err, tt.err)
			}
			if err == nil && !bytes.Equal(func() []byte { b := k.Bytes(); return b[:] }(), pub) {
				t.Fatalf("ParseAddress(%q): got another key", tt.addr)
			}
			if err != nil && strings.Contains(err.Error(), tt.addr) && tt.addr != "" {
				t.Errorf("error %q quotes its input", err)
			}
		})
	}
}

// nextDigit returns another base58 digit than c.
func nextDigit(c byte) string {
	if c == 'z' {
		return "y"
	}
	if c == 'H' || c == 'N' || c == 'Z' || c == 'k' || c == '9' {
		return string(c + 2)
	}
	return string(c + 1)
}

func TestParseSignatureHex(t *testing.T) {
	good := strings.Repeat("0123456789abcdef", 8)
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"OK", good, true},
		{"OKUpper", strings.ToUpper(good), true},
		{"ErrPrefix0x", "0x" + good, false},
		{"ErrPrefix0xShort", "0x" + good[2:], false},
		{"ErrShort", good[:126], false},
		{"ErrLong", good + "00", false},
		{"ErrOdd", good[:127], false},
		{"ErrNotHex", good[:127] + "g", false},
		{"ErrSpace", good[:64] + " " + good[65:], false},
		{"ErrEmpty", "", false},
		{"ErrUnicode", good[:126] + "é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := sr25519.ParseSignatureHex(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseSignatureHex: got err %v, want ok %v", err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, sr25519.ErrSignature) {
					t.Errorf("error: got %v, want ErrSignature", err)
				}
				return
			}
			if got := hex.EncodeToString(sig[:]); got != strings.ToLower(tt.in) {
				t.Errorf("got %s, want %s", got, strings.ToLower(tt.in))
			}
		})
	}
}

func TestBase58(t *testing.T) {
	// Vectors from Bitcoin Core's base58_encode_decode.json.
	tests := []struct{ hex, b58 string }{
		{"", ""},
		{"61", "2g"},
		{"626262", "a3gV"},
		{"636363", "aPEr"},
		{"73696d706c792061206c6f6e6720737472696e67", "2cFupjhnEsSn59qHXstmK2ffpLv2"},
		{"00eb15231dfceb60925886b67d065299925915aeb172c06647", "1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L"},
		{"516b6fcd0f", "ABnLTmg"},
		{"bf4f89001e670274dd", "3SEo3LWLoPntC"},
		{"572e4794", "3EFU7m"},
		{"ecac89cad93923c02321", "EJDM8drfXA6uyA"},
		{"10c8511e", "Rt5zm"},
		{"00000000000000000000", "1111111111"},
		{"000111d38e5fc9071ffcd20b4a763cc9ae4f252bb4e48fd66a835e252ada93ff480d6dd43dc62a641155a5", "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"},
	}
	for _, tt := range tests {
		b, _ := hex.DecodeString(tt.hex)
		if got := sr25519.EncodeBase58ForTest(b); got != tt.b58 {
			t.Errorf("encode %s: got %q, want %q", tt.hex, got, tt.b58)
		}
		if tt.b58 == "" {
			continue
		}
		got, ok := sr25519.DecodeBase58ForTest(tt.b58)
		if !ok || !bytes.Equal(got, b) {
			t.Errorf("decode %q: got %x %v, want %s", tt.b58, got, ok, tt.hex)
		}
	}
	for _, bad := range []string{"", "0", "O", "I", "l", "abc+", "ab\x00"} {
		if _, ok := sr25519.DecodeBase58ForTest(bad); ok {
			t.Errorf("decode %q: got ok, want failure", bad)
		}
	}
}

// TestVerifyConcurrent checks that one PublicKey verifies from many
// goroutines at once (run with -race).
func TestVerifyConcurrent(t *testing.T) {
	vf := loadVectors(t, vectorFiles[1])
	k, _, err := sr25519.ParseAddress(vf.Hotkey)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		v := vf.Vectors[i%len(vf.Vectors)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !k.Verify([]byte(v.Message), mustSig(t, v.SignatureHex)) {
				t.Errorf("vector %q does not verify", v.Message)
			}
		}()
	}
	wg.Wait()
}

func BenchmarkVerify(b *testing.B) {
	vf := loadVectors(&testing.T{}, vectorFiles[1])
	k, _, err := sr25519.ParseAddress(vf.Hotkey)
	if err != nil {
		b.Fatal(err)
	}
	msg, sig := []byte(vf.Vectors[0].Message), mustSig(&testing.T{}, vf.Vectors[0].SignatureHex)
	b.ReportAllocs()
	for range b.N {
		if !k.Verify(msg, sig) {
			b.Fatal("does not verify")
		}
	}
}

func BenchmarkParseAddress(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		if _, _, err := sr25519.ParseAddress("5HBWHtpMAiZiKPE8BJxXrFXevCXHiwQr4zQK7SUB6GZsbRDj"); err != nil {
			b.Fatal(err)
		}
	}
}
