package main

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/coffer-dev/coffer/internal/servertest"
	"github.com/coffer-dev/coffer/server"
)

// Server is the server the tests start in-process.
type Server = server.Server

// startServer starts the real server in-process on a random port with a
// fresh data directory and returns its base URL and root token.
func startServer(t *testing.T, opts ...func(*ServerConfig)) (addr, token string) {
	t.Helper()
	s := mustOpenServer(t, t.TempDir(), opts...)
	return "http://" + s.Addr, s.RootToken
}

// mustOpenServer opens a server on dir; it is closed when the test ends.
func mustOpenServer(t *testing.T, dir string, opts ...func(*ServerConfig)) *Server {
	t.Helper()
	inDir := func(c *ServerConfig) { c.DataDir = dir }
	return servertest.Open(t, nil, append([]func(*ServerConfig){inDir}, opts...)...)
}

// testLogger logs to the test output when -v is given, else nowhere.
func testLogger(t *testing.T) *slog.Logger {
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
