package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// benchSyncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type benchSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *benchSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *benchSyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBenchBare(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var stdout, stderr benchSyncBuffer
		env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
		code := make(chan int, 1)
		go func() { code <- Main(ctx, env, []string{"bench-bare", "--addr", "127.0.0.1:0"}) }()

		var addr string
		for deadline := time.Now().Add(10 * time.Second); addr == ""; {
			if _, a, ok := strings.Cut(stdout.String(), "listening on "); ok {
				addr = strings.TrimSpace(a)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("bench-bare did not start; stderr: %s", stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}

		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := resp.StatusCode, http.StatusOK; got != want {
			t.Errorf("status = %d, want %d", got, want)
		}
		if got, want := len(body), 64; got != want {
			t.Errorf("len(body) = %d, want %d", got, want)
		}
		if !json.Valid(body) {
			t.Errorf("body %q is not JSON", body)
		}
		if got, want := resp.Header.Get("Content-Type"), "application/json"; got != want {
			t.Errorf("Content-Type = %q, want %q", got, want)
		}

		cancel()
		select {
		case c := <-code:
			if c != 0 {
				t.Errorf("exit status = %d, want 0; stderr: %s", c, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("bench-bare did not stop when its context ended")
		}
	})

	t.Run("Hidden", func(t *testing.T) {
		var buf bytes.Buffer
		usage(&buf)
		if strings.Contains(buf.String(), "bench-bare") {
			t.Errorf("usage lists bench-bare:\n%s", buf.String())
		}
		if !strings.Contains(buf.String(), "bench ") {
			t.Errorf("usage does not list bench:\n%s", buf.String())
		}
	})
}

func TestParseBenchFlags(t *testing.T) {
	for _, tt := range []struct {
		name      string
		args      []string
		scenarios []string
		duration  time.Duration
		err       error
	}{
		{"OK", nil, []string{"bytenite", "chutes", "cloudflare", "create", "list", "login", "read", "truefoundry", "vault", "version"}, 5 * time.Second, nil},
		{"Some", []string{"--scenarios", "read, list", "--duration", "2s"}, []string{"list", "read"}, 2 * time.Second, nil},
		{"Help", []string{"--help"}, nil, 0, flag.ErrHelp},
		{"ErrScenario", []string{"--scenarios", "read,nope"}, nil, 0, exitError{2}},
		{"ErrDuration", []string{"--duration", "0s"}, nil, 0, exitError{2}},
		{"ErrArg", []string{"extra"}, nil, 0, exitError{2}},
		{"Servers", []string{"--scenarios", "read", "--database", "postgres://db/x", "--servers", "2"}, []string{"read"}, 5 * time.Second, nil},
		{"ErrServersWithoutDatabase", []string{"--servers", "2"}, nil, 0, exitError{2}},
		{"ErrServersTooMany", []string{"--database", "postgres://db/x", "--servers", "5"}, nil, 0, exitError{2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cfg, err := parseBenchFlags(&stderr, tt.args)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				if stderr.Len() == 0 {
					t.Errorf("nothing printed for %v", err)
				}
				return
			}
			var got []string
			for k := range cfg.Scenarios {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.scenarios) {
				t.Errorf("scenarios = %v, want %v", got, tt.scenarios)
			}
			if cfg.Duration != tt.duration {
				t.Errorf("duration = %v, want %v", cfg.Duration, tt.duration)
			}
		})
	}
}

func TestBenchHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	if got, want := Main(context.Background(), env, []string{"bench", "--help"}), 0; got != want {
		t.Fatalf("exit status = %d, want %d", got, want)
	}
	for _, want := range []string{"--duration", "--warmup", "--scenarios", "--keep", "root.token", "bench-bare", "VmHWM", "0.40x", "SIGTERM"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help does not mention %s", want)
		}
	}
}
