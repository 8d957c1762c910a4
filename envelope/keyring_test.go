package envelope_test

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/envelope"
)

// MustKeyring returns a Keyring with active and old keys, or fails the test.
func MustKeyring(tb testing.TB, active []byte, old ...[]byte) *envelope.Keyring {
	tb.Helper()
	k, err := envelope.NewKeyring(active, old...)
	if err != nil {
		tb.Fatalf("NewKeyring: %v", err)
	}
	return k
}

// MustWrap wraps dek with k, or fails the test.
func MustWrap(tb testing.TB, k *envelope.Keyring, dek, aad []byte) []byte {
	tb.Helper()
	w, err := k.Wrap(dek, aad)
	if err != nil {
		tb.Fatalf("Wrap: %v", err)
	}
	return w
}

var keyAAD = envelope.AAD("store-key", "acct_1", "store_1", "1")

func TestKeyID(t *testing.T) {
	// Golden values: SHA-256("coffer/kek-id/v1" || key)[:4]. Ids are stored
	// in every wrapped key, so they must never change.
	for _, tt := range []struct {
		key  []byte
		want uint32
	}{
		{testKey(0), 0x812bc294},
		{testKey(1), 0x01d06374},
	} {
		if got := envelope.KeyID(tt.key); got != tt.want {
			t.Errorf("KeyID(%x...) = %08x, want %08x", tt.key[:2], got, tt.want)
		}
	}
	if envelope.KeyID(testKey(2)) == envelope.KeyID(testKey(3)) {
		t.Errorf("different keys have the same id")
	}
}

func TestKeyring_RoundTrip(t *testing.T) {
	k := MustKeyring(t, testKey(1))
	dek := envelope.GenerateKey()
	wrapped := MustWrap(t, k, dek, keyAAD)
	if got, want := len(wrapped), envelope.WrappedKeySize; got != want {
		t.Errorf("len(wrapped) = %d, want %d", got, want)
	}
	if got, want := wrapped[0], envelope.FormatWrappedKey; got != want {
		t.Errorf("format byte = %#x, want %#x", got, want)
	}
	if id, err := envelope.WrappedKeyID(wrapped); err != nil || id != k.ActiveID() {
		t.Errorf("WrappedKeyID = %08x, %v; want %08x, nil", id, err, k.ActiveID())
	}
	got, err := k.Unwrap(wrapped, keyAAD)
	if err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	if !bytes.Equal(got, dek) {
		t.Errorf("Unwrap returned a different key")
	}
	if bytes.Equal(MustWrap(t, k, dek, keyAAD), wrapped) {
		t.Errorf("two wraps of the same key are equal")
	}
}

func TestKeyring_Tamper(t *testing.T) {
	k := MustKeyring(t, testKey(1))
	wrapped := MustWrap(t, k, testKey(9), keyAAD)
	for i := range wrapped {
		for _, mask := range flips {
			bad := bytes.Clone(wrapped)
			bad[i] ^= mask
			got, err := k.Unwrap(bad, keyAAD)
			if want := tamperErr(i); !errors.Is(err, want) {
				t.Errorf("byte %d ^ %#x: Unwrap = %v, want %v", i, mask, err, want)
			}
			if got != nil {
				t.Errorf("byte %d ^ %#x: Unwrap returned a key", i, mask)
			}
		}
	}
	for n := range len(wrapped) {
		if _, err := k.Unwrap(wrapped[:n], keyAAD); !errors.Is(err, envelope.ErrFormat) {
			t.Errorf("Unwrap(wrapped[:%d]) = %v, want ErrFormat", n, err)
		}
	}
}

func TestKeyring_WrongAAD(t *testing.T) {
	k := MustKeyring(t, testKey(1))
	wrapped := MustWrap(t, k, testKey(9), envelope.AAD("store-key", "acct_1", "store_1"))
	for name, aad := range map[string][]byte{
		"Nil":          nil,
		"OtherAccount": envelope.AAD("store-key", "acct_2", "store_1"),
		"OtherStore":   envelope.AAD("store-key", "acct_1", "store_2"),
		"OtherPurpose": envelope.AAD("value", "acct_1", "store_1"),
		"Shifted":      envelope.AAD("store-key", "acct_1s", "tore_1"),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := k.Unwrap(wrapped, aad); !errors.Is(err, envelope.ErrIntegrity) {
				t.Errorf("Unwrap = %v, want ErrIntegrity", err)
			}
		})
	}
}

func TestKeyring_WrongKey(t *testing.T) {
	wrapped := MustWrap(t, MustKeyring(t, testKey(1)), testKey(9), keyAAD)
	other := MustKeyring(t, testKey(2), testKey(3))
	if other.Has(envelope.KeyID(testKey(1))) {
		t.Fatalf("Has(id of a key not in the ring) = true")
	}
	if _, err := other.Unwrap(wrapped, keyAAD); !errors.Is(err, envelope.ErrUnknownKey) {
		t.Errorf("Unwrap = %v, want ErrUnknownKey", err)
	}
	// A sealed value is not a wrapped key.
	sealed := MustCipher(t, envelope.KeyID(testKey(1)), testKey(1)).Seal(testKey(9), keyAAD)
	if _, err := MustKeyring(t, testKey(1)).Unwrap(sealed, keyAAD); !errors.Is(err, envelope.ErrFormat) {
		t.Errorf("Unwrap(sealed value) = %v, want ErrFormat", err)
	}
}

func TestKeyring_Rotation(t *testing.T) {
	oldKey, newKey := testKey(1), testKey(2)
	before := MustKeyring(t, oldKey)
	after := MustKeyring(t, newKey, oldKey)
	dek := envelope.GenerateKey()

	if got, want := after.ActiveID(), envelope.KeyID(newKey); got != want {
		t.Errorf("ActiveID = %08x, want %08x", got, want)
	}
	if !after.Has(envelope.KeyID(oldKey)) || !after.Has(envelope.KeyID(newKey)) {
		t.Errorf("Has: the rotated keyring lacks a key")
	}

	t.Run("UnwrapOld", func(t *testing.T) {
		got, err := after.Unwrap(MustWrap(t, before, dek, keyAAD), keyAAD)
		if err != nil || !bytes.Equal(got, dek) {
			t.Errorf("Unwrap(old wrap) = %v; want the key", err)
		}
	})
	t.Run("WrapNew", func(t *testing.T) {
		wrapped := MustWrap(t, after, dek, keyAAD)
		if id, _ := envelope.WrappedKeyID(wrapped); id != envelope.KeyID(newKey) {
			t.Errorf("WrappedKeyID = %08x, want the new key %08x", id, envelope.KeyID(newKey))
		}
		if _, err := before.Unwrap(wrapped, keyAAD); !errors.Is(err, envelope.ErrUnknownKey) {
			t.Errorf("old keyring Unwrap(new wrap) = %v, want ErrUnknownKey", err)
		}
		if _, err := MustKeyring(t, newKey).Unwrap(wrapped, keyAAD); err != nil {
			t.Errorf("new-only keyring Unwrap(new wrap) = %v", err)
		}
	})
	t.Run("VerifyMAC", func(t *testing.T) {
		msg := []byte("audit head 42")
		oldMAC, newMAC := before.MAC("audit", msg), after.MAC("audit", msg)
		if bytes.Equal(oldMAC, newMAC) {
			t.Errorf("MAC did not change with the active key")
		}
		if !after.VerifyMAC("audit", msg, oldMAC) {
			t.Errorf("VerifyMAC(MAC by old key) = false, want true")
		}
		if !after.VerifyMAC("audit", msg, newMAC) {
			t.Errorf("VerifyMAC(MAC by new key) = false, want true")
		}
		if MustKeyring(t, newKey).VerifyMAC("audit", msg, oldMAC) {
			t.Errorf("VerifyMAC by a keyring without the old key = true, want false")
		}
	})
}

func TestKeyring_MAC(t *testing.T) {
	k := MustKeyring(t, testKey(1))
	msg := []byte("audit head 42")
	mac := k.MAC("audit", msg)
	if got, want := len(mac), 32; got != want {
		t.Errorf("len(MAC) = %d, want %d", got, want)
	}
	if !bytes.Equal(k.MAC("audit", msg), mac) {
		t.Errorf("MAC is not deterministic")
	}
	if !k.VerifyMAC("audit", msg, mac) {
		t.Errorf("VerifyMAC(MAC) = false, want true")
	}
	bad := bytes.Clone(mac)
	bad[0] ^= 1
	for _, tt := range []struct {
		name    string
		purpose string
		msg     []byte
		mac     []byte
	}{
		{"OtherPurpose", "other", msg, mac},
		{"OtherMessage", "audit", []byte("audit head 43"), mac},
		{"Flipped", "audit", msg, bad},
		{"Truncated", "audit", msg, mac[:31]},
		{"Empty", "audit", msg, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if k.VerifyMAC(tt.purpose, tt.msg, tt.mac) {
				t.Errorf("VerifyMAC = true, want false")
			}
		})
	}
	// MACs are stored in the audit log, so the construction must not
	// change: HMAC-SHA256 keyed by HKDF-SHA256(master, no salt,
	// "coffer/"+purpose).
	macKey, err := hkdf.Key(sha256.New, testKey(1), nil, "coffer/audit", 32)
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(sha256.New, macKey)
	h.Write(msg)
	if want := h.Sum(nil); !bytes.Equal(mac, want) {
		t.Errorf("MAC = %x, want %x", mac, want)
	}
}

func TestNewKeyring_Errors(t *testing.T) {
	z := bytes.Repeat([]byte{'Z'}, envelope.KeySize)
	for _, tt := range []struct {
		name   string
		active []byte
		old    [][]byte
	}{
		{"ActiveShort", z[:16], nil},
		{"ActiveNil", nil, nil},
		{"OldLong", testKey(1), [][]byte{append(z, 'Z')}},
		{"Duplicate", z, [][]byte{testKey(2), z}},
		{"DuplicateOld", testKey(1), [][]byte{z, z}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := envelope.NewKeyring(tt.active, tt.old...)
			if err == nil {
				t.Fatalf("NewKeyring = %v, want error", k)
			}
			if msg := err.Error(); strings.Contains(msg, "ZZZ") || strings.Contains(msg, "5a5a") || strings.Contains(msg, "90 90") {
				t.Errorf("error %q may contain key material", err)
			}
		})
	}
}

func TestKeyring_CopiesKeys(t *testing.T) {
	key := testKey(1)
	k := MustKeyring(t, key)
	wrapped := MustWrap(t, k, testKey(9), keyAAD)
	envelope.Zero(key)
	if _, err := k.Unwrap(wrapped, keyAAD); err != nil {
		t.Errorf("Unwrap after zeroing the caller's key = %v", err)
	}
	if !k.VerifyMAC("audit", nil, MustKeyring(t, testKey(1)).MAC("audit", nil)) {
		t.Errorf("VerifyMAC after zeroing the caller's key = false")
	}
}

func TestKeyring_Wrap_BadKey(t *testing.T) {
	k := MustKeyring(t, testKey(1))
	for _, n := range []int{0, 16, 31, 33} {
		if w, err := k.Wrap(make([]byte, n), keyAAD); err == nil {
			t.Errorf("Wrap(%d bytes) = %x, want error", n, w)
		}
	}
}

func TestKeyring_Redacted(t *testing.T) {
	master := bytes.Repeat([]byte{0x5a}, envelope.KeySize) // 'Z'
	k := MustKeyring(t, master, testKey(2))
	want := fmt.Sprintf("envelope.Keyring{active: %08x, old: %08x}", envelope.KeyID(master), envelope.KeyID(testKey(2)))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		if got := fmt.Sprintf(verb, k); got != want {
			t.Errorf("Sprintf(%q) = %q, want %q", verb, got, want)
		}
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("boot", "keyring", k)
	for _, leak := range []string{"ZZZ", "5a5a", "90 90"} {
		if strings.Contains(buf.String(), leak) {
			t.Errorf("log %q contains %q", buf.String(), leak)
		}
	}
}

func TestKeyring_IDs(t *testing.T) {
	a, b, c := envelope.GenerateKey(), envelope.GenerateKey(), envelope.GenerateKey()
	k, err := envelope.NewKeyring(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	got := k.IDs()
	want := []uint32{envelope.KeyID(a), envelope.KeyID(b), envelope.KeyID(c)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("IDs: got %v, want %v (active first, then old in order)", got, want)
	}
	got[0] = 0
	if k.IDs()[0] != want[0] {
		t.Fatal("IDs: changing the result changed the keyring")
	}
}
