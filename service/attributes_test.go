package service_test

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer"
)

func TestUpdateSecretAttributes(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "app/db", Value: []byte("v"), Attributes: map[string]string{"keep": "1", "drop": "2"}}); err != nil {
		t.Fatal(err)
	}
	sec, err := svc.UpdateSecret(ctx, "s", "app/db", &coffer.SecretPatch{Attributes: map[string]string{"drop": "", "vault.max_versions": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"keep": "1", "vault.max_versions": "3"}; fmt.Sprint(sec.Attributes) != fmt.Sprint(want) {
		t.Fatalf("UpdateSecret: got attributes %v, want %v", sec.Attributes, want)
	}
	if got, err := svc.Secret(ctx, "s", "app/db"); err != nil || got.Attributes["vault.max_versions"] != "3" || got.Attributes["drop"] != "" {
		t.Fatalf("Secret: got %v, %v", got.Attributes, err)
	}

	t.Run("Concurrent", func(t *testing.T) {
		// Merges of different keys at once all take effect: each is
		// applied to the secret as stored, inside its write.
		const n = 16
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = svc.UpdateSecret(ctx, "s", "app/db", &coffer.SecretPatch{Attributes: map[string]string{fmt.Sprint("c", i): "x"}})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("merge %d: %v", i, err)
			}
		}
		got, err := svc.Secret(ctx, "s", "app/db")
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if got.Attributes[fmt.Sprint("c", i)] != "x" {
				t.Fatalf("after %d concurrent merges: got %v, want every c%d", n, got.Attributes, i)
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		many := map[string]string{}
		for i := range coffer.MaxLabels {
			many[fmt.Sprint("m", i)] = "x"
		}
		for name, attrs := range map[string]map[string]string{
			"EmptyKey":    {"": "x"},
			"LongKey":     {strings.Repeat("k", 64): "x"},
			"LongValue":   {"k": strings.Repeat("v", 256)},
			"TooManyNow":  many, // with those already set
			"TooManyHere": func() map[string]string { m := map[string]string{"z": "1"}; maps.Copy(m, many); return m }(),
		} {
			if _, err := svc.UpdateSecret(ctx, "s", "app/db", &coffer.SecretPatch{Attributes: attrs}); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Errorf("%s: got %v, want EINVALID", name, err)
			}
		}
		if got, err := svc.Secret(ctx, "s", "app/db"); err != nil || got.Attributes["m0"] != "" {
			t.Fatalf("after refused merges: got %v, %v; want nothing merged", got.Attributes, err)
		}
	})
}
