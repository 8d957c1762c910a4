package web

import (
	"slices"
	"testing"
)

// TestFramingConn feeds streams of pipelined requests to the framing
// tracker, whole and one byte at a time, and checks the flag it records
// for each request: bodies (Content-Length and chunked, with extensions
// and trailers) that look like request heads are skipped, not read as
// heads.
func TestFramingConn(t *testing.T) {
	const (
		get      = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
		clte     = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
		tecl     = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n"
		http10te = "POST /a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	)
	// A body that holds an ambiguous head, as text.
	lenBody := "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: " + itoa(len(clte)) + "\r\n\r\n" + clte
	chunked := "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" +
		"5;ext=1\r\nabcde\r\n" + hexInt(len(clte)) + "\r\n" + clte + "\r\n0\r\nX-Trailer: Content-Length: 1\r\n\r\n"
	for _, tt := range []struct {
		name, stream string
		want         []bool
	}{
		{"Plain", get + get, []bool{false, false}},
		{"CLTE", get + clte + get, []bool{false, true}},
		{"TECL", tecl, []bool{true}},
		{"HTTP10TE", http10te, []bool{true}},
		{"LengthBody", lenBody + get, []bool{false, false}},
		{"ChunkedBody", chunked + get, []bool{false, false}},
		{"LeadingCRLF", "\r\n" + get, []bool{false}},
		{"OptionsStar", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" + get, []bool{false}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []bool{false, true} {
				c := &framingConn{}
				if split {
					for i := range len(tt.stream) {
						c.feed([]byte(tt.stream[i : i+1]))
					}
				} else {
					c.feed([]byte(tt.stream))
				}
				if !slices.Equal(c.flags, tt.want) {
					t.Errorf("split %v: got flags %v, want %v", split, c.flags, tt.want)
				}
			}
		})
	}
}

func itoa(n int) string   { return fmtInt(n, 10) }
func hexInt(n int) string { return fmtInt(n, 16) }

func fmtInt(n, base int) string {
	const digits = "0123456789abcdef"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= base {
		b = append([]byte{digits[n%base]}, b...)
	}
	return string(b)
}
