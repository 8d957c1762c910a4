package chutes_test

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzBodies sends arbitrary bodies to every route that reads one: each
// answer is a success or a FastAPI error of a 4xx status, never a 500, and
// a 422 lists its problems.
func FuzzBodies(f *testing.F) {
	for _, seed := range []string{
		`{"purpose":"my-chute","key":"HF_TOKEN","value":"v"}`,
		`{"purpose":"a/b","key":"K","value":""}`,
		`{"purpose":5,"key":null}`,
		`{"admin":false,"name":"ci","scopes":[{"object_type":"secrets","object_id":"my-chute","action":"read"}]}`,
		`{"admin":"no","name":"x","scopes":[{"object_type":"registry"},{"object_type":"secrets","object_id":"00000000-0000-0000-0000-000000000000"}]}`,
		`{"admin":true,"name":"é é","scopes":null}`,
		`{"admin":1.0,"name":"x","scopes":[null,[],{"action":"invoke"}]}`,
		`[]`, `"x"`, `null`, `{`, `{"a":1} {}`, "\xff", ``, `{"purpose":"\u0000"}`,
	} {
		f.Add([]byte(seed), "application/json")
	}
	f.Add([]byte(`{"admin":true,"name":"x"}`), "text/plain")
	fc := mustOpenFace(f, true)
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		for _, path := range []string{"/chutes/secrets/", "/chutes/api_keys/"} {
			w := fc.signed(t, "POST", path, body, "Content-Type", contentType)
			switch w.Code {
			case 200, 400, 403, 404, 409, 413, 422:
			default:
				t.Fatalf("POST %s %q: got %d %s", path, body, w.Code, w.Body)
			}
			var e struct {
				Detail json.RawMessage `json:"detail"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatalf("POST %s %q: body %s is not JSON: %v", path, body, w.Body, err)
			}
			if w.Code != 200 && len(e.Detail) == 0 || w.Code == 422 && !bytes.HasPrefix(e.Detail, []byte("[{")) {
				t.Fatalf("POST %s %q: got %d %s, want a FastAPI error", path, body, w.Code, w.Body)
			}
			if w.Code == 200 && len(e.Detail) != 0 {
				t.Fatalf("POST %s %q: a success with a detail: %s", path, body, w.Body)
			}
		}
	})
}
