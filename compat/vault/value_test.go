package vault_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/coffer-dev/coffer/compat/vault"
)

// TestValueMapping checks both halves of the value mapping on the edge
// cases docs/vault.md names, and that each undoes the other.
func TestValueMapping(t *testing.T) {
	for _, tt := range []struct {
		name  string
		value string // coffer value
		data  string // its Vault data
	}{
		{"Text", "hunter2", `{"value":"hunter2"}`},
		{"Empty", "", `{"value":""}`},
		{"Object", `{"user":"a","pass":"b"}`, `{"user":"a","pass":"b"}`},
		{"ObjectKeyOrder", `{"z":1,"a":{"y":2,"b":[1,2]}}`, `{"z":1,"a":{"y":2,"b":[1,2]}}`},
		{"ArrayText", `[1,2]`, `{"value":"[1,2]"}`},
		{"NumberText", `42`, `{"value":"42"}`},
		{"BrokenObjectText", `{"a":`, `{"value":"{\"a\":"}`},
		{"Binary", "\xff\x00\x01", `{"value":"/wAB","encoding":"base64"}`},
		{"ValueObjectText", `{"value":"{\"a\":1}"}`, `{"value":"{\"a\":1}"}`},
		{"Unicode", "päss☃", `{"value":"päss☃"}`},
		// Object text of the shape of a written {"value": s} would store
		// as s: shown wrapped, so that it stores as itself.
		{"ValueShapedObject", `{"value":"v"}`, `{"value":"{\"value\":\"v\"}"}`},
		{"BinaryShapedObject", `{"value":"/w==","encoding":"base64"}`, `{"value":"{\"value\":\"/w==\",\"encoding\":\"base64\"}"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := vault.DataOf([]byte(tt.value))
			if !bytes.Equal(compact(t, got), compact(t, []byte(tt.data))) {
				t.Fatalf("DataOf(%q) = %s, want %s", tt.value, got, tt.data)
			}
			back, err := vault.ValueOf(got)
			if err != nil || string(back) != tt.value {
				t.Fatalf("ValueOf(DataOf(%q)) = %q, %v; want the value back", tt.value, back, err)
			}
		})
	}
}

// TestValueOf checks how Vault data is stored, and that reading it back
// gives the same data.
func TestValueOf(t *testing.T) {
	for _, tt := range []struct {
		name, data, value string
	}{
		{"Value", `{"value":"s3cret"}`, "s3cret"},
		{"ValueSpaced", ` { "value" : "s3cret" } `, "s3cret"},
		{"Map", `{"user": "a", "pass": "b"}`, `{"user":"a","pass":"b"}`},
		{"ValueNotString", `{"value":1}`, `{"value":1}`},
		{"ValueAndMore", `{"value":"a","other":"b"}`, `{"value":"a","other":"b"}`},
		{"ValueObjectText", `{"value":"{\"a\":1}"}`, `{"value":"{\"a\":1}"}`},
		{"Base64Binary", `{"value":"/wAB","encoding":"base64"}`, "\xff\x00\x01"},
		// Bytes that are text would read back as {"value": text}: kept as
		// the object so that the data reads back as written.
		{"Base64Text", `{"value":"aGk=","encoding":"base64"}`, `{"value":"aGk=","encoding":"base64"}`},
		{"Base64Bad", `{"value":"***","encoding":"base64"}`, `{"value":"***","encoding":"base64"}`},
		{"OtherEncoding", `{"value":"x","encoding":"hex"}`, `{"value":"x","encoding":"hex"}`},
		{"EmptyObject", `{}`, `{}`},
		{"Nested", `{"a":{"b":null}}`, `{"a":{"b":null}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := vault.ValueOf([]byte(tt.data))
			if err != nil || string(v) != tt.value {
				t.Fatalf("ValueOf(%s) = %q, %v; want %q", tt.data, v, err, tt.value)
			}
			if back := vault.DataOf(v); !bytes.Equal(compact(t, back), compact(t, []byte(tt.data))) {
				t.Fatalf("DataOf(ValueOf(%s)) = %s, want the data back", tt.data, back)
			}
		})
	}
	for _, bad := range []string{`"text"`, `[1]`, `1`, `null`, `{"a":1,"a":2}`, `{"a":`, ``, `{"a":1} x`} {
		if v, err := vault.ValueOf([]byte(bad)); err == nil {
			t.Errorf("ValueOf(%s) = %q, want an error", bad, v)
		}
	}
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("compact %s: %v", b, err)
	}
	return buf.Bytes()
}
