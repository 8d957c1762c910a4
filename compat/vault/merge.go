package vault

import (
	"bytes"
	"encoding/json"
)

// member is one key and raw value of a JSON object, in order.
type member struct {
	key   string
	value json.RawMessage
}

// members parses a JSON object into its members, in order; ok is false
// when raw is not an object.
func members(raw json.RawMessage) ([]member, bool) {
	if !objectText(raw) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, false
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		out = append(out, member{key, v})
	}
	return out, true
}

// encodeMembers writes members as a compact JSON object.
func encodeMembers(ms []member) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		_ = json.Compact(&b, m.value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// mergeJSON applies the JSON merge patch (RFC 7386) patch to target and
// returns the result. Keys keep their order; new keys come last.
func mergeJSON(target, patch json.RawMessage) (json.RawMessage, error) {
	pm, ok := members(patch)
	if !ok {
		return patch, nil
	}
	tm, _ := members(target)
	for _, p := range pm {
		i := -1
		for j := range tm {
			if tm[j].key == p.key {
				i = j
				break
			}
		}
		if bytes.Equal(bytes.TrimSpace(p.value), []byte("null")) {
			if i >= 0 {
				tm = append(tm[:i], tm[i+1:]...)
			}
			continue
		}
		var cur json.RawMessage
		if i >= 0 {
			cur = tm[i].value
		}
		v, err := mergeJSON(cur, p.value)
		if err != nil {
			return nil, err
		}
		if i >= 0 {
			tm[i].value = v
		} else {
			tm = append(tm, member{p.key, v})
		}
	}
	return encodeMembers(tm), nil
}

// subkeysOf returns the structure of a JSON object: each key whose value
// is an object maps to that object's subkeys, every other key to null,
// down to depth levels (0: all).
func subkeysOf(data json.RawMessage, depth int) (json.RawMessage, error) {
	ms, ok := members(data)
	if !ok {
		return json.RawMessage("null"), nil
	}
	for i := range ms {
		sub := json.RawMessage("null")
		if _, isObj := members(ms[i].value); isObj && depth != 1 {
			var err error
			if sub, err = subkeysOf(ms[i].value, max(depth-1, 0)); err != nil {
				return nil, err
			}
		}
		ms[i].value = sub
	}
	return encodeMembers(ms), nil
}
