// Package servertest starts the real coffer server in-process for tests,
// on a free loopback port over a fresh data directory, and drives its HTTP
// APIs with plain requests, as any client would.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/server"
)

// Open starts a server with the default configuration, changed by each of
// mods, on 127.0.0.1:0 and a temporary data directory; it is closed when
// tb ends. Its log goes to logs (nil: nowhere), and to stderr with -v.
func Open(tb testing.TB, logs io.Writer, mods ...func(*server.Config)) *server.Server {
	tb.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", tb.TempDir()
	for _, m := range mods {
		m(&cfg)
	}
	s := &server.Server{Config: cfg, Log: Logger(logs)}
	if err := s.Open(context.Background()); err != nil {
		tb.Fatalf("open server: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close server: %v", err)
		}
	})
	return s
}

// Client sends requests to Base, with Token as a bearer token when set.
type Client struct {
	T     testing.TB
	Base  string
	Token string
}

// Reply is a response, read whole.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the reply body into a generic map for assertions.
func (r Reply) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("reply %d is not a JSON object: %q", r.Status, r.Body)
	}
	return m
}

// Code returns the error code of a native API error reply.
func (r Reply) Code(t testing.TB) string {
	t.Helper()
	e, _ := r.JSON(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// Do sends one request: body is nil, a string, bytes or a value to encode
// as JSON; hdr are header names and values, in pairs.
func (c *Client) Do(method, path string, body any, hdr ...string) Reply {
	c.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.T.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		c.T.Fatal(err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.T.Fatal(err)
	}
	return Reply{resp.StatusCode, resp.Header, b}
}

// Must fails the test unless the reply has the wanted status.
func (c *Client) Must(want int, method, path string, body any, hdr ...string) Reply {
	c.T.Helper()
	r := c.Do(method, path, body, hdr...)
	if r.Status != want {
		c.T.Fatalf("%s %s: got %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	return r
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers,
// such as a server's log read by the test that runs it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Strict decodes b into v, refusing fields v does not declare: a face that
// sends a field its provider does not fails the test.
func Strict(t testing.TB, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// Must returns v, or panics with err.
func Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Value returns the value and version of a native API value reply.
func Value(t testing.TB, r Reply) (string, float64) {
	t.Helper()
	m := r.JSON(t)
	v, _ := m["value"].(string)
	n, _ := m["version"].(float64)
	return v, n
}
