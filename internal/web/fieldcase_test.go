package web

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

type caseInner struct {
	Store string `json:"store"`
}

type caseEmbedded struct {
	Comment string `json:"comment"`
}

type caseBody struct {
	caseEmbedded
	Name    string               `json:"name"`
	Admin   bool                 `json:"admin"`
	Scopes  []caseInner          `json:"scopes"`
	ByName  map[string]caseInner `json:"by_name"`
	Labels  map[string]string    `json:"labels"`
	Raw     json.RawMessage      `json:"raw"`
	When    *time.Time           `json:"when"`
	Any     any                  `json:"any"`
	Plain   string               // untagged: its Go name
	Ignored string               `json:"-"`
}

// TestFoldedField checks that a key matching a struct field only in
// another case is found at any depth of typed values, and that map keys
// and values decoded by their own rules are left alone.
func TestFoldedField(t *testing.T) {
	for _, tt := range []struct {
		body string
		want string
	}{
		{`{"Admin":true}`, "Admin"},
		{`{"name":"a","NAME":"b"}`, "NAME"},
		{`{"\u0041dmin":true}`, "Admin"},
		{`{"scopes":[{"store":"a"},{"Store":"b"}]}`, "Store"},
		{`{"by_name":{"x":{"STORE":"b"}}}`, "STORE"},
		{`{"Comment":"x"}`, "Comment"},
		{`{"plain":"x"}`, "plain"},
		{`{"name":"a","admin":true,"comment":"c","Plain":"p","scopes":[{"store":"s"}]}`, ""},
		{`{"labels":{"Admin":"x","NAME":"y"}}`, ""},
		{`{"raw":{"Admin":1},"any":{"Name":2},"when":"2026-01-01T00:00:00Z"}`, ""},
		{`{"by_name":{"Admin":{"store":"s"}}}`, ""},
		{`{"unknown":1}`, ""},
	} {
		at, key := FoldedField([]byte(tt.body), &caseBody{})
		if key != tt.want || (at >= 0) != (tt.want != "") {
			t.Errorf("FoldedField(%s) = %d %q, want %q", tt.body, at, key, tt.want)
		}
	}
	at, _ := FoldedField([]byte(`[{"Store":"x"}]`), &[]caseInner{})
	if at != 2 {
		t.Errorf("FoldedField in an array body = %d, want 2", at)
	}
}

// TestDecodeJSONFoldedField checks that DecodeJSON refuses a field name
// in another case as an unknown field.
func TestDecodeJSONFoldedField(t *testing.T) {
	var v caseBody
	err := DecodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(`{"name":"k","Admin":true}`)), 1<<10, &v)
	if coffer.ErrorCode(err) != coffer.EINVALID || coffer.ErrorMessage(err) != `invalid JSON body: unknown field "Admin"` {
		t.Errorf("DecodeJSON: got %v, want EINVALID unknown field \"Admin\"", err)
	}
}
