package web

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer"
)

// TestDuplicateKey checks the scanner on repeated keys at every depth,
// keys equal only after unescaping, and the look-alikes that are not
// repeats (equal strings as values, equal keys in sibling objects).
func TestDuplicateKey(t *testing.T) {
	many := func(n int, dup bool) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"k` + strconv.Itoa(i) + `":1`)
		}
		if dup {
			b.WriteString(`,"k7":2`)
		}
		return b.String() + "}"
	}
	for _, tt := range []struct {
		body string
		want int
	}{
		{`{"value":"a","value":"b"}`, 13},
		{`{"admin":false,"scopes":[],"admin":true}`, 27},
		{`{"value":"a","\u0076alue":"b"}`, 13},
		{`{"v\"":"a","v\u0022":"b"}`, 11},
		{`{"a":{"b":1,"b":2}}`, 12},
		{`{"a":[{"x":1},{"y":1,"y":2}]}`, 21},
		{`[{"a":1},{"b":{"c":[{"d":1,"d":1}]}}]`, 27},
		{`{"labels":{"k":"v","k":"w"}}`, 19},
		{` { "a" : 1 , "a" : 2 } `, 13},
		{many(100, true), strings.Index(many(100, true), `"k7":2`)},
		{`{"a":1,"b":1}`, -1},
		{`{"a":"a","b":"a","c":["a","a"]}`, -1},
		{`{"a":{"x":1},"b":{"x":1}}`, -1},
		{`[{"x":1},{"x":1}]`, -1},
		{`{"a":"{\"a\":1,\"a\":2}"}`, -1},
		{`{"value":"a","Value":"b"}`, -1}, // distinct keys (a map may hold both); see DecodeJSON
		{`{"\u00e9":1,"é":2}`, 12},
		{`{"":1,"":2}`, 6},
		{many(100, false), -1},
		{`"a"`, -1}, {`[]`, -1}, {`{}`, -1}, {``, -1}, {`{"a`, -1}, {`}}]`, -1},
	} {
		if got := DuplicateKey([]byte(tt.body)); got != tt.want {
			t.Errorf("DuplicateKey(%.60s) = %d, want %d", tt.body, got, tt.want)
		}
	}
}

// TestDecodeJSONDuplicateKey checks that DecodeJSON refuses a repeated key
// at any depth with EINVALID, without quoting it, and leaves v's Validate
// uncalled.
func TestDecodeJSONDuplicateKey(t *testing.T) {
	type inner struct{ X string }
	var v struct {
		Value  string            `json:"value"`
		Admin  bool              `json:"admin"`
		Labels map[string]string `json:"labels"`
		Items  []inner           `json:"items"`
	}
	for _, body := range []string{
		`{"value":"a","value":"b"}`, `{"admin":false,"admin":true}`, `{"value":"a","\u0076alue":"b"}`,
		`{"labels":{"SECRETKEY":"a","SECRETKEY":"b"}}`, `{"items":[{"X":"a"},{"X":"a","X":"b"}]}`,
	} {
		err := DecodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(body)), 1<<10, &v)
		if coffer.ErrorCode(err) != coffer.EINVALID || !strings.Contains(coffer.ErrorMessage(err), "duplicate object key") {
			t.Errorf("DecodeJSON(%s) = %v; want EINVALID duplicate object key", body, err)
		}
		if strings.Contains(coffer.ErrorMessage(err), "SECRETKEY") {
			t.Errorf("error quotes a key: %v", err)
		}
	}
	ok := `{"value":"a","labels":{"value":"a","Value":"b"},"items":[{"X":"a"},{"X":"a"}]}`
	if err := DecodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(ok)), 1<<10, &v); err != nil {
		t.Errorf("DecodeJSON(%s) = %v", ok, err)
	}
}

// typicalBody is a secret write as the faces receive one.
const typicalBody = `{"name":"db-password","value":"c0rrect-h0rse-battery-staple-0123456789","comment":"primary database",` +
	`"labels":{"env":"prod","team":"payments","tier":"1"},"scopes":["workers","ci"],"expires_at":null}`

func TestDuplicateKeyAllocs(t *testing.T) {
	body := []byte(typicalBody)
	if n := testing.AllocsPerRun(100, func() { DuplicateKey(body) }); n != 0 {
		t.Errorf("DuplicateKey allocates %v times on a typical body, want 0", n)
	}
}

// BenchmarkDuplicateKey measures the scans (repeated keys, field names in
// another case) against the decode they follow.
func BenchmarkDuplicateKey(b *testing.B) {
	body := []byte(typicalBody)
	b.Run("scan", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			DuplicateKey(body)
		}
	})
	b.Run("fieldcase", func(b *testing.B) {
		type typical struct {
			Name      string            `json:"name"`
			Value     string            `json:"value"`
			Comment   string            `json:"comment"`
			Labels    map[string]string `json:"labels"`
			Scopes    []string          `json:"scopes"`
			ExpiresAt json.RawMessage   `json:"expires_at"`
		}
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			FoldedField(body, &typical{})
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var v struct {
				Name, Value, Comment string
				Labels               map[string]string
				Scopes               []string
				ExpiresAt            json.RawMessage `json:"expires_at"`
			}
			_ = json.Unmarshal(body, &v)
		}
	})
}
