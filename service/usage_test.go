package service_test

import (
	"context"
	"testing"

	"github.com/coffer-dev/coffer"
)

// TestUsage checks that Usage counts every store and live secret of the
// account whatever the caller's scopes, and follows writes.
func TestUsage(t *testing.T) {
	svc, ctx := mustOpenService(t)
	for _, name := range []string{"a", "b"} {
		if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range [][2]string{{"a", "X"}, {"a", "Y"}, {"b", "Z"}} {
		if _, err := svc.PutSecret(ctx, p[0], &coffer.SecretPut{Name: p[1], Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	narrow := scoped(t, svc, ctx, coffer.Scope{Store: "b", Secret: "Q*", Actions: []coffer.Action{coffer.ActionList}})
	want := func(stores, secrets int) {
		t.Helper()
		for name, c := range map[string]context.Context{"admin": ctx, "narrow": narrow} {
			u, err := svc.Usage(c)
			if err != nil || u.Stores != stores || u.Secrets != secrets {
				t.Fatalf("Usage for %s: got %+v, %v; want %d stores, %d secrets", name, u, err, stores, secrets)
			}
		}
	}
	want(2, 3)
	if _, err := svc.DeleteSecret(ctx, "a", "X", 0); err != nil {
		t.Fatal(err)
	}
	want(2, 2) // a deleted secret is not live
	if _, err := svc.UndeleteSecret(ctx, "a", "X"); err != nil {
		t.Fatal(err)
	}
	want(2, 3)
	if err := svc.DeleteStore(ctx, "b", true); err != nil {
		t.Fatal(err)
	}
	want(1, 2)
	if _, err := svc.Usage(context.Background()); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
		t.Fatalf("Usage without a caller: got %v, want EUNAUTHORIZED", err)
	}
}
