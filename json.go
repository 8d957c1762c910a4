package coffer

import (
	"encoding/json"
	"sort"
	"strconv"
	"sync/atomic"
	"time"
)

// AppendJSON appends the JSON form of the secret, byte for byte what
// encoding/json makes of it, without reflection: listings of thousands of
// secrets are encoded on a hot path.
func (s *Secret) AppendJSON(b []byte) []byte {
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

// JSON returns the page's JSON form (with a trailing newline). A page is not
// changed after it is made, so the encoding is made once and kept: a cached
// listing costs its encoding only once.
func (p *SecretPage) JSON() []byte {
	if b := p.enc.Load(); b != nil {
		return *b
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
		b = s.AppendJSON(b)
	}
	b = append(b, ']')
	if p.NextCursor != "" {
		b = append(b, `,"next_cursor":`...)
		b = appendString(b, p.NextCursor)
	}
	b = append(b, "}\n"...)
	p.enc.Store(&b)
	return b
}

// encCache memoizes an encoding; it is not part of the JSON form.
type encCache = atomic.Pointer[[]byte]

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

// appendString appends s as a JSON string, escaped as encoding/json does
// (HTML-safe, invalid UTF-8 replaced, U+2028 and U+2029 escaped).
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			q, _ := json.Marshal(s) // rare: fall back to the reference encoder
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
