// Package dotenv reads and writes the two file formats of 'coffer import'
// and 'coffer export': dotenv (KEY=value lines, see [Parse]) and a flat JSON
// object of string values (see [ParseJSON]). A parser reads a whole file and
// returns every entry or an error naming the line, so that an import writes
// nothing from a bad file.
//
// The shell-safety rule: [Write] writes a file that a POSIX shell can
// source (set -a; . ./file) without expanding or running anything, and that
// sets each variable to its value byte for byte. Plain values are written
// bare and every other value single-quoted; a key that is not a shell
// variable name ([IsShellName]) is written after ": ", so that a shell runs
// the no-op ':' instead of the line. What Write writes, Parse reads back
// exactly.
package dotenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Entry is one KEY=value of a file and the line it starts on (0 for an
// entry that was not read from a file).
type Entry struct {
	Key   string
	Value string
	Line  int
}

// Parse parses a dotenv file:
//
//	# a comment, and blank lines, are skipped
//	KEY=value                 # unquoted: trimmed; " #" starts a comment
//	export KEY=value          # "export " is allowed and ignored
//	KEY='single quoted'       # taken literally, may span lines
//	KEY='it'\''s'              # as in a shell: '\'' is a single quote
//	KEY="double \"quoted\"\n" # \n \r \t \" \\ are escapes, may span lines
//	: db/url='value'          # ": " is allowed and ignored: coffer export writes it
//	                          # before a name that is not a shell variable name
//
// A leading byte order mark is skipped. There is no ${VAR} interpolation. A
// key set twice is an error. checkKey, if not nil, checks each key: the error
// it returns (which must not quote a value) is the reason the file is refused,
// written as "line N: key "KEY": " and the error's text.
func Parse(data []byte, checkKey func(key string) error) ([]Entry, error) {
	p := &parser{s: string(bytes.TrimPrefix(data, []byte("\ufeff"))), line: 1, checkKey: checkKey}
	var out []Entry
	seen := map[string]int{}
	for {
		e, err := p.next()
		if err != nil {
			return nil, err
		} else if e == nil {
			return out, nil
		}
		if first, dup := seen[e.Key]; dup {
			return nil, fmt.Errorf("line %d: %s is already set on line %d", e.Line, e.Key, first)
		}
		seen[e.Key] = e.Line
		out = append(out, *e)
	}
}

type parser struct {
	s        string // the rest of the input
	line     int    // the line s starts on
	checkKey func(string) error
}

// next returns the next entry, or nil at the end.
func (p *parser) next() (*Entry, error) {
	for p.s != "" {
		p.s = strings.TrimLeft(p.s, " \t\r")
		if p.s == "" {
			break
		}
		switch p.s[0] {
		case '\n':
			p.advance(1)
			continue
		case '#':
			p.skipLine()
			continue
		}
		return p.entry()
	}
	return nil, nil
}

// entry parses KEY=value at the start of p.s.
func (p *parser) entry() (*Entry, error) {
	line := p.line
	eol := strings.IndexByte(p.s, '\n')
	if eol < 0 {
		eol = len(p.s)
	}
	eq := strings.IndexByte(p.s[:eol], '=')
	if eq < 0 {
		return nil, fmt.Errorf("line %d: want KEY=value", line)
	}
	key := strings.TrimSpace(p.s[:eq])
	if k, ok := strings.CutPrefix(key, "export"); ok && k != "" && (k[0] == ' ' || k[0] == '\t') {
		key = strings.TrimSpace(k)
	} else if k, ok := strings.CutPrefix(key, ":"); ok && k != "" && (k[0] == ' ' || k[0] == '\t') {
		key = strings.TrimSpace(k)
	}
	if err := refuseKey(p.checkKey, key); err != nil {
		return nil, fmt.Errorf("line %d: %w", line, err)
	}
	p.advance(eq + 1)
	spaced := p.s != "" && (p.s[0] == ' ' || p.s[0] == '\t') // so "KEY= # note" is empty
	p.s = strings.TrimLeft(p.s, " \t")

	e := &Entry{Key: key, Line: line}
	if p.s != "" && (p.s[0] == '"' || p.s[0] == '\'') {
		v, err := p.quoted(line)
		if err != nil {
			return nil, err
		}
		e.Value = v
		// Only spaces and a comment may follow the closing quote.
		rest, _, _ := strings.Cut(p.s, "\n")
		if r := strings.TrimSpace(rest); r != "" && r[0] != '#' {
			return nil, fmt.Errorf("line %d: unexpected text after the closing quote", p.line)
		}
		p.skipLine()
		return e, nil
	}
	v, _, _ := strings.Cut(p.s, "\n")
	for i := 0; i < len(v); i++ {
		if v[i] == '#' && (i == 0 && spaced || i > 0 && (v[i-1] == ' ' || v[i-1] == '\t')) {
			v = v[:i]
			break
		}
	}
	e.Value = strings.TrimSpace(v)
	p.skipLine()
	return e, nil
}

// quoted parses a quoted value at the start of p.s, up to its closing quote.
func (p *parser) quoted(line int) (string, error) {
	q := p.s[0]
	var b strings.Builder
	for i := 1; i < len(p.s); i++ {
		c := p.s[i]
		switch {
		case c == q && q == '\'' && strings.HasPrefix(p.s[i+1:], `\'`):
			// 'it'\''s' as in a shell: quotes escaped between two
			// single-quoted parts; the next part may be absent ('a'\').
			j := i + 1
			for strings.HasPrefix(p.s[j:], `\'`) {
				b.WriteByte('\'')
				j += 2
			}
			if j < len(p.s) && p.s[j] == '\'' {
				i = j // the reopening quote
				continue
			}
			p.advance(j)
			return b.String(), nil
		case c == q:
			p.advance(i + 1)
			return b.String(), nil
		case c == '\\' && q == '"' && i+1 < len(p.s):
			i++
			switch c = p.s[i]; c {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '"', '\\':
				b.WriteByte(c)
			default: // not an escape: keep it as written
				b.WriteByte('\\')
				i-- // the next byte is read again, as itself
			}
		default:
			b.WriteByte(c)
		}
	}
	kind := "double"
	if q == '\'' {
		kind = "single"
	}
	return "", fmt.Errorf("line %d: the %s-quoted value has no closing quote", line, kind)
}

// advance drops n bytes of input, counting the lines they end.
func (p *parser) advance(n int) {
	p.line += strings.Count(p.s[:n], "\n")
	p.s = p.s[n:]
}

// skipLine drops the rest of the current line and its newline.
func (p *parser) skipLine() {
	if i := strings.IndexByte(p.s, '\n'); i >= 0 {
		p.advance(i + 1)
	} else {
		p.s = ""
	}
}

// ParseJSON parses a flat JSON object of string values, keeping the file's
// order. Errors name the line. A key set twice, a value that is not a
// string and a file that is not valid UTF-8 are errors; checkKey checks each
// key as for [Parse].
func ParseJSON(data []byte, checkKey func(key string) error) ([]Entry, error) {
	lineAt := func(off int64) int { return 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n")) }
	if !utf8.Valid(data) {
		i := 0
		for i < len(data) {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return nil, fmt.Errorf("line %d: the file is not valid UTF-8", lineAt(int64(i)))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	fail := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("line %d: %v", lineAt(se.Offset), err)
		} else if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("line %d: unexpected end of the JSON file", lineAt(int64(len(data))))
		}
		return fmt.Errorf("line %d: %v", lineAt(dec.InputOffset()), err)
	}
	if tok, err := dec.Token(); err != nil {
		return nil, fail(err)
	} else if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("line %d: want a JSON object of names and string values", lineAt(dec.InputOffset()))
	}
	var out []Entry
	seen := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fail(err)
		}
		key := tok.(string) // object keys are always strings
		line := lineAt(dec.InputOffset())
		if err := refuseKey(checkKey, key); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		} else if first, dup := seen[key]; dup {
			return nil, fmt.Errorf("line %d: %s is already set on line %d", line, key, first)
		}
		seen[key] = line
		tok, err = dec.Token()
		if err != nil {
			return nil, fail(err)
		}
		v, ok := tok.(string)
		if !ok {
			if d, isDelim := tok.(json.Delim); isDelim && (d == '{' || d == '[') {
				return nil, fmt.Errorf("line %d: %s: nested objects and arrays are not allowed; values must be strings", line, key)
			}
			return nil, fmt.Errorf("line %d: %s: the value must be a string", line, key)
		}
		out = append(out, Entry{Key: key, Value: v, Line: line})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("line %d: unexpected data after the JSON object", lineAt(dec.InputOffset()))
	}
	return out, nil
}

// Write writes entries as dotenv, so that [Parse] reads them back exactly and
// so that a POSIX shell sourcing the file (set -a; . ./file) sets the same
// values and runs nothing: plain values bare, every other value in single
// quotes, inside which a shell expands nothing, with each single quote
// written as close, an escaped quote, reopen:
//
//	KEY='it'\''s $(not run)'
//
// A key that is not a shell variable name (db/url) cannot be assigned by a
// shell, which would run its line as a command; it is written after ": ", so
// that a shell runs the no-op builtin ':' with the line as its (unexpanded:
// names hold no special character, the value is single-quoted) arguments,
// dotenv loaders skip the line, and Parse reads it back:
//
//	: db/url='postgres://h/db'
//
// A value holding a NUL byte is written too (Parse reads it back), but no
// shell variable can hold it.
func Write(w io.Writer, entries []Entry) error {
	var b bytes.Buffer
	for _, e := range entries {
		if !IsShellName(e.Key) {
			b.WriteString(": ")
		}
		b.WriteString(e.Key)
		b.WriteByte('=')
		if isBare(e.Value) {
			b.WriteString(e.Value)
		} else {
			b.WriteByte('\'')
			b.WriteString(strings.ReplaceAll(e.Value, "'", `'\''`))
			b.WriteByte('\'')
		}
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}

// IsShellName reports whether key is a valid shell variable name (an ASCII
// letter or '_', then letters, digits and '_'), which a shell sourcing a
// dotenv file assigns rather than running the line as a command.
func IsShellName(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return key != ""
}

// isBare reports whether v can be written without quotes: only
// characters that neither the parser nor a shell treat specially.
func isBare(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_-./:@%+,=", c) >= 0) {
			return false
		}
	}
	return true
}

// WriteJSON writes entries as a flat JSON object, in their order, which
// [ParseJSON] reads back. Every value must be valid UTF-8: the error for one
// that is not names its key, never its value, and nothing is written.
func WriteJSON(w io.Writer, entries []Entry) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteString("{")
	for i, e := range entries {
		if !utf8.ValidString(e.Value) {
			return fmt.Errorf("%s holds binary data, which JSON cannot carry; use --format dotenv, or 'coffer secret get --raw'", e.Key)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n  ")
		enc.Encode(e.Key) // strings always encode; Encode adds a newline
		b.Truncate(b.Len() - 1)
		b.WriteString(": ")
		enc.Encode(e.Value)
		b.Truncate(b.Len() - 1)
	}
	if len(entries) > 0 {
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	_, err := w.Write(b.Bytes())
	return err
}

// refuseKey runs check on key, if check is set, and returns its refusal as
// `key "KEY": reason`.
func refuseKey(check func(string) error, key string) error {
	if check == nil {
		return nil
	} else if err := check(key); err != nil {
		return fmt.Errorf("key %q: %v", key, err)
	}
	return nil
}
