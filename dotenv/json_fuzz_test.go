package dotenv_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/dotenv"
)

// FuzzJSONEnv feeds arbitrary import files to the JSON importer. What it
// accepts has valid names, no duplicates and string values, and exports
// and re-imports to the same entries; what it refuses gets an error that
// says where (line N) and quotes no value.
func FuzzJSONEnv(f *testing.F) {
	for _, s := range []string{
		`{"A":"1","B":"two words","C":"line\nbreak","D":"\u00e9"}`, `{}`, ` {"A":"x"} `, `{"a/b":"v","c.d":"w"}`,
		`{"A":"1","A":"2"}`, `{"../x":"v"}`, `{"A":1}`, `{"A":{"B":"c"}}`, `{"A":["x"]}`, `{"A":null}`,
		`["A"]`, `"A"`, `{"A":"CANARY-v"} {}`, `{"A":"CANARY-v"`, "{\"A\":\"\xff\"}", "\ufeff{}", `{"":"v"}`,
		`{"A":"\ud800"}`, strings.Repeat(`{"A":`, 50),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := dotenv.ParseJSON(data, secretKey)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "line ") {
				t.Fatalf("error %q does not say where", msg)
			}
			// A refused key is quoted, and the fuzzer may put the canary
			// in a key: look for it in the rest of the message.
			rest := msg
			if i := strings.Index(rest, ": key "); i >= 0 {
				if q, err := strconv.QuotedPrefix(rest[i+len(": key "):]); err == nil {
					rest = rest[:i] + rest[i+len(": key ")+len(q):]
				}
			}
			if strings.Contains(rest, "CANARY-v") {
				t.Fatalf("error %q quotes a value", msg)
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if err := coffer.ValidateName("secret", e.Key); err != nil || seen[e.Key] {
				t.Fatalf("accepted key %q (duplicate %v): %v", e.Key, seen[e.Key], err)
			}
			if !utf8.ValidString(e.Value) {
				t.Fatalf("accepted a value that is not UTF-8: %q", e.Value)
			}
			seen[e.Key] = true
		}
		var b bytes.Buffer
		if err := dotenv.WriteJSON(&b, entries); err != nil {
			t.Fatal(err)
		}
		again, err := dotenv.ParseJSON(b.Bytes(), secretKey)
		if err != nil {
			t.Fatalf("re-import of %q: %v", b.String(), err)
		}
		if len(again) != len(entries) {
			t.Fatalf("got %d entries, want %d", len(again), len(entries))
		}
		for i := range again {
			if again[i].Key != entries[i].Key || again[i].Value != entries[i].Value {
				t.Fatalf("got %q=%q, want %q=%q", again[i].Key, again[i].Value, entries[i].Key, entries[i].Value)
			}
		}
	})
}
