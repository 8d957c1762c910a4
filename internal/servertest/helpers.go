package servertest

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// Logger returns a debug-level JSON logger writing to logs (nil: nowhere),
// and to stderr with -v, as Open's server logs.
func Logger(logs io.Writer) *slog.Logger {
	w := io.Discard
	switch {
	case logs != nil && testing.Verbose():
		w = io.MultiWriter(logs, os.Stderr)
	case logs != nil:
		w = logs
	case testing.Verbose():
		w = os.Stderr
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// AccountOf returns the account of a key, from the native key listing at
// base.
func AccountOf(t testing.TB, base, token string) string {
	t.Helper()
	a := &Client{T: t, Base: base, Token: token}
	var keys struct {
		Keys []struct {
			AccountID string `json:"account_id"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(a.Must(200, "GET", "/v1/keys", nil).Body, &keys); err != nil || len(keys.Keys) == 0 {
		t.Fatalf("list keys: %v", err)
	}
	return keys.Keys[0].AccountID
}

// FlipLast returns tok with its last character changed: well formed, but
// not the token.
func FlipLast(tok string) string {
	last := "a"
	if strings.HasSuffix(tok, "a") {
		last = "b"
	}
	return tok[:len(tok)-1] + last
}

// CloudflareReply is the envelope of a Cloudflare face response.
type CloudflareReply struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Messages   []any           `json:"messages"`
	Result     json.RawMessage `json:"result"`
	ResultInfo *struct {
		TotalCount int `json:"total_count"`
	} `json:"result_info"`
}

// DecodeCloudflare decodes a Cloudflare face reply, failing the test
// unless it is an envelope with errors and messages.
func DecodeCloudflare(t testing.TB, r Reply) CloudflareReply {
	t.Helper()
	var e CloudflareReply
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("reply %d is not an envelope: %q", r.Status, r.Body)
	}
	if e.Errors == nil || e.Messages == nil {
		t.Fatalf("reply %d lacks errors or messages: %s", r.Status, r.Body)
	}
	return e
}

// Decode decodes b into v, failing the test if it is not JSON; unlike
// Strict, it allows fields v does not declare (native replies have more
// than a test reads).
func Decode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}
