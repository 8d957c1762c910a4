package chutes

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/web"
)

// Ids. Chutes' ids are UUIDs; coffer's are 32 lowercase hex digits, which
// the face shows as a dashed UUID and accepts in either form.

// dashed returns a 32-hex-digit id as a UUID: 8-4-4-4-12.
func dashed(id string) string {
	if len(id) != 32 {
		return id
	}
	return id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
}

// parseID returns the coffer id of a UUID (dashed or not, any case).
func parseID(s string) (string, bool) {
	if len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' {
		s = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	}
	s = strings.ToLower(s)
	return s, coffer.IsID(s)
}

// namespaceOID is Python's uuid.NAMESPACE_OID.
var namespaceOID = [16]byte{0x6b, 0xa7, 0xb8, 0x12, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// uuid5 returns RFC 4122's name-based SHA-1 UUID of name in the OID
// namespace, as 32 hex digits: Python's uuid.uuid5(uuid.NAMESPACE_OID, name).
func uuid5(name string) string {
	h := sha1.New()
	h.Write(namespaceOID[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return hex.EncodeToString(u[:])
}

// secretID is the id of an account's secret (purpose, key), derived as
// Chutes derives it: uuid5(NAMESPACE_OID, "<owner>:<purpose>:<key>"), with
// the account's id (as a dashed UUID) for the owner, because the account's
// one "chutes" store is where (purpose, key) is unique.
func secretID(accountID, purpose, key string) string {
	return uuid5(dashed(accountID) + ":" + purpose + ":" + key)
}

// timestamp formats a time as Chutes' naive UTC datetimes, the way pydantic
// serialises them: "2025-10-04T12:09:44.123456", without the fraction when
// it is zero, never with a zone.
func timestamp(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += "." + strconv.Itoa(1000000 + us)[1:]
	}
	return s
}

// page is Chutes' PaginatedResponse.
type page[T any] struct {
	Total    int  `json:"total"`
	Page     int  `json:"page"`
	Limit    int  `json:"limit"`
	Items    []T  `json:"items"`
	CordRefs *int `json:"cord_refs"` // always null here
}

// Pagination bounds. Chutes has no upper bound on limit; coffer serves at
// most MaxLimit items a page.
const (
	defaultLimit = 25
	MaxLimit     = coffer.MaxPageSize
)

// pageQuery is what a listing's query parameters ask for: page (0-based,
// default 0) and limit (default 25; 0 means 25, as at Chutes, though the
// reply repeats the 0; above MaxLimit, MaxLimit).
type pageQuery struct{ Page, Limit int }

// parsePage reads page and limit. A value that is not an integer, or
// negative, or a page beyond maxPage, is a 422 naming the parameter, as
// FastAPI answers; every problem is reported at once. A limit above
// MaxLimit is served as MaxLimit and answered as such, so that a client
// paging by the limit it is told neither skips nor repeats an item.
func parsePage(r *http.Request) (pageQuery, error) {
	q := r.URL.Query()
	var bad []Invalid
	num := func(name string, def, max int) int {
		vs, ok := q[name]
		if !ok {
			return def
		}
		v := vs[len(vs)-1] // Starlette reads the last one
		input, _ := json.Marshal(v)
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if errors.Is(err, strconv.ErrRange) {
			err = nil // an integer all the same (Python's have no bound): n is the nearest int
		}
		switch {
		case err != nil:
			bad = append(bad, Invalid{Type: "int_parsing", Loc: []any{"query", name}, Input: input,
				Msg: "Input should be a valid integer, unable to parse string as an integer"})
		case n < 0:
			bad = append(bad, Invalid{Type: "greater_than_equal", Loc: []any{"query", name}, Input: input,
				Msg: "Input should be greater than or equal to 0", Ctx: map[string]any{"ge": 0}})
		case n > max:
			bad = append(bad, Invalid{Type: "less_than_equal", Loc: []any{"query", name}, Input: input,
				Msg: "Input should be less than or equal to " + strconv.Itoa(max), Ctx: map[string]any{"le": max}})
		}
		return n
	}
	pq := pageQuery{Page: num("page", 0, maxPage), Limit: min(num("limit", defaultLimit, math.MaxInt), MaxLimit)}
	if bad != nil {
		return pageQuery{}, invalid(bad...)
	}
	return pq, nil
}

// maxPage bounds page so that page*limit cannot overflow.
const maxPage = 1 << 40

// paginate returns the page of items that q selects: past the end, no
// items, and total is always the count of all items.
func paginate[T any](q pageQuery, items []T) *page[T] {
	p := &page[T]{Total: len(items), Page: q.Page, Limit: q.Limit, Items: []T{}}
	limit := q.Limit
	if limit == 0 {
		limit = defaultLimit
	}
	if lo := q.Page * limit; lo < len(items) {
		p.Items = items[lo:min(lo+limit, len(items))]
	}
	return p
}

// Request bodies. FastAPI reads a route's one model parameter from the
// body: no body is "missing", a body that is not JSON is "json_invalid", a
// body of another content type or one that is not an object is
// "model_attributes_type", all 422. Then pydantic validates each field
// (unknown ones are ignored) and reports every problem at once. Inputs are
// echoed as pydantic does, except where they could hold a secret value.

const (
	msgMissing = "Field required"
	msgString  = "Input should be a valid string"
	msgObject  = "Input should be a valid dictionary or object to extract fields from"
	msgList    = "Input should be a valid list"
	msgBool    = "Input should be a valid boolean"
	msgBoolStr = "Input should be a valid boolean, unable to interpret input"
)

func invalid(items ...Invalid) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Invalid: items}
}

// readObject reads a request body (already bounded by authed) as a JSON
// object. Bad UTF-8 and unpaired surrogate escapes (web.PairedSurrogates),
// which encoding/json would turn into U+FFFD, are refused, and so is a key
// repeated in any object of the body (web.DuplicateKey): 400, as for a body
// that does not parse.
func readObject(r *http.Request) (map[string]json.RawMessage, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		return nil, invalid(Invalid{Type: "missing", Loc: []any{"body"}, Msg: msgMissing, Input: json.RawMessage("null")})
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
			return nil, invalid(Invalid{Type: "model_attributes_type", Loc: []any{"body"}, Msg: msgObject})
		}
	}
	if !utf8.Valid(body) || !web.PairedSurrogates(body) {
		return nil, &Error{Status: http.StatusBadRequest, Detail: "There was an error parsing the body"}
	}
	var syn *json.SyntaxError
	if err := json.Unmarshal(body, new(json.RawMessage)); errors.As(err, &syn) {
		pos, why := jsonProblem(body, syn)
		return nil, invalid(Invalid{Type: "json_invalid", Loc: []any{"body", pos}, Msg: "JSON decode error",
			Input: json.RawMessage("{}"), Ctx: map[string]any{"error": why}})
	} else if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, invalid(Invalid{Type: "json_invalid", Loc: []any{"body", utf8.RuneCount(body)}, Msg: "JSON decode error",
			Input: json.RawMessage("{}"), Ctx: map[string]any{"error": "Expecting value"}})
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, invalid(Invalid{Type: "model_attributes_type", Loc: []any{"body"}, Msg: msgObject})
	}
	if at := web.DuplicateKey(body); at >= 0 {
		return nil, &Error{Status: http.StatusBadRequest, Detail: coffer.ErrorMessage(web.ErrDuplicateKey(at))}
	}
	return m, nil
}

// jsonProblem returns where (in characters, as Python counts) and why, in
// Python's words, a body is not JSON.
func jsonProblem(body []byte, syn *json.SyntaxError) (int, string) {
	at := int(syn.Offset)
	msg := syn.Error()
	why := "Expecting value"
	switch {
	case strings.Contains(msg, "unexpected end"):
		at = len(body)
	case strings.HasSuffix(msg, "after top-level value"):
		why = "Extra data"
	case strings.HasSuffix(msg, "looking for beginning of object key string"):
		why = "Expecting property name enclosed in double quotes"
	case strings.HasSuffix(msg, "after object key"):
		why = "Expecting ':' delimiter"
	case strings.HasSuffix(msg, "after object key:value pair"), strings.HasSuffix(msg, "after array element"):
		why = "Expecting ',' delimiter"
	case strings.HasSuffix(msg, "in string literal"):
		why = "Invalid control character at"
	case strings.Contains(msg, "escape"):
		why = "Invalid \\escape"
	}
	if at > 0 && at <= len(body) && !strings.Contains(msg, "unexpected end") {
		at-- // Go counts the offending byte as read
	}
	return utf8.RuneCount(body[:min(at, len(body))]), why
}

// fields is a JSON object being validated as pydantic validates a model:
// each accessor records its field's problem and validation goes on, so that
// every problem is reported at once.
type fields struct {
	m   map[string]json.RawMessage
	loc []any
	bad *[]Invalid
}

func (f fields) at(name string) []any { return append(append([]any(nil), f.loc...), name) }

func (f fields) add(it Invalid) { *f.bad = append(*f.bad, it) }

// kind is the JSON kind of a raw value by its first byte.
func kind(raw json.RawMessage) byte {
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// str returns a required string field. The input is echoed in a problem
// only when echo is set.
func (f fields) str(name string, echo bool) (string, bool) {
	raw, ok := f.m[name]
	if !ok {
		f.add(Invalid{Type: "missing", Loc: f.at(name), Msg: msgMissing})
		return "", false
	}
	return f.asString(name, raw, echo)
}

// optStr returns an optional string field: nil when absent or null.
func (f fields) optStr(name string) (*string, bool) {
	raw, ok := f.m[name]
	if !ok || kind(raw) == 'n' {
		return nil, true
	}
	s, ok := f.asString(name, raw, true)
	return &s, ok
}

func (f fields) asString(name string, raw json.RawMessage, echo bool) (string, bool) {
	var s string
	if kind(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		it := Invalid{Type: "string_type", Loc: f.at(name), Msg: msgString}
		if echo {
			it.Input = raw
		}
		f.add(it)
		return "", false
	}
	return s, true
}

// boolean returns a required boolean field, read as pydantic's lax mode
// reads one: JSON booleans, the numbers 0 and 1, and the strings it knows.
func (f fields) boolean(name string) (bool, bool) {
	raw, ok := f.m[name]
	if !ok {
		f.add(Invalid{Type: "missing", Loc: f.at(name), Msg: msgMissing})
		return false, false
	}
	switch kind(raw) {
	case 't':
		return true, true
	case 'f':
		return false, true
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		switch strings.ToLower(s) {
		case "1", "on", "t", "true", "y", "yes":
			return true, true
		case "0", "off", "f", "false", "n", "no":
			return false, true
		}
	case 'n', '[', '{':
		f.add(Invalid{Type: "bool_type", Loc: f.at(name), Msg: msgBool, Input: raw})
		return false, false
	default:
		if n, err := strconv.ParseFloat(string(raw), 64); err == nil && (n == 0 || n == 1) {
			return n == 1, true
		}
	}
	f.add(Invalid{Type: "bool_parsing", Loc: f.at(name), Msg: msgBoolStr, Input: raw})
	return false, false
}

// String checks: Chutes' own fields are plain strings; coffer needs bounds
// and, for the parts of a secret's name, its name characters.

// checkLen records a string that is empty or longer than max characters.
func (f fields) checkLen(name, s string, max int) bool {
	input, _ := json.Marshal(s)
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		f.add(Invalid{Type: "string_too_short", Loc: f.at(name), Msg: "String should have at least 1 character",
			Input: input, Ctx: map[string]any{"min_length": 1}})
		return false
	case n > max:
		f.add(Invalid{Type: "string_too_long", Loc: f.at(name), Msg: "String should have at most " + strconv.Itoa(max) + " characters",
			Input: input, Ctx: map[string]any{"max_length": max}})
		return false
	}
	return true
}

// checkPattern records a string that ok refuses, as a mismatch of pattern
// (the regular expression that ok implements).
func (f fields) checkPattern(name, s, pattern string, ok func(string) bool) bool {
	if ok(s) {
		return true
	}
	input, _ := json.Marshal(s)
	f.add(Invalid{Type: "string_pattern_mismatch", Loc: f.at(name), Msg: "String should match pattern '" + pattern + "'",
		Input: input, Ctx: map[string]any{"pattern": pattern}})
	return false
}
