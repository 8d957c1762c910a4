// Package loadgen is a closed-loop HTTP/1.1 load generator for benchmarks.
//
// Run starts Concurrency workers. Each sends a request, reads the whole reply,
// and sends the next one at once, over its own keep-alive connection, for
// Warmup plus Duration. Only the replies that arrive within the Duration
// after the warmup are counted, so the result describes the steady state.
//
// The generator is meant to share a machine with the server it measures, so
// it spends as little as it can per request: one shared http.Transport, one
// reusable body buffer and one latency histogram per worker, no lock and no
// allocation of its own on the request path.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Config describes one run.
type Config struct {
	// Concurrency is the number of workers, each with one request in flight.
	Concurrency int
	// Duration is how long replies are counted, after Warmup.
	Duration time.Duration
	// Warmup is how long requests are sent before counting starts, to open
	// connections and warm caches.
	Warmup time.Duration
	// Request returns the i'th request (0, 1, ...) of a worker (0 to
	// Concurrency-1). It is called concurrently by different workers. A
	// request without a body may be built once and returned every time, even
	// to several workers: Run sends a shallow copy of it, carrying the run's
	// context, and neither Run nor the Transport modifies it.
	Request func(worker, i int) *http.Request
	// Expect is the status code of a successful reply; 0 means 200.
	Expect int
	// Check, if set, is called with each reply that has the expected status
	// and its whole body (valid only during the call). A non-nil error counts
	// the request as failed. It runs on the request path: keep it cheap.
	Check func(resp *http.Response, body []byte) error
	// Transport, if set, is used instead of a transport of Run's own. It
	// should allow Concurrency idle connections per host.
	Transport http.RoundTripper
	// Timeout bounds the wait for a reply's headers; 0 means 30 seconds.
	// It applies only to the transport Run makes itself.
	Timeout time.Duration
}

// Result is what a run measured: the replies that arrived within the counted
// Duration. Latencies are those of the successful requests, measured from
// just before sending a request to having read its whole body, and are exact
// to within 0.8%.
type Result struct {
	Requests   int           // replies counted, successful or not
	Errors     int           // counted requests that failed: transport error, unexpected status, failed Check
	FirstError string        // text of the first failure of the run, warmup included; "" if none
	Elapsed    time.Duration // the counted time: Duration, or less if the run was cancelled
	RPS        float64       // successful requests per second of Elapsed
	Mean       time.Duration
	P50        time.Duration
	P90        time.Duration
	P99        time.Duration
	Max        time.Duration
}

// NewTransport returns an http.Transport for n concurrent keep-alive
// connections to one host, without compression or HTTP/2.
func NewTransport(n int, timeout time.Duration) *http.Transport {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &http.Transport{
		Proxy:                 nil, // measure the server, not a proxy named in the environment
		MaxIdleConns:          0,   // no limit
		MaxIdleConnsPerHost:   max(n, 1),
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: timeout,
		ForceAttemptHTTP2:     false,
	}
}

// worker is the state one worker owns; nothing in it is shared until the run
// ends.
type worker struct {
	hist     histogram
	requests int
	errors   int
	firstErr error
	firstAt  time.Time
	buf      bytes.Buffer
}

// Run sends requests as Config describes until Warmup plus Duration has
// passed or ctx ends, and returns what it measured. Requests in flight at the
// end are completed but not counted. It returns an error if the Config is
// invalid, or ctx's error, with what was measured so far, if ctx ended first.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Concurrency < 1 {
		return Result{}, errors.New("loadgen: Concurrency must be at least 1")
	}
	if cfg.Duration <= 0 {
		return Result{}, errors.New("loadgen: Duration must be positive")
	}
	if cfg.Warmup < 0 {
		return Result{}, errors.New("loadgen: Warmup must not be negative")
	}
	if cfg.Request == nil {
		return Result{}, errors.New("loadgen: Request is nil")
	}
	if cfg.Expect == 0 {
		cfg.Expect = http.StatusOK
	}
	rt := cfg.Transport
	if rt == nil {
		t := NewTransport(cfg.Concurrency, cfg.Timeout)
		defer t.CloseIdleConnections()
		rt = t
	}

	// Requests carry runCtx, so that a cancelled run does not wait for
	// replies. A run that ends normally does not cancel it: in-flight
	// requests complete, and their connections stay reusable.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	start := time.Now()
	countFrom := start.Add(cfg.Warmup)
	countTo := countFrom.Add(cfg.Duration)
	workers := make([]worker, cfg.Concurrency)
	var wg sync.WaitGroup
	for id := range workers {
		wg.Go(func() { workers[id].run(runCtx, rt, &cfg, id, countFrom, countTo) })
	}
	wg.Wait()
	end := time.Now()
	if end.After(countTo) {
		end = countTo
	}

	var res Result
	var h histogram
	var firstAt time.Time
	for i := range workers {
		w := &workers[i]
		h.merge(&w.hist)
		res.Requests += w.requests
		res.Errors += w.errors
		if w.firstErr != nil && (firstAt.IsZero() || w.firstAt.Before(firstAt)) {
			firstAt, res.FirstError = w.firstAt, w.firstErr.Error()
		}
	}
	res.Elapsed = max(end.Sub(countFrom), 0)
	if res.Elapsed > 0 {
		res.RPS = float64(res.Requests-res.Errors) / res.Elapsed.Seconds()
	}
	if h.n > 0 {
		res.Mean = h.sum / time.Duration(h.n)
	}
	res.P50, res.P90, res.P99, res.Max = h.quantile(0.50), h.quantile(0.90), h.quantile(0.99), h.max
	return res, ctx.Err()
}

func (w *worker) run(ctx context.Context, rt http.RoundTripper, cfg *Config, id int, countFrom, countTo time.Time) {
	for i := 0; ctx.Err() == nil; i++ {
		req := cfg.Request(id, i)
		t0 := time.Now()
		err := w.do(rt, req.WithContext(ctx), cfg)
		t1 := time.Now()
		if t1.After(countTo) {
			return
		}
		if err != nil && w.firstErr == nil && ctx.Err() == nil {
			w.firstErr, w.firstAt = err, t1
		}
		if t1.Before(countFrom) {
			continue
		}
		w.requests++
		if err != nil {
			w.errors++
			continue
		}
		w.hist.record(t1.Sub(t0))
	}
}

// do sends req and reads the whole reply into w.buf, so the connection can
// be reused, and checks it.
func (w *worker) do(rt http.RoundTripper, req *http.Request, cfg *Config) error {
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return err
	}
	w.buf.Reset()
	_, err = w.buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != cfg.Expect {
		if w.firstErr != nil {
			return errStatus // only the first error's text is kept: do not format the others
		}
		return fmt.Errorf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, resp.StatusCode, cfg.Expect, snippet(w.buf.Bytes()))
	}
	if cfg.Check != nil {
		if err := cfg.Check(resp, w.buf.Bytes()); err != nil {
			return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
		}
	}
	return nil
}

var errStatus = errors.New("unexpected status")

// snippet returns the start of a reply body for an error message.
func snippet(b []byte) string {
	const n = 200
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
