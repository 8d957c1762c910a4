package api

import (
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
)

// The native API writes its hottest responses (secret listings of thousands
// of secrets) with the hand-written encoders below instead of reflection.
// Each one makes, byte for byte, what encoding/json makes of the same value;
// wire_test.go holds them to it.

// appendSecret appends the JSON form of the secret.
func appendSecret(b []byte, s *coffer.Secret) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, s.ID)
	b = append(b, `,"account_id":`...)
	b = appendString(b, s.AccountID)
	b = append(b, `,"store_id":`...)
	b = appendString(b, s.StoreID)
	b = append(b, `,"name":`...)
	b = appendString(b, s.Name)
	b = append(b, `,"status":`...)
	b = appendString(b, string(s.Status))
	if s.Comment != "" {
		b = append(b, `,"comment":`...)
		b = appendString(b, s.Comment)
	}
	if len(s.Labels) > 0 {
		b = append(b, `,"labels":`...)
		b = appendMap(b, s.Labels)
	}
	if len(s.Scopes) > 0 {
		b = append(b, `,"scopes":[`...)
		for i, sc := range s.Scopes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, sc)
		}
		b = append(b, ']')
	}
	if len(s.Attributes) > 0 {
		b = append(b, `,"attributes":`...)
		b = appendMap(b, s.Attributes)
	}
	b = append(b, `,"origin":`...)
	b = appendString(b, s.Origin)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(s.Version), 10)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, s.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, s.UpdatedAt)
	if s.DeletedAt != nil {
		b = append(b, `,"deleted_at":`...)
		b = appendTime(b, *s.DeletedAt)
	}
	if s.ExpiresAt != nil {
		b = append(b, `,"expires_at":`...)
		b = appendTime(b, *s.ExpiresAt)
	}
	b = append(b, `,"created_by":`...)
	b = appendString(b, s.CreatedBy)
	return append(b, '}')
}

// secretPageJSON returns the page's JSON form (with a trailing newline). A
// page is not changed after it is made, so the encoding is made once and
// kept in the page's Memo: a cached listing costs its encoding only once.
func secretPageJSON(p *coffer.SecretPage) []byte {
	if b := p.Memo.Load(); b != nil {
		return b
	}
	n := 32
	for _, s := range p.Secrets {
		n += 320 + len(s.Name) + len(s.Comment)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"secrets":[`...)
	for i, s := range p.Secrets {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSecret(b, s)
	}
	b = append(b, ']')
	if p.NextCursor != "" {
		b = append(b, `,"next_cursor":`...)
		b = appendString(b, p.NextCursor)
	}
	b = append(b, "}\n"...)
	p.Memo.Store(b)
	return b
}

// appendValue appends the wire form of a value (see coffer.Value) and a
// newline.
func appendValue(b []byte, v *coffer.Value) []byte {
	s, enc := coffer.EncodeValue(v.Data)
	b = append(b, `{"name":`...)
	b = appendString(b, v.Name)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(v.Version), 10)
	b = append(b, `,"value":`...)
	b = appendString(b, s)
	if enc != "" {
		b = append(b, `,"encoding":`...)
		b = appendString(b, enc)
	}
	return append(b, "}\n"...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

// plain tells the bytes that appendString copies as they are: ASCII but
// control characters, '"', '\\', '<', '>' and '&'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string, escaped as encoding/json escapes
// it: HTML-safe (<, >, & as \u003c, \u003e, \u0026), control characters as
// \n, \r, \t, \b, \f or \u00XX, U+2028 and U+2029 as \u2028 and \u2029, and
// each byte of invalid UTF-8 replaced by \ufffd.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
