package web_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/web"
)

// escaperCases are strings whose escaping differs between JSON encoders.
var escaperCases = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>",
	"\x00\x01\x07\b\f\n\r\t\x1f\x7f", "ü é 日本 🙂",
	"line\u2028separator\u2029paragraph", "\u2027\u202a",
	"bad \xff utf-8", "\xc3", "\xe2\x80", "\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 too big",
	"\xc0\xaf overlong", "\ufffd replacement itself",
}

func TestAppendString(t *testing.T) {
	for _, s := range escaperCases {
		checkAppendString(t, s)
	}
	var all strings.Builder
	for c := 0; c < 0x100; c++ {
		all.WriteByte(byte(c))
		checkAppendString(t, string(rune(c)))
		checkAppendString(t, string([]byte{byte(c)}))
	}
	checkAppendString(t, all.String())
}

func FuzzAppendString(f *testing.F) {
	for _, s := range escaperCases {
		f.Add(s)
	}
	f.Fuzz(checkAppendString)
}

func checkAppendString(t *testing.T, s string) {
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := web.AppendString([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
		t.Errorf("web.AppendString(%q):\n got %s\nwant %s", s, got[1:], want)
	}
}
