package web_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// fuzzBody is a request shape with the field kinds the faces decode.
type fuzzBody struct {
	Name   string            `json:"name"`
	Value  *string           `json:"value,omitempty"`
	Count  int               `json:"count,omitempty"`
	Admin  bool              `json:"admin,omitempty"`
	Scopes []string          `json:"scopes,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Nested *fuzzBody         `json:"nested,omitempty"`
}

// Validate refuses a name that the test reserves, to check that DecodeJSON
// calls it and returns its error unchanged.
func (b *fuzzBody) Validate() error {
	if b.Name == "refused" {
		return coffer.Errorf(coffer.EINVALID, "name is refused")
	}
	return nil
}

const fuzzLimit = 4 << 10

// FuzzDecodeJSON feeds arbitrary bodies to DecodeJSON, which every face's
// body goes through. Whatever the body, the result is a decoded value that
// re-encodes to the same value and holds no U+FFFD that the body did not,
// an EINVALID error that never quotes a value
// of the body, or the MaxBytesError of an oversized body.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","value":"CANARY-v","count":3,"admin":true,"scopes":["x"],"labels":{"k":"v"}}`,
		`{"name":"a","nested":{"name":"b","nested":{"name":"c"}}}`,
		`{"name":"refused"}`, `{"name":"a","valu":"CANARY-typo"}`, `{"name":5}`, `{"count":"CANARY"}`,
		`{"count":1e400}`, `{"count":-9223372036854775809}`, `[]`, `null`, `""`, ``, ` `,
		`{"name":"a"} {"name":"b"}`, `{"name":"\ud800"}`, `{"name":"\udc00\ud800"}`, `{"name":"\ud83d\ude00"}`, "{\"name\":\"\xff\"}", `{"name":"a"`,
		strings.Repeat(`{"nested":`, 200) + `{}` + strings.Repeat(`}`, 200),
		strings.Repeat(`[`, 20000), `{"name":"` + strings.Repeat("x", fuzzLimit) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got fuzzBody
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		err := web.DecodeJSON(w, r, fuzzLimit, &got)
		var mbe *http.MaxBytesError
		switch {
		case err == nil:
			if len(body) > fuzzLimit || !utf8.Valid(body) {
				t.Fatalf("accepted a body of %d bytes, valid UTF-8 %v", len(body), utf8.Valid(body))
			}
			if got.Name == "refused" {
				t.Fatal("Validate was not called")
			}
			b, err := json.Marshal(&got)
			if err != nil {
				t.Fatal(err)
			}
			// Nothing was replaced: a U+FFFD decoded was in the body.
			if bytes.ContainsRune(b, utf8.RuneError) && !bytes.ContainsRune(body, utf8.RuneError) &&
				!bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)) {
				t.Fatalf("accepted %q as %s: a character was replaced with U+FFFD", body, b)
			}
			var again fuzzBody
			if err := json.Unmarshal(b, &again); err != nil || !reflect.DeepEqual(&again, &got) {
				t.Fatalf("round trip of %s: got %+v (%v), want %+v", b, again, err, got)
			}
		case errors.As(err, &mbe):
			if len(body) <= fuzzLimit {
				t.Fatalf("MaxBytesError for %d bytes", len(body))
			}
		case coffer.ErrorCode(err) != coffer.EINVALID:
			t.Fatalf("got error %v (code %s), want EINVALID", err, coffer.ErrorCode(err))
		default:
			msg := coffer.ErrorMessage(err)
			if !utf8.ValidString(msg) {
				t.Fatalf("error message is not UTF-8: %q", msg)
			}
			// An unknown field is named (a name, never a value); nothing
			// else of the body is quoted.
			if strings.Contains(msg, "CANARY") && !strings.Contains(msg, "unknown field") {
				t.Fatalf("error quotes the body: %q", msg)
			}
		}
	})
}
