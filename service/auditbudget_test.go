package service_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// TestAuthFailAuditBudget checks that the failed authentications audited
// per account are bounded: from many addresses (each within its own and
// its network's budget) the first 100 failures are audited, the rest are
// refused and counted, and once the budget refills the next audited one is
// preceded by an auth.fail.unaudited event with their number (issue 17
// item 6).
func TestAuthFailAuditBudget(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	env := svctest.Open(t, service.Options{Now: clock})
	ctx := context.Background()
	fail := func(i int) {
		t.Helper()
		tok := fmt.Sprintf("cfr_%016x_%s", 0xabc000+i, strings.Repeat("0", 64))
		_, err := env.Svc.Authenticate(ctx, coffer.Credential{Token: tok, RemoteIP: fmt.Sprintf("10.%d.%d.1", i/256, i%256)})
		if coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("failure %d: got %v, want unauthorized", i, err)
		}
	}
	count := func() (fails, unaudited int, reason string) {
		page, err := env.Svc.AuditEvents(env.Root, coffer.AuditQuery{Action: "auth.fail", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		fails = len(page.Events)
		page, err = env.Svc.AuditEvents(env.Root, coffer.AuditQuery{Action: "auth.fail.unaudited", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			reason = e.Reason
		}
		return fails, len(page.Events), reason
	}
	for i := range 130 {
		fail(i)
	}
	if fails, unaudited, _ := count(); fails != 100 || unaudited != 0 {
		t.Fatalf("after 130 failures: %d auth.fail and %d auth.fail.unaudited events, want 100 and 0", fails, unaudited)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	fail(130)
	fails, unaudited, reason := count()
	if fails != 101 || unaudited != 1 || !strings.HasPrefix(reason, "30 failed authentications were not audited") {
		t.Errorf("after the budget refilled: %d auth.fail, %d auth.fail.unaudited (%q), want 101, 1 and 30 not audited", fails, unaudited, reason)
	}
}
