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
// other (JSON objects up to insignificant white space, which a write
// through Vault compacts):
//
//   - a value that is JSON-object text is that object, as stored (raw, key
//     order kept), unless it has the shape of one of the two forms below,
//     which would store as something else (see plain);
//   - any other valid UTF-8 value v is {"value": v};
//   - any other value is {"value": base64(v), "encoding": "base64"}.
//
// Vault data is stored as:
//
//   - exactly {"value": s}, s a string: s, unless s is JSON-object text
//     that reads as itself (plain), which would read back as that object:
//     then the object's compact JSON text;
//   - exactly {"value": s, "encoding": "base64"}, s standard base64 of
//     bytes that are not valid UTF-8: those bytes;
//   - any other object: its compact JSON text, key order kept.
//
// So a value written through another face reads as {"value": v}, and a map
// written through Vault reads through every other face, and through
// 'coffer run', as its JSON text.

// DataOf returns the Vault data of a coffer value: a JSON object.
func DataOf(v []byte) json.RawMessage {
	if plain(v) {
		return v
	}
	if utf8.Valid(v) {
		b := make([]byte, 0, len(v)+16)
		b = web.AppendString(append(b, `{"value":`...), string(v))
		return append(b, '}')
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
	var s string
	switch len(m) {
	case 1:
		if stringField(m, "value", &s) && !plain([]byte(s)) {
			return []byte(s), nil
		}
	case 2:
		if b, ok := binaryForm(m); ok {
			return b, nil
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return nil, coffer.Errorf(coffer.EINVALID, "data must be a JSON object")
	}
	return buf.Bytes(), nil
}

// plain reports whether v is JSON-object text that ValueOf stores as
// itself (compacted), so that DataOf may show it as it is: any object but
// exactly {"value": s} with s not plain, and the base64 form of bytes that
// are not UTF-8.
func plain(v []byte) bool {
	if !objectText(v) {
		return false
	}
	// Without a key spelled "value" (or an escape that could spell one)
	// it is neither form: the common case, decided without parsing.
	if !bytes.Contains(v, []byte(`"value"`)) && !bytes.Contains(v, []byte(`\u`)) {
		return true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(v, &m) != nil {
		return false
	}
	var s string
	switch len(m) {
	case 1:
		if stringField(m, "value", &s) {
			return plain([]byte(s))
		}
	case 2:
		if _, ok := binaryForm(m); ok {
			return false
		}
	}
	return true
}

// binaryForm returns the bytes of {"value": base64, "encoding": "base64"}
// when they are not valid UTF-8.
func binaryForm(m map[string]json.RawMessage) ([]byte, bool) {
	var s, enc string
	if !stringField(m, "value", &s) || !stringField(m, "encoding", &enc) || enc != "base64" {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || utf8.Valid(b) {
		return nil, false
	}
	return b, true
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
