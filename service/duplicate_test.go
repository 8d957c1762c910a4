package service_test

import (
	"context"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/cloudflare"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// mustOpenService returns a Service over a fresh SQLite database and a
// context carrying the root admin of its first account.
func mustOpenService(tb testing.TB) (*service.Service, context.Context) {
	tb.Helper()
	env := svctest.Open(tb, withFaces(service.Options{}))
	return env.Svc, env.Root
}

func TestDuplicateSecret(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	comment := "orig"
	src, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "A", Value: []byte("v1"), Comment: &comment, Labels: map[string]string{"k": "v"}, Scopes: []string{"workers"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("OK", func(t *testing.T) {
		dup, err := svc.DuplicateSecret(ctx, "s", src.ID, &coffer.SecretDuplicate{Name: "B", Scopes: []string{"dex"}})
		if err != nil {
			t.Fatal(err)
		}
		if dup.ID == src.ID || dup.Name != "B" || dup.Comment != "orig" || dup.Labels["k"] != "v" || len(dup.Scopes) != 1 || dup.Scopes[0] != "dex" || dup.Version != 1 {
			t.Fatalf("got %+v, want B with the source's comment and labels and scopes [dex]", dup)
		}
		v, err := svc.Reveal(ctx, "s", "B", 0)
		if err != nil || string(v.Data) != "v1" {
			t.Fatalf("got %v %v, want v1", v, err)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		_, err := svc.DuplicateSecret(ctx, "s", "A", &coffer.SecretDuplicate{Name: "B"})
		if got := coffer.ErrorCode(err); got != coffer.ECONFLICT {
			t.Fatalf("got %v, want conflict", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := svc.DuplicateSecret(ctx, "s", coffer.NewID(), &coffer.SecretDuplicate{Name: "C"})
		if got := coffer.ErrorCode(err); got != coffer.ENOTFOUND {
			t.Fatalf("got %v, want not_found", err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		_, err := svc.DuplicateSecret(ctx, "s", "A", &coffer.SecretDuplicate{Name: "../x"})
		if got := coffer.ErrorCode(err); got != coffer.EINVALID {
			t.Fatalf("got %v, want invalid", err)
		}
	})
}

func TestUnusedClearedOnFirstRead(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	unused := map[string]string{cloudflare.AttrUnused: "1", "keep": "x"}
	for _, n := range []string{"A", "B"} {
		if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: n, Value: []byte("v"), Attributes: unused}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Reveal(ctx, "s", "A", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RevealMany(ctx, "s", &coffer.RevealQuery{Names: []string{"B"}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"A", "B"} {
		sec, err := svc.Secret(ctx, "s", n)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := sec.Attributes[cloudflare.AttrUnused]; ok || sec.Attributes["keep"] != "x" {
			t.Fatalf("%s: got attributes %v, want only keep=x", n, sec.Attributes)
		}
	}
}
