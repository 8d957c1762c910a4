package service_test

import (
	"context"
	"testing"

	"github.com/coffer-dev/coffer"
)

func TestWhoami(t *testing.T) {
	svc, ctx := mustOpenService(t)
	t.Run("OK", func(t *testing.T) {
		a, p, err := svc.Whoami(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := coffer.CallerFrom(ctx)
		if a.ID != c.AccountID || p.ID != c.PrincipalID || a.Name == "" || p.Name == "" {
			t.Fatalf("got %+v %+v, want the caller's account and principal", a, p)
		}
		got, err := svc.Principal(ctx, p.ID)
		if err != nil || got.Name != p.Name {
			t.Fatalf("got %+v, %v; want principal %s", got, err, p.Name)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := svc.Principal(ctx, coffer.NewID()); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("got %v, want not_found", err)
		}
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		if _, _, err := svc.Whoami(context.Background()); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("got %v, want unauthorized", err)
		}
	})
}
