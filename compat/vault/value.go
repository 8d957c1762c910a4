package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// The value mapping between a coffer value (bytes) and a Vault KV secret (a
// JSON object). DataOf and ValueOf are its two halves; each undoes the
// other:
//
//   - a value that is JSON-object text is that object, as stored (raw, key
//     order kept);
//   - any other valid UTF-8 value v is {"value": v};
//   - any other value is {"value": base64(v), "encoding": "base64"}.
//
// Vault data is stored as:
//
//   - exactly {"value": s}, s a string that is not JSON-object text: s;
//   - exactly {"value": s, "encoding": "base64"}, s standard base64 of
//     bytes that are not valid UTF-8: those bytes;
//   - any other object: its compact JSON text, key order kept.
//
// So a value written through another face reads as {"value": v}, and a map
// written through Vault reads through every other face, and through
// 'coffer run', as its JSON text.

// DataOf returns the Vault data of a coffer value: a JSON object.
func DataOf(v []byte) json.RawMessage {
	if objectText(v) {
		return v
	}
	if utf8.Valid(v) {
		b, _ := json.Marshal(struct {
			Value string `json:"value"`
		}{string(v)})
		return b
	}
	b, _ := json.Marshal(struct {
		Value    string `json:"value"`
		Encoding string `json:"encoding"`
	}{base64.StdEncoding.EncodeToString(v), "base64"})
	return b
}

// ValueOf returns the coffer value of Vault data, the JSON text of the
// request's "data" as received: EINVALID unless it is one JSON object
// without a repeated key.
func ValueOf(data []byte) ([]byte, error) {
	if !objectText(data) {
		return nil, coffer.Errorf(coffer.EINVALID, "data must be a JSON object")
	}
	if at := web.DuplicateKey(data); at >= 0 {
		return nil, web.ErrDuplicateKey(at)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, coffer.Errorf(coffer.EINVALID, "data must be a JSON object")
	}
	var s, enc string
	switch len(m) {
	case 1:
		if stringField(m, "value", &s) && !objectText([]byte(s)) {
			return []byte(s), nil
		}
	case 2:
		if stringField(m, "value", &s) && stringField(m, "encoding", &enc) && enc == "base64" {
			if b, err := base64.StdEncoding.DecodeString(s); err == nil && !utf8.Valid(b) {
				return b, nil
			}
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, coffer.Errorf(coffer.EINVALID, "data must be a JSON object")
	}
	return buf.Bytes(), nil
}

// stringField reports whether m has the key as a JSON string, and sets s.
func stringField(m map[string]json.RawMessage, key string, s *string) bool {
	raw, ok := m[key]
	return ok && len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, s) == nil
}

// objectText reports whether b is the text of one JSON object (white space
// around it allowed).
func objectText(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && json.Valid(b)
}
