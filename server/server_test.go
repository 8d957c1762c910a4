package server_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/server"
)

// testConfig is the default configuration on a free loopback port and a
// fresh data directory.
func testConfig(t *testing.T) server.Config {
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	return cfg
}

// TestOpenClose checks that a first start saves the root token and that
// Close stops the listener.
func TestOpenClose(t *testing.T) {
	s := &server.Server{Config: testConfig(t)}
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(s.Config.DataDir, "root.token"))
	if err != nil || s.RootToken == "" || strings.TrimSpace(string(b)) != s.RootToken {
		t.Errorf("root.token: got %q, %v; want the root token", b, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		c.Close()
		t.Errorf("dial %s after Close: got a connection, want refused", s.Addr)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
}

// TestOpenFailsClean checks that an Open failing after it began to listen
// releases the listener and the database, so that the same configuration
// opens afterwards.
func TestOpenFailsClean(t *testing.T) {
	cfg := testConfig(t)
	cfg.DebugAddr = "192.0.2.1:0" // not loopback: refused after the main listener is open
	s := &server.Server{Config: cfg}
	err := s.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "--debug-addr") {
		t.Fatalf("Open: got %v, want the --debug-addr error", err)
	}
	if s.Addr == "" {
		t.Fatal("Open failed before listening; the test needs a later failure")
	}
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		c.Close()
		t.Errorf("dial %s after a failed Open: got a connection, want the listener closed", s.Addr)
	}
	cfg.DebugAddr = ""
	again := &server.Server{Config: cfg}
	if err := again.Open(context.Background()); err != nil {
		t.Fatalf("Open after a failed Open: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}
