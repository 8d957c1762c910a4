package vault_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/coffer-dev/coffer/compat/vault"
)

// FuzzValueMapping checks that every value reads through Vault as data
// that stores back as the same value, and that data ValueOf accepts reads
// back as data that stores as the same value again.
func FuzzValueMapping(f *testing.F) {
	for _, s := range []string{"", "x", `{"a":1}`, `{"value":"v"}`, `{"value":"/w==","encoding":"base64"}`, "\xff", `[1]`, ` {"a" : [1, {"b":null}]} `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		data := vault.DataOf(b)
		back, err := vault.ValueOf(data)
		if err != nil || !bytes.Equal(back, b) && !bytes.Equal(back, compactOr(b)) {
			t.Fatalf("ValueOf(DataOf(%q)) = %q, %v", b, back, err)
		}
		v, err := vault.ValueOf(b)
		if err != nil {
			return
		}
		again, err := vault.ValueOf(vault.DataOf(v))
		if err != nil || !bytes.Equal(again, v) {
			t.Fatalf("data %q stored as %q reads back as data stored as %q, %v", b, v, again, err)
		}
	})
}

// compactOr returns b compacted when it is JSON, else b.
func compactOr(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}
