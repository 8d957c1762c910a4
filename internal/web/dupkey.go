package web

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/coffer-dev/coffer"
)

// ErrDuplicateKey returns the EINVALID refusal of a body with a repeated
// object key at byte offset at, for faces that decode bodies by rules of
// their own. The key itself is not quoted: in a map (labels) it is the
// caller's data.
func ErrDuplicateKey(at int) error {
	return coffer.Errorf(coffer.EINVALID, "invalid JSON body: duplicate object key at byte %s", strconv.Itoa(at))
}

// dupLinear is how many keys of one object are compared one by one before
// a set is built for the rest, so that a body of many keys costs linear
// time, not quadratic.
const dupLinear = 16

// dupLevel is one open container of a JSON text being scanned.
type dupLevel struct {
	object bool
	start  int                 // index of the object's first key in keys
	set    map[string]struct{} // the object's keys, once it has more than dupLinear
}

// DuplicateKey returns the byte offset of the first object key that repeats
// an earlier key of the same object, at any depth, or -1 when there is none.
// Keys are compared after unescaping, so "value" and "\u0076alue" are the
// same key, as every JSON decoder reads them. encoding/json keeps the last
// of two equal keys while other parsers keep the first, so a body with both
// means different things to a proxy and to coffer; faces refuse it.
//
// It is meant for a body that decodes (call it after decoding): it scans the
// bytes once, telling keys from values by the structure alone, and on
// malformed input returns some result without failing. It allocates only
// for keys with escapes, objects of more than dupLinear keys, and nesting
// deeper than a few levels.
func DuplicateKey(body []byte) int {
	var levelBuf [8]dupLevel
	var keyBuf [32][]byte
	stack, keys := levelBuf[:0], keyBuf[:0]
	wantKey := false // the next string of the current object is a key
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{':
			stack = append(stack, dupLevel{object: true, start: len(keys)})
			wantKey = true
		case '[':
			stack = append(stack, dupLevel{})
			wantKey = false
		case '}', ']':
			if len(stack) == 0 {
				return -1
			}
			if top := stack[len(stack)-1]; top.object {
				keys = keys[:top.start]
			}
			stack = stack[:len(stack)-1]
			wantKey = false
		case ',':
			wantKey = len(stack) > 0 && stack[len(stack)-1].object
		case '"':
			end := stringEnd(body, i)
			if end < 0 {
				return -1
			}
			if wantKey && len(stack) > 0 {
				top := &stack[len(stack)-1]
				key := body[i+1 : end]
				if bytes.IndexByte(key, '\\') >= 0 {
					var s string
					if json.Unmarshal(body[i:end+1], &s) != nil {
						return -1
					}
					key = []byte(s)
				}
				if seen(top, keys, key) {
					return i
				}
				keys = append(keys, key)
				wantKey = false
			}
			i = end
		}
	}
	return -1
}

// stringEnd returns the index of the quote that closes the string opening
// at body[i], or -1.
func stringEnd(body []byte, i int) int {
	for j := i + 1; j < len(body); j++ {
		k := bytes.IndexAny(body[j:], `"\`)
		if k < 0 {
			return -1
		}
		j += k
		if body[j] == '"' {
			return j
		}
		j++ // the escaped byte
	}
	return -1
}

// seen reports whether key is already a key of the object top, whose keys
// so far are keys[top.start:].
func seen(top *dupLevel, keys [][]byte, key []byte) bool {
	own := keys[top.start:]
	if top.set != nil {
		if _, ok := top.set[string(key)]; ok {
			return true
		}
		top.set[string(key)] = struct{}{}
		return false
	}
	for _, k := range own {
		if bytes.Equal(k, key) {
			return true
		}
	}
	if len(own) >= dupLinear {
		top.set = make(map[string]struct{}, 2*len(own))
		for _, k := range own {
			top.set[string(k)] = struct{}{}
		}
		top.set[string(key)] = struct{}{}
	}
	return false
}
