package loadgen_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/loadgen"
)

var body64 = []byte(`{"name":"read-me","version":1,"value":"0123456789abcdef0123456"}`)

// newServer starts an httptest server with h and counts the connections it
// accepts.
func newServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func get(t *testing.T, url string) func(worker, i int) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return func(int, int) *http.Request { return req }
}

func TestRun(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		if len(body64) != 64 {
			t.Fatalf("len(body64) = %d, want 64", len(body64))
		}
		var served atomic.Int64
		srv, conns := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			served.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Write(body64)
		})
		const c = 4
		res, err := loadgen.Run(context.Background(), loadgen.Config{
			Concurrency: c,
			Duration:    200 * time.Millisecond,
			Warmup:      50 * time.Millisecond,
			Request:     get(t, srv.URL+"/x"),
			Check: func(_ *http.Response, b []byte) error {
				if !bytes.Equal(b, body64) {
					return errors.New("wrong body")
				}
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Errors != 0 || res.FirstError != "" {
			t.Fatalf("got %+v, want requests and no errors", res)
		}
		if got, want := res.Elapsed, 200*time.Millisecond; got != want {
			t.Errorf("Elapsed = %v, want %v", got, want)
		}
		if want := float64(res.Requests) / 0.2; res.RPS != want {
			t.Errorf("RPS = %v, want %v", res.RPS, want)
		}
		if !(0 < res.P50 && res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.Max) {
			t.Errorf("percentiles out of order: %+v", res)
		}
		if res.Mean <= 0 || res.Mean > res.Max {
			t.Errorf("Mean = %v, want in (0, %v]", res.Mean, res.Max)
		}
		if got := served.Load(); got <= int64(res.Requests) {
			t.Errorf("server answered %d requests, counted %d: want the warmup's left out", got, res.Requests)
		}
		// A request may take a connection another worker just released while
		// its own dial is under way, so a few more than c can be opened.
		if got := conns.Load(); got > 2*c {
			t.Errorf("server saw %d connections, want at most %d (keep-alive)", got, 2*c)
		}
	})

	t.Run("ErrStatus", func(t *testing.T) {
		srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "nope", http.StatusTeapot)
		})
		res, err := loadgen.Run(context.Background(), loadgen.Config{
			Concurrency: 2,
			Duration:    50 * time.Millisecond,
			Request:     get(t, srv.URL+"/x"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Errors != res.Requests {
			t.Fatalf("got %d errors of %d requests, want all failed", res.Errors, res.Requests)
		}
		if !strings.Contains(res.FirstError, "status 418, want 200: nope") {
			t.Errorf("FirstError = %q, want the status and body", res.FirstError)
		}
		if res.RPS != 0 || res.P50 != 0 {
			t.Errorf("RPS, P50 = %v, %v, want 0, 0 (successes only)", res.RPS, res.P50)
		}
	})

	t.Run("ErrCheck", func(t *testing.T) {
		srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
		})
		var n atomic.Int64
		res, err := loadgen.Run(context.Background(), loadgen.Config{
			Concurrency: 2,
			Duration:    50 * time.Millisecond,
			Request:     get(t, srv.URL+"/x"),
			Expect:      http.StatusCreated,
			Check: func(*http.Response, []byte) error {
				if n.Add(1)%2 == 0 {
					return errors.New("every other one")
				}
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors == 0 || res.Errors == res.Requests {
			t.Fatalf("got %d errors of %d requests, want some", res.Errors, res.Requests)
		}
		if !strings.Contains(res.FirstError, "every other one") {
			t.Errorf("FirstError = %q", res.FirstError)
		}
	})

	t.Run("Body", func(t *testing.T) {
		var bad atomic.Int64
		srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			if string(b) != r.URL.Path {
				bad.Add(1)
			}
			w.WriteHeader(http.StatusCreated)
		})
		res, err := loadgen.Run(context.Background(), loadgen.Config{
			Concurrency: 3,
			Duration:    50 * time.Millisecond,
			Expect:      http.StatusCreated,
			Request: func(worker, i int) *http.Request {
				path := "/new-" + string(rune('a'+worker)) + "-" + time.Duration(i).String()
				req, _ := http.NewRequest("PUT", srv.URL+path, strings.NewReader(path))
				return req
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Errors != 0 {
			t.Fatalf("got %+v", res)
		}
		if got := bad.Load(); got != 0 {
			t.Errorf("server got %d wrong bodies", got)
		}
	})

	t.Run("ErrTransport", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		res, err := loadgen.Run(context.Background(), loadgen.Config{
			Concurrency: 1,
			Duration:    20 * time.Millisecond,
			Request:     get(t, "http://"+addr+"/"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors == 0 || res.FirstError == "" {
			t.Fatalf("got %+v, want connection errors", res)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		release := make(chan struct{})
		srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		defer close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := loadgen.Run(ctx, loadgen.Config{
			Concurrency: 2,
			Duration:    time.Minute,
			Request:     get(t, srv.URL+"/hang"),
		})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want %v", err, context.DeadlineExceeded)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Run took %v after its context ended", d)
		}
	})

	t.Run("ErrConfig", func(t *testing.T) {
		req := func(int, int) *http.Request { return nil }
		for name, cfg := range map[string]loadgen.Config{
			"Concurrency": {Duration: time.Second, Request: req},
			"Duration":    {Concurrency: 1, Request: req},
			"Warmup":      {Concurrency: 1, Duration: time.Second, Warmup: -1, Request: req},
			"Request":     {Concurrency: 1, Duration: time.Second},
		} {
			if _, err := loadgen.Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s: err = %v, want an error naming it", name, err)
			}
		}
	})
}
