package service

import (
	"testing"
	"time"
)

func TestFailLimiter(t *testing.T) {
	var l failLimiter
	now := time.Unix(1000, 0)
	for i := 0; i < failBurst; i++ {
		if w := l.wait(now, "1.2.3.4", "0123456789abcdef"); w != 0 {
			t.Fatalf("attempt %d: got wait %v, want 0", i+1, w)
		}
		l.fail(now, "1.2.3.4", "0123456789abcdef")
	}
	if w := l.wait(now, "1.2.3.4"); w <= 0 || w > failRefill {
		t.Errorf("after %d failures: got wait %v, want (0, %v]", failBurst, w, failRefill)
	}
	if w := l.wait(now, "0123456789abcdef"); w <= 0 {
		t.Errorf("key id after %d failures: got wait %v, want > 0", failBurst, w)
	}
	if w := l.wait(now, "5.6.7.8", "fedcba9876543210"); w != 0 {
		t.Errorf("another address and key: got wait %v, want 0", w)
	}
	if w := l.wait(now.Add(failRefill), "1.2.3.4"); w != 0 {
		t.Errorf("after one refill interval: got wait %v, want 0", w)
	}
	l.fail(now.Add(failRefill), "1.2.3.4")
	if w := l.wait(now.Add(failRefill), "1.2.3.4"); w <= 0 {
		t.Errorf("a failure right after refilling: got wait %v, want > 0", w)
	}
}
