package web

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// FoldedField returns the byte offset and the key of the first object key
// in body that encoding/json would decode into a field of v's type only by
// matching its name case-insensitively ("Admin" for "admin"), or -1. Other
// parsers match names exactly, so such a key means a field to coffer and
// nothing (or another field) to a proxy in front; DecodeJSON refuses it as
// an unknown field. Keys of maps and the insides of values with their own
// decoding (json.Unmarshaler, json.RawMessage, any) are not checked. body
// must be a valid JSON text (call it after decoding).
func FoldedField(body []byte, v any) (int, string) {
	t := reflect.TypeOf(v)
	if t == nil {
		return -1, ""
	}
	p := caseParser{body: body, bad: -1}
	p.value(t)
	return p.bad, p.key
}

type caseParser struct {
	body  []byte
	i     int
	bad   int
	key   string
	found bool
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// typed reports whether values of t are decoded field by field, so that
// their keys are worth checking.
func typed(t reflect.Type) bool {
	if t == nil {
		return false
	}
	if v, ok := typedCache.Load(t); ok {
		return v.(bool)
	}
	ok := isTyped(t)
	typedCache.Store(t, ok)
	return ok
}

var typedCache sync.Map // reflect.Type -> bool

func isTyped(t reflect.Type) bool {
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return false
	}
	switch t.Kind() {
	case reflect.Struct:
		return !(t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType))
	case reflect.Map, reflect.Slice, reflect.Array:
		return true
	}
	return false
}

func (p *caseParser) ws() {
	for p.i < len(p.body) {
		switch p.body[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value parses the value at p.i as one of type t (nil: untyped).
func (p *caseParser) value(t reflect.Type) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if !typed(t) {
		t = nil
	}
	p.ws()
	if p.i >= len(p.body) || p.found {
		return
	}
	switch p.body[p.i] {
	case '{':
		p.object(t)
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		p.i++
		for {
			p.ws()
			if p.i >= len(p.body) || p.body[p.i] == ']' {
				p.i++
				return
			}
			before := p.i
			p.value(elem)
			if p.found {
				return
			}
			if p.i == before { // malformed: move on rather than loop
				p.i++
			}
			p.ws()
			if p.i < len(p.body) && p.body[p.i] == ',' {
				p.i++
			}
		}
	case '"':
		p.i = stringEnd(p.body, p.i) + 1
		if p.i == 0 {
			p.i = len(p.body)
		}
	default: // a number, true, false or null
	scan:
		for ; p.i < len(p.body); p.i++ {
			switch p.body[p.i] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				break scan
			}
		}
	}
}

// object parses the object at p.i as one of type t.
func (p *caseParser) object(t reflect.Type) {
	var fields map[string]reflect.Type
	var elem reflect.Type
	if t != nil && t.Kind() == reflect.Struct {
		fields = jsonFields(t)
	} else if t != nil && t.Kind() == reflect.Map {
		elem = t.Elem()
	}
	p.i++
	for {
		p.ws()
		if p.i >= len(p.body) || p.body[p.i] == '}' {
			p.i++
			return
		}
		start := p.i
		end := stringEnd(p.body, start)
		if end < 0 {
			p.i = len(p.body)
			return
		}
		p.i = end + 1
		p.ws()
		p.i++ // ':'
		vt := elem
		if fields != nil {
			raw := p.body[start+1 : end]
			ft, ok := fields[string(raw)]
			key := ""
			if !ok && bytes.IndexByte(raw, '\\') >= 0 {
				_ = json.Unmarshal(p.body[start:end+1], &key)
				ft, ok = fields[key]
			} else if !ok {
				key = string(raw)
			}
			if !ok {
				for name := range fields {
					if strings.EqualFold(name, key) {
						p.bad, p.key, p.found = start, key, true
						return
					}
				}
			}
			vt = ft
		}
		p.value(vt)
		if p.found {
			return
		}
		p.ws()
		if p.i < len(p.body) && p.body[p.i] == ',' {
			p.i++
		}
	}
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// jsonFields returns the JSON names of a struct's fields, as encoding/json
// names them (tags, promoted fields of embedded structs), with their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	addFields(m, t, 0)
	fieldCache.Store(t, m)
	return m
}

func addFields(m map[string]reflect.Type, t reflect.Type, depth int) {
	if depth > 8 {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(m, ft, depth+1)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, ok := m[name]; !ok {
			m[name] = f.Type
		}
	}
}
