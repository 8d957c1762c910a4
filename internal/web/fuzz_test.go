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
		`{"name":"a","name":"b"}`, `{"admin":false,"admin":true}`, `{"name":"a","\u006eame":"b"}`,
		`{"nested":{"labels":{"k":"CANARY","k":"CANARY"}}}`,
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
			if web.DuplicateKey(body) >= 0 {
				t.Fatalf("accepted %q, which repeats a key", body)
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

// hasDuplicateKey is the reference for web.DuplicateKey: it walks the
// tokens of a valid JSON text with json.Decoder, which unescapes keys, and
// reports whether an object repeats a key.
func hasDuplicateKey(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type level struct {
		keys   map[string]bool
		wantKy bool
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok := tok.(type) {
		case json.Delim:
			switch tok {
			case '{':
				if top != nil && top.keys != nil {
					top.wantKy = true
				}
				stack = append(stack, &level{keys: map[string]bool{}, wantKy: true})
				continue
			case '[':
				if top != nil && top.keys != nil {
					top.wantKy = true
				}
				stack = append(stack, &level{})
				continue
			default:
				stack = stack[:len(stack)-1]
				continue
			}
		case string:
			if top != nil && top.keys != nil && top.wantKy {
				if top.keys[tok] {
					return true
				}
				top.keys[tok] = true
				top.wantKy = false
				continue
			}
		}
		if top != nil && top.keys != nil {
			top.wantKy = true
		}
	}
}

// FuzzDuplicateKey checks web.DuplicateKey against hasDuplicateKey on every
// valid JSON text, and that it and web.FoldedField end without a panic on
// any other.
func FuzzDuplicateKey(f *testing.F) {
	for _, s := range []string{
		`{"value":"a","value":"b"}`, `{"value":"a","\u0076alue":"b"}`, `{"a":[{"x":1},{"x":1,"x":2}]}`,
		`{"a":{"x":1},"b":{"x":1}}`, `{"a":"{\"a\":1,\"a\":2}"}`, `[{"k":1},{"k":2}]`, `{"\"":1,"\u0022":2}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"a":18}`,
		`[}`, `{"nested":[}`, `{"Name":"x","nested":{"SCOPES":[]}}`, `{"labels":{"x":]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := web.DuplicateKey(body)
		web.FoldedField(body, &fuzzBody{}) // ends, whatever the body
		if !json.Valid(body) {
			return
		}
		if want := hasDuplicateKey(body); (got >= 0) != want {
			t.Fatalf("DuplicateKey(%q) = %d, want a duplicate: %v", body, got, want)
		}
		if got >= 0 && (got >= len(body) || body[got] != '"') {
			t.Fatalf("DuplicateKey(%q) = %d, not the offset of a key", body, got)
		}
	})
}
