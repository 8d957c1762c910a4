package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The bounds of every JSON document this package reads: a token's header
// and claims, a JWKS, an OIDC discovery document.
const (
	maxDepth   = 8    // nesting of objects and arrays
	maxKeys    = 256  // members of one object
	maxMembers = 4096 // members and elements of the whole document
)

// decodeObject decodes data, which must be one JSON object, into a map with
// numbers as json.Number. It refuses duplicate member names at any depth
// (two "sub" claims are an attack: parsers disagree on which one wins), more
// than maxDepth levels, objects of more than maxKeys members, and anything
// after the object.
func decodeObject(data []byte) (map[string]any, error) {
	if err := checkStructure(data); err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// checkStructure walks data's tokens and enforces the rules of decodeObject.
func checkStructure(data []byte) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // in an object, the next token is a member name
	}
	var stack []*frame
	members := 0
	first := true
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if len(stack) != 0 || first {
				return errors.New("bad JSON: truncated")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("bad JSON: %w", err)
		}
		if first {
			if delim, ok := tok.(json.Delim); !ok || delim != '{' {
				return errors.New("not a JSON object")
			}
			first = false
		} else if len(stack) == 0 {
			return errors.New("bad JSON: data after the object")
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if delim, ok := tok.(json.Delim); ok && delim == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			name, ok := tok.(string)
			if !ok {
				return errors.New("bad JSON: member name")
			}
			if top.keys[name] {
				return errors.New("duplicate JSON member name")
			}
			if len(top.keys) >= maxKeys {
				return errors.New("JSON object has too many members")
			}
			top.keys[name] = true
			top.key = false
			continue
		}
		if delim, ok := tok.(json.Delim); ok && delim == ']' {
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil {
			members++
			if members > maxMembers {
				return errors.New("JSON document has too many members")
			}
			if top.object {
				top.key = true
			}
		}
		if delim, ok := tok.(json.Delim); ok {
			switch delim {
			case '{', '[':
				if len(stack) >= maxDepth {
					return errors.New("JSON nested too deep")
				}
				stack = append(stack, &frame{object: delim == '{', keys: map[string]bool{}, key: delim == '{'})
			}
		}
	}
}
