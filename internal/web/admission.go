package web

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Admission bounds the requests a server works on at once. A request takes
// one of its slots for as long as it is served; when all are taken it may
// wait a short while in a bounded queue, and beyond that it is refused at
// once, so that under overload the server answers the requests it admits
// in about the time it answers them unloaded, keeps its memory bounded and
// tells the others to come back later instead of letting every request
// slow down together.
type Admission struct {
	slots   chan struct{}
	timeout time.Duration
	// queue bounds the requests waiting for a slot; waiting counts them.
	queue   int64
	waiting atomic.Int64

	shed *prometheus.CounterVec
}

// NewAdmission returns an Admission of inflight slots, each request waiting
// at most timeout for one, and at most inflight requests waiting. It
// registers coffer_http_inflight_requests,
// coffer_http_queued_requests (gauges) and coffer_http_shed_total (refused
// requests by face) with reg.
func NewAdmission(inflight int, timeout time.Duration, reg prometheus.Registerer) *Admission {
	a := &Admission{
		slots:   make(chan struct{}, inflight),
		timeout: timeout,
		queue:   int64(inflight),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "coffer_http_shed_total", Help: "Requests refused with 503 because the server was at its in-flight limit, by face.",
		}, []string{"face"}),
	}
	reg.MustRegister(a.shed, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "coffer_http_inflight_requests", Help: "Requests being served now (of those the in-flight limit counts).",
	}, func() float64 { return float64(len(a.slots)) }), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "coffer_http_queued_requests", Help: "Requests waiting for an in-flight slot now.",
	}, func() float64 { return float64(a.Waiting()) }))
	return a
}

// Waiting returns the number of requests waiting for a slot.
func (a *Admission) Waiting() int { return int(min(a.waiting.Load(), a.queue)) }

// Acquire takes a slot, waiting for one at most the queue timeout (and not
// at all when the queue is full), and returns the function that gives it
// back. It reports false, with nothing to give back, when the request is to
// be refused, or when ctx ends while it waits.
func (a *Admission) Acquire(ctx context.Context) (release func(), ok bool) {
	select {
	case a.slots <- struct{}{}:
		return a.release, true
	default:
	}
	if a.timeout <= 0 || a.waiting.Add(1) > a.queue {
		if a.timeout > 0 {
			a.waiting.Add(-1)
		}
		return nil, false
	}
	defer a.waiting.Add(-1)
	t := time.NewTimer(a.timeout)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return a.release, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}

func (a *Admission) release() { <-a.slots }

// Shed counts a request of face that Acquire refused.
func (a *Admission) Shed(face string) { a.shed.WithLabelValues(face).Inc() }
