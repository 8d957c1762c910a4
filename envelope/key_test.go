package envelope_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/envelope"
)

func TestParseKey(t *testing.T) {
	key := make([]byte, envelope.KeySize)
	for i := range key {
		key[i] = byte(0xf0 + i) // base64 of it uses '+', '/' and '-', '_'
	}
	hexKey := hex.EncodeToString(key)
	for _, tt := range []struct {
		name  string
		input string
		want  []byte // nil: an error is wanted
	}{
		{"Hex", hexKey, key},
		{"HexUpper", strings.ToUpper(hexKey), key},
		{"HexNewline", hexKey + "\n", key},
		{"HexWhitespace", " \t" + hexKey + "\r\n", key},
		{"Base64Std", base64.StdEncoding.EncodeToString(key), key},
		{"Base64URL", base64.URLEncoding.EncodeToString(key), key},
		{"Base64RawStd", base64.RawStdEncoding.EncodeToString(key), key},
		{"Base64RawURL", base64.RawURLEncoding.EncodeToString(key), key},
		{"Base64Newline", base64.StdEncoding.EncodeToString(key) + "\n", key},

		{"Empty", "", nil},
		{"Whitespace", " \n", nil},
		{"HexShort", hexKey[:62], nil},
		{"HexLong", hexKey + "00", nil},
		{"HexOdd", hexKey[:63], nil},
		{"HexBadDigit", hexKey[:63] + "g", nil},
		{"HexInnerSpace", hexKey[:32] + " " + hexKey[32:], nil},
		{"Base64Short", base64.StdEncoding.EncodeToString(key[:31]), nil},
		{"Base64Long", base64.StdEncoding.EncodeToString(append(key, 1)), nil},
		{"Base64NonCanonical", base64.RawStdEncoding.EncodeToString(key)[:42] + "B", nil},
		{"Base64BadChar", "*" + base64.StdEncoding.EncodeToString(key)[1:], nil},
		{"Garbage", "correct horse battery staple correct horse battery", nil},
		{"Passphrase", "my-master-key-do-not-share-it!!!", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := envelope.ParseKey(tt.input)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("ParseKey = %x, want error", got)
				}
				if in := strings.TrimSpace(tt.input); in != "" && strings.Contains(err.Error(), in) {
					t.Errorf("error %q contains the input", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("ParseKey = %x, want %x", got, tt.want)
			}
		})
	}
}

func TestEncodeKey(t *testing.T) {
	key := envelope.GenerateKey()
	s := envelope.EncodeKey(key)
	if got, want := len(s), 64; got != want {
		t.Errorf("len(EncodeKey) = %d, want %d", got, want)
	}
	if s != strings.ToLower(s) {
		t.Errorf("EncodeKey = %q, want lowercase", s)
	}
	got, err := envelope.ParseKey(s + "\n")
	if err != nil || !bytes.Equal(got, key) {
		t.Errorf("ParseKey(EncodeKey(k)) = %x, %v; want k", got, err)
	}
}

func TestGenerateKey(t *testing.T) {
	a, b := envelope.GenerateKey(), envelope.GenerateKey()
	if got, want := len(a), envelope.KeySize; got != want {
		t.Errorf("len(GenerateKey) = %d, want %d", got, want)
	}
	if bytes.Equal(a, b) {
		t.Errorf("GenerateKey returned the same key twice")
	}
}

func TestZero(t *testing.T) {
	b := []byte("secret")
	envelope.Zero(b)
	if want := make([]byte, 6); !bytes.Equal(b, want) {
		t.Errorf("Zero left %x, want %x", b, want)
	}
	envelope.Zero(nil) // must not panic
}

func FuzzParseKey(f *testing.F) {
	key := envelope.GenerateKey()
	f.Add(envelope.EncodeKey(key))
	f.Add(base64.StdEncoding.EncodeToString(key))
	f.Add(base64.RawURLEncoding.EncodeToString(key) + "\n")
	f.Add("")
	f.Add("not a key")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := envelope.ParseKey(s)
		if err != nil {
			if got != nil {
				t.Errorf("ParseKey = %x, %v; want nil key with an error", got, err)
			}
			if in := strings.TrimSpace(s); len(in) >= 8 && strings.Contains(err.Error(), in) {
				t.Errorf("error %q contains the input", err)
			}
			return
		}
		if len(got) != envelope.KeySize {
			t.Fatalf("ParseKey returned %d bytes, want %d", len(got), envelope.KeySize)
		}
		again, err := envelope.ParseKey(envelope.EncodeKey(got))
		if err != nil || !bytes.Equal(again, got) {
			t.Errorf("ParseKey(EncodeKey(k)) = %x, %v; want %x", again, err, got)
		}
	})
}
