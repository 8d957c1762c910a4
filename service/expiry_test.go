package service_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// clock is a settable time source for service.Options.Now.
type clock = svctest.Clock

// mustOpenServiceClock opens a service on a fresh database whose clock is
// clk, and returns it with the context of its root key.
func mustOpenServiceClock(tb testing.TB, clk *clock) (*service.Service, context.Context) {
	tb.Helper()
	env := svctest.Open(tb, withFaces(service.Options{Now: clk.Now}))
	return env.Svc, env.Root
}

// lastEvent returns the newest audit event of the caller's account.
func lastEvent(t *testing.T, svc *service.Service, ctx context.Context) *coffer.AuditEvent {
	t.Helper()
	var last *coffer.AuditEvent
	var after int64
	for {
		page, err := svc.AuditEvents(ctx, coffer.AuditQuery{After: after, Limit: coffer.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) > 0 {
			last = page.Events[len(page.Events)-1]
		}
		if page.Next == 0 {
			return last
		}
		after = page.Next
	}
}

func TestSecretExpiry(t *testing.T) {
	clk := svctest.NewClock(time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC))
	svc, ctx := mustOpenServiceClock(t, clk)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	exp := clk.Now().Add(time.Hour)
	a, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/a", Value: []byte("s3cr3t-a"), ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if a.ExpiresAt == nil || !a.ExpiresAt.Equal(exp) {
		t.Fatalf("PutSecret: got ExpiresAt %v, want %v", a.ExpiresAt, exp)
	}
	if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/b", Value: []byte("vb")}); err != nil {
		t.Fatal(err)
	}

	t.Run("OKBeforeExpiry", func(t *testing.T) {
		if v, err := svc.Reveal(ctx, "s", "app/a", 0); err != nil || string(v.Data) != "s3cr3t-a" {
			t.Fatalf("Reveal: got %v, %v; want s3cr3t-a", v, err)
		}
		page, err := svc.RevealMany(ctx, "s", &coffer.RevealQuery{Prefix: "app/"})
		if err != nil || len(page.Values) != 2 || len(page.Expired) != 0 {
			t.Fatalf("RevealMany: got %+v, %v; want 2 values, none expired", page, err)
		}
	})

	clk.Add(time.Hour) // exactly at the expiry: expired
	t.Run("ErrConflictExpired", func(t *testing.T) {
		for _, c := range []struct {
			ref     string
			version int
		}{{"app/a", 0}, {"app/a", 1}, {a.ID, 0}} {
			v, err := svc.Reveal(ctx, "s", c.ref, c.version)
			if coffer.ErrorCode(err) != coffer.ECONFLICT || v != nil {
				t.Fatalf("Reveal(%s, %d): got %v, %v; want conflict", c.ref, c.version, v, err)
			}
			if msg := coffer.ErrorMessage(err); !strings.Contains(msg, "expired") || strings.Contains(msg, "s3cr3t") {
				t.Fatalf("Reveal message: got %q, want one that says expired", msg)
			}
			ev := lastEvent(t, svc, ctx)
			if ev.Action != "secret.reveal" || ev.Outcome != coffer.ECONFLICT || ev.Reason != "expired" || ev.SecretID != a.ID {
				t.Fatalf("audit: got %+v, want a refused secret.reveal of %s", ev, a.ID)
			}
		}
		for _, q := range []*coffer.RevealQuery{{Prefix: "app/"}, {Names: []string{"app/a", "app/b"}}} {
			page, err := svc.RevealMany(ctx, "s", q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Values) != 1 || page.Values[0].Name != "app/b" || !slices.Equal(page.Expired, []string{"app/a"}) || len(page.Missing) != 0 {
				t.Fatalf("RevealMany(%+v): got %+v, want app/b's value and app/a expired", q, page)
			}
		}
		if _, err := svc.DuplicateSecret(ctx, "s", "app/a", &coffer.SecretDuplicate{Name: "copy"}); coffer.ErrorCode(err) != coffer.ECONFLICT {
			t.Fatalf("DuplicateSecret of an expired secret: got %v, want conflict", err)
		}
		// Metadata stays readable and listed, with the expiry.
		sec, err := svc.Secret(ctx, "s", "app/a")
		if err != nil || sec.ExpiresAt == nil || !sec.ExpiresAt.Equal(exp) || sec.Status != coffer.StatusActive {
			t.Fatalf("Secret: got %+v, %v; want active with ExpiresAt %v", sec, err, exp)
		}
	})

	t.Run("NewVersionKeepsExpiry", func(t *testing.T) {
		sec, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/a", Value: []byte("va2")})
		if err != nil || sec.ExpiresAt == nil || !sec.ExpiresAt.Equal(exp) {
			t.Fatalf("PutSecret without ExpiresAt: got %+v, %v; want the expiry kept", sec, err)
		}
		if _, err := svc.Reveal(ctx, "s", "app/a", 0); coffer.ErrorCode(err) != coffer.ECONFLICT {
			t.Fatalf("Reveal: got %v, want conflict", err)
		}
	})

	t.Run("UpdateRemovesExpiry", func(t *testing.T) {
		sec, err := svc.UpdateSecret(ctx, "s", "app/a", &coffer.SecretPatch{ExpiresAt: &time.Time{}})
		if err != nil || sec.ExpiresAt != nil {
			t.Fatalf("UpdateSecret: got %+v, %v; want no expiry", sec, err)
		}
		if v, err := svc.Reveal(ctx, "s", "app/a", 0); err != nil || string(v.Data) != "va2" {
			t.Fatalf("Reveal after removing the expiry: got %v, %v", v, err)
		}
		later := clk.Now().Add(time.Minute)
		if sec, err = svc.UpdateSecret(ctx, "s", "app/a", &coffer.SecretPatch{ExpiresAt: &later}); err != nil || !sec.ExpiresAt.Equal(later) {
			t.Fatalf("UpdateSecret setting an expiry: got %+v, %v", sec, err)
		}
		if _, err := svc.Reveal(ctx, "s", "app/a", 0); err != nil {
			t.Fatalf("Reveal before the new expiry: %v", err)
		}
	})

	t.Run("PastExpiryOnWrite", func(t *testing.T) {
		past := clk.Now().Add(-time.Second)
		if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/c", Value: []byte("vc"), ExpiresAt: &past}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Reveal(ctx, "s", "app/c", 0); coffer.ErrorCode(err) != coffer.ECONFLICT {
			t.Fatalf("Reveal: got %v, want conflict", err)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
		before := time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)
		for _, bad := range []time.Time{far, before} {
			if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/d", Value: []byte("v"), ExpiresAt: &bad}); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Errorf("PutSecret(ExpiresAt %v): got %v, want invalid", bad, err)
			}
			if _, err := svc.UpdateSecret(ctx, "s", "app/b", &coffer.SecretPatch{ExpiresAt: &bad}); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Errorf("UpdateSecret(ExpiresAt %v): got %v, want invalid", bad, err)
			}
		}
		if _, err := svc.Secret(ctx, "s", "app/d"); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Errorf("a refused write created the secret: %v", err)
		}
	})
}

func TestPutSecretReplaceAttributes(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	put := func(attrs map[string]string, replace bool) *coffer.Secret {
		t.Helper()
		sec, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "x", Value: []byte("v"), Attributes: attrs, ReplaceAttributes: replace})
		if err != nil {
			t.Fatal(err)
		}
		return sec
	}
	put(map[string]string{"a": "1"}, false)
	if got := put(map[string]string{"b": "2"}, false); got.Attributes["a"] != "1" || got.Attributes["b"] != "" {
		t.Fatalf("without ReplaceAttributes: got %v, want the first write's", got.Attributes)
	}
	if got := put(map[string]string{"b": "2"}, true); got.Attributes["a"] != "" || got.Attributes["b"] != "2" {
		t.Fatalf("with ReplaceAttributes: got %v, want {b:2}", got.Attributes)
	}
	if got := put(nil, true); len(got.Attributes) != 0 {
		t.Fatalf("with ReplaceAttributes and nil: got %v, want none", got.Attributes)
	}
	if got, err := svc.Secret(ctx, "s", "x"); err != nil || len(got.Attributes) != 0 || got.Version != 4 {
		t.Fatalf("Secret: got %+v, %v", got, err)
	}
}
