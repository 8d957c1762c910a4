package service

import (
	"sync"
	"sync/atomic"
	"time"
)

// Failed authentications allowed per client address and per key id: a burst
// of failBurst, then one more every failRefill.
const (
	failBurst  = 10
	failRefill = 6 * time.Second
	maxBuckets = 100000
)

// failLimiter is a token bucket per key (an address or a key id) that only
// failed attempts drain. While a bucket is empty, failed attempts for its
// key are refused with ERATELIMIT and neither counted nor audited, so a
// flood of bad credentials cannot flood the audit log; valid credentials
// still pass (see Service.failed).
type failLimiter struct {
	n  atomic.Int64 // len(m): with no failure on record, wait takes no lock
	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// refill brings b up to date at now.
func (b *bucket) refill(now time.Time) {
	b.tokens += float64(now.Sub(b.last)) / float64(failRefill)
	if b.tokens > failBurst {
		b.tokens = failBurst
	}
	b.last = now
}

// wait returns how long an attempt for any of keys must wait (0: go ahead).
func (l *failLimiter) wait(now time.Time, keys ...string) time.Duration {
	if l.n.Load() == 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		b := l.m[k]
		if k == "" || b == nil {
			continue
		}
		b.refill(now)
		if b.tokens < 1 {
			wait = max(wait, time.Duration((1-b.tokens)*float64(failRefill)))
		}
	}
	return wait
}

// fail records a failed attempt for each of keys.
func (l *failLimiter) fail(now time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*bucket{}
	}
	if len(l.m) >= maxBuckets {
		for k, b := range l.m { // forget those that have forgiven
			if b.refill(now); b.tokens >= failBurst {
				delete(l.m, k)
			}
		}
		if len(l.m) >= maxBuckets {
			l.m = map[string]*bucket{}
		}
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		b := l.m[k]
		if b == nil {
			b = &bucket{tokens: failBurst, last: now}
			l.m[k] = b
		}
		b.refill(now)
		b.tokens--
	}
	l.n.Store(int64(len(l.m)))
}
