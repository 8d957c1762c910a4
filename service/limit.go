package service

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer"
)

// Failed authentications allowed per client address and per key id: a burst
// of failBurst, then one more every failRefill. The addresses of one /24
// (IPv4) or /64 (IPv6) network share a larger budget as well, so that a
// client holding many addresses (all of 127.0.0.0/8, an IPv6 /64) gets no
// more than a few times one address's share.
const (
	failBurst    = 10
	failRefill   = 6 * time.Second
	prefixBurst  = 3 * failBurst
	prefixRefill = failRefill / 3
	maxBuckets   = 100000
)

// Failed authentications audited per account (the key's account, or the
// operator's for unknown keys): a burst of auditBurst, then one more every
// auditRefill. Past that, failures are still refused and counted, and the
// next audited failure is preceded by an auth.fail.unaudited event that
// says how many were not audited one by one.
const (
	auditBurst  = 100
	auditRefill = time.Second
)

// budget is a token bucket's size and refill interval.
type budget struct {
	burst  float64
	refill time.Duration
}

// budgetOf is the budget of a limiter key: a network prefix ("a.b.c.0/24")
// has the larger one.
func budgetOf(key string) budget {
	if strings.IndexByte(key, '/') >= 0 {
		return budget{prefixBurst, prefixRefill}
	}
	return budget{failBurst, failRefill}
}

// failLimiter is a token bucket per key (an address, its network, or a key
// id) that only failed attempts drain. While a bucket is empty, failed
// attempts for its key are refused with ERATELIMIT and neither counted nor
// audited, so a flood of bad credentials cannot flood the audit log; valid
// credentials still pass (see Service.failed).
type failLimiter struct {
	n  atomic.Int64 // len(m): with no failure on record, wait takes no lock
	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
	budget budget
}

// refill brings b up to date at now.
func (b *bucket) refill(now time.Time) {
	b.tokens += float64(now.Sub(b.last)) / float64(b.budget.refill)
	if b.tokens > b.budget.burst {
		b.tokens = b.budget.burst
	}
	b.last = now
}

// withNetworks returns keys with, after each client address, its /24 (IPv4)
// or /64 (IPv6) network. Key ids hold neither '.' nor ':' and pass as they
// are.
func withNetworks(keys []string) []string {
	out := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		if k == "" {
			continue
		}
		out = append(out, k)
		if !strings.ContainsAny(k, ".:") {
			continue
		}
		a, err := netip.ParseAddr(k)
		if err != nil {
			continue
		}
		a = a.Unmap().WithZone("")
		bits := 64
		if a.Is4() {
			bits = 24
		}
		if p, err := a.Prefix(bits); err == nil {
			out = append(out, p.String())
		}
	}
	return out
}

// wait returns how long an attempt for any of keys must wait (0: go ahead).
func (l *failLimiter) wait(now time.Time, keys ...string) time.Duration {
	if l.n.Load() == 0 {
		return 0
	}
	keys = withNetworks(keys)
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		b := l.m[k]
		if b == nil {
			continue
		}
		b.refill(now)
		if b.tokens < 1 {
			wait = max(wait, time.Duration((1-b.tokens)*float64(b.budget.refill)))
		}
	}
	return wait
}

// fail records a failed attempt for each of keys.
func (l *failLimiter) fail(now time.Time, keys ...string) {
	keys = withNetworks(keys)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*bucket{}
	}
	if len(l.m)+len(keys) > maxBuckets {
		l.evict(now)
	}
	for _, k := range keys {
		b := l.m[k]
		if b == nil {
			bg := budgetOf(k)
			b = &bucket{tokens: bg.burst, last: now, budget: bg}
			l.m[k] = b
		}
		b.refill(now)
		b.tokens--
	}
	l.n.Store(int64(len(l.m)))
}

// evict makes room in a full table: it forgets the buckets that are full
// again (their failures forgiven), and if that is not a tenth of the
// table, those closest to forgiven (the largest share of their budget
// left) down to nine tenths, so that it runs once per many failures. The
// rest, among them every address that is being refused now, are kept: a
// full table must not reset the budgets of those who filled it. (A
// bucket's last time moves on every look, so it tells nothing about who
// failed recently.)
func (l *failLimiter) evict(now time.Time) {
	for k, b := range l.m {
		if b.refill(now); b.tokens >= b.budget.burst {
			delete(l.m, k)
		}
	}
	keep := maxBuckets * 9 / 10
	if len(l.m) <= keep {
		return
	}
	left := func(b *bucket) float64 { return b.tokens / b.budget.burst }
	shares := make([]float64, 0, len(l.m))
	for _, b := range l.m {
		shares = append(shares, left(b))
	}
	slices.Sort(shares)
	cut := shares[keep-1] // keep the buckets with at most this share left
	for k, b := range l.m {
		if left(b) > cut {
			delete(l.m, k)
		}
	}
	for k, b := range l.m { // ties at cut
		if len(l.m) <= keep {
			break
		}
		if left(b) == cut {
			delete(l.m, k)
		}
	}
}

// auditBudget bounds the failed authentications audited per account.
type auditBudget struct {
	mu sync.Mutex
	m  map[string]*accountBudget
}

type accountBudget struct {
	bucket
	unaudited int64 // failures refused but not audited since the last audited one
}

// take reports whether a failure for account may be audited at now, and if
// so how many before it were not. When it may not, the failure is counted.
func (a *auditBudget) take(now time.Time, account string) (ok bool, unaudited int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]*accountBudget{}
	}
	b := a.m[account]
	if b == nil {
		b = &accountBudget{bucket: bucket{tokens: auditBurst, last: now, budget: budget{auditBurst, auditRefill}}}
		a.m[account] = b
	}
	b.refill(now)
	if b.tokens < 1 {
		b.unaudited++
		return false, 0
	}
	b.tokens--
	unaudited, b.unaudited = b.unaudited, 0
	return true, unaudited
}

// auditFailure audits the failed authentication ev within its account's
// audit budget. Past the budget the failure is only counted; the next one
// audited is preceded by an auth.fail.unaudited event whose reason says how
// many failures were not audited one by one, so that the log stays bounded
// and still tells that they happened.
func (s *Service) auditFailure(ctx context.Context, ev *coffer.AuditEvent) error {
	ok, unaudited := s.auditBudget.take(ev.Time, ev.AccountID)
	if !ok {
		return nil
	}
	if unaudited > 0 {
		sum := &coffer.AuditEvent{Time: ev.Time, AccountID: ev.AccountID, Action: "auth.fail.unaudited",
			Outcome: coffer.EUNAUTHORIZED, RequestID: ev.RequestID, Face: ev.Face,
			Reason: strconv.FormatInt(unaudited, 10) + " failed authentications were not audited one by one: more than the account's audit budget (" +
				strconv.Itoa(auditBurst) + ", then one a second)"}
		if err := s.storage.Audit(ctx, sum); err != nil {
			return fmt.Errorf("audit failed authentication: %w", err)
		}
	}
	if err := s.storage.Audit(ctx, ev); err != nil {
		return fmt.Errorf("audit failed authentication: %w", err)
	}
	return nil
}

// RateLimit is the shape of one account's request token bucket: Rate
// requests a second on average, Burst at once. A zero Rate is no limit.
type RateLimit struct {
	Rate  float64
	Burst int
}

// RateLimits are the per-account request rate limits: Default for every
// account not in Accounts.
type RateLimits struct {
	Default  RateLimit
	Accounts map[string]RateLimit
}

// ParseRateLimits parses "[ACCOUNT_ID:]rate=N,burst=N" specs; later specs
// override earlier ones for the same account. A missing burst is the rate
// rounded up.
func ParseRateLimits(specs []string) (RateLimits, error) {
	rl := RateLimits{Accounts: map[string]RateLimit{}}
	for _, spec := range specs {
		acct, rest, ok := strings.Cut(spec, ":")
		if !ok {
			acct, rest = "", spec
		}
		var l RateLimit
		burstSet := false
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
			switch k {
			case "rate":
				x, err := strconv.ParseFloat(v, 64)
				if err != nil || x < 0 || math.IsInf(x, 0) || math.IsNaN(x) || x > 1e6 {
					return rl, fmt.Errorf("%q: rate must be 0 (no limit) to 1000000 requests a second", spec)
				}
				l.Rate = x
			case "burst":
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 || n > 1e6 {
					return rl, fmt.Errorf("%q: burst must be 1 to 1000000 requests", spec)
				}
				l.Burst, burstSet = n, true
			default:
				return rl, fmt.Errorf("%q: unknown field %q (want rate=N,burst=N)", spec, k)
			}
		}
		if !burstSet {
			l.Burst = max(1, int(math.Ceil(l.Rate)))
		}
		if acct == "" {
			rl.Default = l
		} else {
			rl.Accounts[acct] = l
		}
	}
	return rl, nil
}

// accountLimiter is a token bucket per account that every authenticated
// request drains (see Service.limitAccount).
type accountLimiter struct {
	limits RateLimits
	now    func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

// newAccountLimiter returns the limiter of l, or nil when l limits nothing.
func newAccountLimiter(l RateLimits, now func() time.Time) *accountLimiter {
	if l.Default.Rate == 0 && len(l.Accounts) == 0 {
		return nil
	}
	return &accountLimiter{limits: l, now: now, buckets: map[string]*bucket{}}
}

// wait takes a token from the account's bucket and returns 0, or returns
// how long until one is there.
func (l *accountLimiter) wait(account string) time.Duration {
	lim, ok := l.limits.Accounts[account]
	if !ok {
		lim = l.limits.Default
	}
	if lim.Rate == 0 {
		return 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[account]
	if b == nil {
		b = &bucket{tokens: float64(lim.Burst), last: now,
			budget: budget{burst: float64(lim.Burst), refill: time.Duration(float64(time.Second) / lim.Rate)}}
		l.buckets[account] = b
	}
	if now.After(b.last) {
		b.refill(now)
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(b.budget.refill))
}
