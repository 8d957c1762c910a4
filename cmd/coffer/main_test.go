package main

import (
	"log/slog"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/servertest"
	"github.com/coffer-dev/coffer/server"
)

// Server is the server the tests start in-process.
type Server = server.Server

// startServer starts the real server in-process on a random port with a
// fresh data directory and returns its base URL and root token.
func startServer(t *testing.T, opts ...func(*server.Config)) (addr, token string) {
	t.Helper()
	s := mustOpenServer(t, t.TempDir(), opts...)
	return "http://" + s.Addr, s.RootToken
}

// mustOpenServer opens a server on dir; it is closed when the test ends.
func mustOpenServer(t *testing.T, dir string, opts ...func(*server.Config)) *Server {
	t.Helper()
	inDir := func(c *server.Config) { c.DataDir = dir }
	return servertest.Open(t, nil, append([]func(*server.Config){inDir}, opts...)...)
}

// testLogger logs to the test output when -v is given, else nowhere.
func testLogger(t *testing.T) *slog.Logger { return servertest.Logger(nil) }

// accountOf returns the account of a key (servertest.AccountOf).
func accountOf(t *testing.T, base, token string) string {
	t.Helper()
	return servertest.AccountOf(t, base, token)
}

// flipLast returns tok with its last character changed (servertest.FlipLast).
func flipLast(tok string) string { return servertest.FlipLast(tok) }

// decodeCF decodes a Cloudflare face reply (servertest.DecodeCloudflare).
func decodeCF(t *testing.T, r reply) servertest.CloudflareReply {
	t.Helper()
	return servertest.DecodeCloudflare(t, r)
}

// strictish decodes a native reply, which has more fields than the test
// reads (servertest.Decode).
func strictish(t *testing.T, b []byte, v any) {
	t.Helper()
	servertest.Decode(t, b, v)
}

// chSigner signs Chutes requests with the vectors' hotkey
// (servertest.ChutesSigner).
type chSigner struct{ *servertest.ChutesSigner }

func newChSigner(t *testing.T) chSigner { return chSigner{servertest.NewChutesSigner(t)} }

// headers signs what for a request at time at.
func (s chSigner) headers(at time.Time, what string) []string { return s.Headers(at, what) }
