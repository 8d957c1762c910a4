package service

import (
	"testing"
	"time"
)

// TestAccountLimiter checks the bucket's arithmetic with a fake clock and
// per-account overrides.
func TestAccountLimiter(t *testing.T) {
	rl, err := ParseRateLimits([]string{"rate=2,burst=2", "big:rate=10,burst=5", "free:rate=0"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	l := newAccountLimiter(rl, func() time.Time { return now })
	take := func(acct string, n int) (ok int) {
		for range n {
			if l.wait(acct) == 0 {
				ok++
			}
		}
		return ok
	}
	if got := take("a", 5); got != 2 {
		t.Errorf("default burst: got %d, want 2", got)
	}
	if w := l.wait("a"); w != 500*time.Millisecond {
		t.Errorf("wait: got %v, want 500ms at 2/s", w)
	}
	if got := take("big", 9); got != 5 {
		t.Errorf("override burst: got %d, want 5", got)
	}
	if got := take("free", 1000); got != 1000 {
		t.Errorf("rate=0: got %d, want unlimited", got)
	}
	now = now.Add(time.Second)
	if got := take("a", 5); got != 2 {
		t.Errorf("after 1s at 2/s: got %d, want 2", got)
	}
	if got := take("b", 5); got != 2 {
		t.Errorf("another account has its own bucket: got %d, want 2", got)
	}
	if newAccountLimiter(RateLimits{}, time.Now) != nil {
		t.Error("no limits: want no limiter")
	}
}
