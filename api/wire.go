package api

import (
	"sort"
	"strconv"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// The native API writes its hottest responses (secret listings of thousands
// of secrets) with the hand-written encoders below instead of reflection.
// Each one makes, byte for byte, what encoding/json makes of the same value;
// wire_test.go holds them to it.

// appendSecret appends the JSON form of the secret.
func appendSecret(b []byte, s *coffer.Secret) []byte {
	b = append(b, `{"id":`...)
	b = web.AppendString(b, s.ID)
	b = append(b, `,"account_id":`...)
	b = web.AppendString(b, s.AccountID)
	b = append(b, `,"store_id":`...)
	b = web.AppendString(b, s.StoreID)
	b = append(b, `,"name":`...)
	b = web.AppendString(b, s.Name)
	b = append(b, `,"status":`...)
	b = web.AppendString(b, string(s.Status))
	if s.Comment != "" {
		b = append(b, `,"comment":`...)
		b = web.AppendString(b, s.Comment)
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
			b = web.AppendString(b, sc)
		}
		b = append(b, ']')
	}
	if len(s.Attributes) > 0 {
		b = append(b, `,"attributes":`...)
		b = appendMap(b, s.Attributes)
	}
	b = append(b, `,"origin":`...)
	b = web.AppendString(b, s.Origin)
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
	b = web.AppendString(b, s.CreatedBy)
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
		b = web.AppendString(b, p.NextCursor)
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
	b = web.AppendString(b, v.Name)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(v.Version), 10)
	b = append(b, `,"value":`...)
	b = web.AppendString(b, s)
	if enc != "" {
		b = append(b, `,"encoding":`...)
		b = web.AppendString(b, enc)
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
		b = web.AppendString(b, k)
		b = append(b, ':')
		b = web.AppendString(b, m[k])
	}
	return append(b, '}')
}
