package web

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// TestErrorLogsUnavailableCause checks that a storage failure's cause
// reaches the operator's log, once a second at most, while the caller
// sees only the public message; and that a bare unavailable error (a
// closed database, a shed request) is not logged.
func TestErrorLogsUnavailableCause(t *testing.T) {
	var logs bytes.Buffer
	f := &Face{Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Errors: func(code, message string) Renderer { return testError{code, message} }}
	unavailableLog = logSpacer{}
	cause := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	err := fmt.Errorf("read secret: %w (%w)", &coffer.Error{Code: coffer.EUNAVAILABLE, Message: "database is unavailable"}, cause)
	for range 3 {
		w := httptest.NewRecorder()
		f.Error(w, httptest.NewRequest("GET", "/", nil), err)
		if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "refused") {
			t.Fatalf("reply %d %q: want 503 without the cause", w.Code, w.Body)
		}
	}
	if n := strings.Count(logs.String(), "connection refused"); n != 1 {
		t.Fatalf("log lines with the cause: %d, want 1 (then suppressed):\n%s", n, logs.String())
	}
	logs.Reset()
	unavailableLog.last.Store(time.Now().Add(-2 * time.Second).UnixNano())
	f.Error(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), err)
	if !strings.Contains(logs.String(), "suppressed=2") {
		t.Fatalf("log after a second: %q, want the cause and suppressed=2", logs.String())
	}
	logs.Reset()
	unavailableLog = logSpacer{}
	f.Error(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), coffer.Errorf(coffer.EUNAVAILABLE, "database is closed"))
	if logs.Len() != 0 {
		t.Fatalf("a bare unavailable error was logged: %q", logs.String())
	}
}

// testError renders itself as the status of its code and "code: message".
type testError struct{ code, message string }

func (e testError) Error() string { return e.code + ": " + e.message }

func (e testError) Render(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(Status(e.code))
	fmt.Fprint(w, e.code, ": ", e.message)
}

// TestPairedSurrogates checks the escape scan that keeps encoding/json from
// replacing an unpaired surrogate escape with U+FFFD.
func TestPairedSurrogates(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		want       bool
	}{
		{"OK", `{"v":"plain"}`, true},
		{"ValidPair", `{"v":"a\ud83d\ude00b"}`, true},
		{"ValidPairUpper", `{"v":"\uD83D\uDE00"}`, true},
		{"OrdinaryEscapes", `{"v":"\u00e9\n\"\\\/\u20ac"}`, true},
		{"EscapedBackslashBeforeU", `{"v":"\\ud800"}`, true},
		{"EscapedBackslashBeforeLow", `{"v":"\\udc00"}`, true},
		{"LoneHigh", `{"v":"a\ud800b"}`, false},
		{"LoneLow", `{"v":"a\udc00b"}`, false},
		{"ReversedPair", `{"v":"\ude00\ud83d"}`, false},
		{"HighThenOrdinaryEscape", `{"v":"\ud800\u0041"}`, false},
		{"HighThenOtherEscape", `{"v":"\ud800\n"}`, false},
		{"HighThenHigh", `{"v":"\ud800\ud800\udc00"}`, false},
		{"HighAtEndOfString", `{"v":"\ud800"}`, false},
		{"HighAtEndOfBody", `"\ud800`, false},
		{"HighInKey", `{"\udbff":"v"}`, false},
		{"BackslashThenLow", `{"v":"\\\udc00"}`, false},
		{"ShortEscape", `{"v":"\ud8"}`, true}, // not an escape of four digits: decoding refuses it
		{"TrailingBackslash", `\`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := PairedSurrogates([]byte(tt.body)); got != tt.want {
				t.Fatalf("PairedSurrogates(%s) = %v, want %v", tt.body, got, tt.want)
			}
		})
	}
}

// TestDecodeJSONSurrogates checks that DecodeJSON refuses an unpaired
// surrogate escape (EINVALID) rather than decode it as U+FFFD, and decodes
// a pair as its character.
func TestDecodeJSONSurrogates(t *testing.T) {
	decode := func(body string) (string, error) {
		var v struct{ V string }
		err := DecodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(body)), 1<<10, &v)
		return v.V, err
	}
	for _, body := range []string{`{"V":"a\ud800b"}`, `{"V":"\udc00"}`, `{"V":"\ud800\u0041"}`} {
		if v, err := decode(body); coffer.ErrorCode(err) != coffer.EINVALID {
			t.Errorf("DecodeJSON(%s) = %q, %v; want EINVALID", body, v, err)
		}
	}
	if v, err := decode(`{"V":"\ud83d\ude00 \\ud800"}`); err != nil || v != "\U0001F600 \\ud800" {
		t.Fatalf("DecodeJSON of a pair = %q, %v; want %q", v, err, "\U0001F600 \\ud800")
	}
}

// TestPairedSurrogatesAllocs checks that the scan, which runs on every
// request body, allocates nothing.
func TestPairedSurrogatesAllocs(t *testing.T) {
	body := []byte(`[{"name":"A","value":"x\ud83d\ude00\n\\ud800","scopes":["workers"]}]`)
	if n := testing.AllocsPerRun(100, func() { PairedSurrogates(body) }); n != 0 {
		t.Fatalf("PairedSurrogates allocates %v times, want 0", n)
	}
}

func BenchmarkPairedSurrogates(b *testing.B) {
	body := []byte(`[{"name":"API_KEY","value":"` + strings.Repeat(`abc\n\u00e9\ud83d\ude00`, 1000) + `","scopes":["workers"]}]`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		PairedSurrogates(body)
	}
}

// TestDecodeJSONTrailing checks that a body holds exactly one value: a
// second value or any stray character after it is refused, white space is
// not.
func TestDecodeJSONTrailing(t *testing.T) {
	decode := func(body string) error {
		var v struct{ V string }
		return DecodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(body)), 1<<10, &v)
	}
	for _, body := range []string{`{"V":"a"}]`, `{"V":"a"}}`, `{"V":"a"} {"V":"b"}`, `{"V":"a"} x`, `{"V":"a"},`} {
		if err := decode(body); coffer.ErrorCode(err) != coffer.EINVALID {
			t.Errorf("DecodeJSON(%s) = %v; want EINVALID", body, err)
		}
	}
	if err := decode("{\"V\":\"a\"} \r\n\t "); err != nil {
		t.Errorf("DecodeJSON with trailing white space: %v", err)
	}
}
