package service_test

import (
	"context"
	"testing"

	"github.com/coffer-dev/coffer"
)

// TestRevealDetail checks that RevealDetail gives the value with its
// version record, and the secret only to a caller that may read metadata:
// one that may only reveal is served the value, not refused, and the read
// is audited once, as a reveal, either way.
func TestRevealDetail(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	putValues(t, svc, ctx, "s", "app/db", "v1", "v2")
	if _, err := svc.UpdateSecret(ctx, "s", "app/db", &coffer.SecretPatch{Labels: map[string]string{"team": "a"}}); err != nil {
		t.Fatal(err)
	}
	as := func(actions ...coffer.Action) *coffer.Caller {
		c := *coffer.CallerFrom(ctx)
		c.Admin, c.Operator = false, false
		c.Scopes = []coffer.Scope{{Store: "s", Secret: "app/*", Actions: actions}}
		return &c
	}
	for _, tc := range []struct {
		name       string
		caller     *coffer.Caller
		version    int
		wantSecret bool
	}{
		{"Admin", coffer.CallerFrom(ctx), 0, true},
		{"ReadAndReveal", as(coffer.ActionRead, coffer.ActionReveal), 1, true},
		{"RevealOnly", as(coffer.ActionReveal), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := auditCount(t, svc, ctx)
			r, err := svc.RevealDetail(coffer.NewContext(ctx, tc.caller), "s", "app/db", tc.version)
			if err != nil {
				t.Fatal(err)
			}
			want, data := 2, "v2"
			if tc.version == 1 {
				want, data = 1, "v1"
			}
			if string(r.Value.Data) != data || r.Value.Version != want || r.Version.Number != want || r.Version.CreatedAt.IsZero() || r.Version.Ciphertext != nil {
				t.Errorf("got value %v, version %+v; want version %d without ciphertext", r.Value, r.Version, want)
			}
			if (r.Secret != nil) != tc.wantSecret || tc.wantSecret && r.Secret.Labels["team"] != "a" {
				t.Errorf("secret: got %+v, want it: %v", r.Secret, tc.wantSecret)
			}
			if n := auditCount(t, svc, ctx) - before; n != 1 {
				t.Errorf("%d events recorded, want 1 (the reveal)", n)
			}
		})
	}
	if _, err := svc.RevealDetail(coffer.NewContext(ctx, as(coffer.ActionRead)), "s", "app/db", 0); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Errorf("RevealDetail without reveal: got %v, want EFORBIDDEN", err)
	}
}

// auditCount returns the number of the account's audit events.
func auditCount(t *testing.T, svc coffer.AuditService, ctx context.Context) int {
	t.Helper()
	n := 0
	q := coffer.AuditQuery{Limit: 1000}
	for {
		page, err := svc.AuditEvents(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Events)
		if page.Next == 0 {
			return n
		}
		q.After = page.Next
	}
}
