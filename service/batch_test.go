package service_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/coffer-dev/coffer"
)

func TestPutSecrets(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	put := func(name, value string) *coffer.SecretPut {
		return &coffer.SecretPut{Name: name, Value: []byte(value), IfVersion: -1}
	}
	live := func(t *testing.T) []string {
		t.Helper()
		list, err := coffer.AllSecrets(ctx, svc, "s", false)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, sec := range list {
			out = append(out, sec.Name)
		}
		return out
	}
	t.Run("OK", func(t *testing.T) {
		got, err := svc.PutSecrets(ctx, "s", &coffer.SecretBatchPut{Puts: []*coffer.SecretPut{put("a", "1"), put("b", "2")}})
		if err != nil || len(got) != 2 || got[0].Name != "a" || got[1].Version != 1 {
			t.Fatalf("PutSecrets: got %v, %v; want a and b at version 1", got, err)
		}
		v, err := svc.Reveal(ctx, "s", "b", 0)
		if err != nil || string(v.Data) != "2" {
			t.Fatalf("Reveal b: got %v, %v; want 2", v, err)
		}
		got, err = svc.PutSecrets(ctx, "s", &coffer.SecretBatchPut{
			Puts:    []*coffer.SecretPut{{Name: "a", Value: []byte("1b"), IfVersion: 1}},
			Deletes: []string{got[1].ID, "missing"},
		})
		if err != nil || len(got) != 2 || got[0].Version != 2 || got[1].Status != coffer.StatusDeleted {
			t.Fatalf("PutSecrets with a delete: got %v, %v; want a at version 2 and b deleted", got, err)
		}
		if got, want := live(t), []string{"a"}; !slices.Equal(got, want) {
			t.Fatalf("live: got %q, want %q", got, want)
		}
	})
	t.Run("ErrPrecondition", func(t *testing.T) {
		_, err := svc.PutSecrets(ctx, "s", &coffer.SecretBatchPut{Puts: []*coffer.SecretPut{put("c", "1"), put("a", "2")}})
		var ie *coffer.BatchItemError
		if coffer.ErrorCode(err) != coffer.EPRECONDITION || !errors.As(err, &ie) || ie.Index != 1 {
			t.Fatalf("PutSecrets with a taken name: got %v, want EPRECONDITION of item 1", err)
		}
		if got, want := live(t), []string{"a"}; !slices.Equal(got, want) {
			t.Fatalf("live: got %q, want %q (nothing written)", got, want)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for name, in := range map[string]*coffer.SecretBatchPut{
			"Empty":    {},
			"BadName":  {Puts: []*coffer.SecretPut{put("ok", "1"), put("", "1")}},
			"IDShaped": {Puts: []*coffer.SecretPut{put("0123456789abcdef0123456789abcdef", "1")}},
		} {
			if _, err := svc.PutSecrets(ctx, "s", in); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Errorf("%s: got %v, want EINVALID", name, err)
			}
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		// A key that may write a but not delete it is refused before
		// anything is written, and the refusal is audited.
		w := scoped(t, svc, ctx, coffer.Scope{Store: "s", Actions: []coffer.Action{coffer.ActionList, coffer.ActionRead, coffer.ActionWrite}})
		_, err := svc.PutSecrets(w, "s", &coffer.SecretBatchPut{Puts: []*coffer.SecretPut{put("d", "1")}, Deletes: []string{"a"}})
		if coffer.ErrorCode(err) != coffer.EFORBIDDEN {
			t.Fatalf("PutSecrets without delete: got %v, want EFORBIDDEN", err)
		}
		if ev := lastEvent(t, svc, ctx); ev.Action != "secret.delete" || ev.Name != "a" || ev.Outcome != coffer.EFORBIDDEN {
			t.Fatalf("last event: got %s %s %s, want the refused delete of a", ev.Action, ev.Name, ev.Outcome)
		}
		one := scoped(t, svc, ctx, coffer.Scope{Store: "s", Secret: "d", Actions: []coffer.Action{coffer.ActionWrite}})
		if _, err := svc.PutSecrets(one, "s", &coffer.SecretBatchPut{Puts: []*coffer.SecretPut{put("d", "1"), put("e", "1")}}); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
			t.Fatalf("PutSecrets of a name the key may not write: got %v, want EFORBIDDEN", err)
		}
		if got, want := live(t), []string{"a"}; !slices.Equal(got, want) {
			t.Fatalf("live: got %q, want %q (nothing written)", got, want)
		}
	})
	t.Run("ErrSecretLimit", func(t *testing.T) {
		u, err := svc.Usage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		in := &coffer.SecretBatchPut{Puts: []*coffer.SecretPut{put("f", "1"), put("g", "1")}, MaxLiveSecrets: u.Secrets + 1}
		if _, err := svc.PutSecrets(ctx, "s", in); coffer.ErrorCode(err) != coffer.ECONFLICT || !errors.Is(err, coffer.ErrSecretLimit) {
			t.Fatalf("PutSecrets over the limit: got %v, want ECONFLICT and ErrSecretLimit", err)
		}
		in.MaxLiveSecrets++
		if _, err := svc.PutSecrets(ctx, "s", in); err != nil {
			t.Fatalf("PutSecrets at the limit: %v", err)
		}
	})
}

func TestCreateStoreWithSecrets(t *testing.T) {
	svc, ctx := mustOpenService(t)
	puts := func() *coffer.SecretBatchPut {
		return &coffer.SecretBatchPut{Puts: []*coffer.SecretPut{
			{Name: "A", Value: []byte("1"), IfVersion: -1}, {Name: "B", Value: []byte("2"), IfVersion: -1},
		}}
	}
	st, got, err := svc.CreateStoreWithSecrets(ctx, &coffer.StoreCreate{Name: "g", Attributes: map[string]string{"k": "v"}}, puts())
	if err != nil || len(got) != 2 || st.Attributes["k"] != "v" {
		t.Fatalf("CreateStoreWithSecrets: got %+v %v, %v", st, got, err)
	}
	if v, err := svc.Reveal(ctx, st.ID, "B", 0); err != nil || string(v.Data) != "2" {
		t.Fatalf("Reveal B: got %v, %v; want 2", v, err)
	}
	if _, _, err := svc.CreateStoreWithSecrets(ctx, &coffer.StoreCreate{Name: "g"}, puts()); coffer.ErrorCode(err) != coffer.ECONFLICT {
		t.Fatalf("CreateStoreWithSecrets with a taken name: got %v, want ECONFLICT", err)
	}
	in := puts()
	in.Puts[1].Name = "A"
	if _, _, err := svc.CreateStoreWithSecrets(ctx, &coffer.StoreCreate{Name: "twice"}, in); coffer.ErrorCode(err) != coffer.EPRECONDITION {
		t.Fatalf("CreateStoreWithSecrets with a name given twice: got %v, want EPRECONDITION", err)
	}
	if _, err := svc.Store(ctx, "twice"); coffer.ErrorCode(err) != coffer.ENOTFOUND {
		t.Fatalf("Store after a failed create: got %v, want ENOTFOUND", err)
	}
	// The writes are checked before the store is made.
	admin := scoped(t, svc, ctx, coffer.Scope{Actions: []coffer.Action{coffer.ActionAdmin, coffer.ActionList, coffer.ActionRead}})
	if _, _, err := svc.CreateStoreWithSecrets(admin, &coffer.StoreCreate{Name: "nowrite"}, puts()); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("CreateStoreWithSecrets without write: got %v, want EFORBIDDEN", err)
	}
	if ev := lastEvent(t, svc, ctx); ev.Action != "secret.write" || ev.Name != "A" || ev.Outcome != coffer.EFORBIDDEN {
		t.Fatalf("last event: got %s %s %s, want the refused write of A", ev.Action, ev.Name, ev.Outcome)
	}
	if _, err := svc.Store(ctx, "nowrite"); coffer.ErrorCode(err) != coffer.ENOTFOUND {
		t.Fatalf("Store after a refused create: got %v, want ENOTFOUND", err)
	}
}

func TestDuplicateSecretLimit(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "a", Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.DuplicateSecret(ctx, "s", "a", &coffer.SecretDuplicate{Name: "b", MaxLiveSecrets: 1})
	if coffer.ErrorCode(err) != coffer.ECONFLICT || !errors.Is(err, coffer.ErrSecretLimit) {
		t.Fatalf("DuplicateSecret at the limit: got %v, want ECONFLICT and ErrSecretLimit", err)
	}
	if _, err := svc.DuplicateSecret(ctx, "s", "a", &coffer.SecretDuplicate{Name: "a", MaxLiveSecrets: 5}); coffer.ErrorCode(err) != coffer.ECONFLICT || errors.Is(err, coffer.ErrSecretLimit) {
		t.Fatalf("DuplicateSecret to a taken name: got %v, want ECONFLICT, not the limit", err)
	}
	if sec, err := svc.DuplicateSecret(ctx, "s", "a", &coffer.SecretDuplicate{Name: "b", MaxLiveSecrets: 2}); err != nil || sec.Name != "b" {
		t.Fatalf("DuplicateSecret under the limit: got %v, %v", sec, err)
	}
}

func TestCreateStores(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "taken"}); err != nil {
		t.Fatal(err)
	}
	stores := func(t *testing.T) []string {
		t.Helper()
		all, err := coffer.AllStores(ctx, svc)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, st := range all {
			out = append(out, st.Name)
		}
		return out
	}
	got, err := svc.CreateStores(ctx, []*coffer.StoreCreate{{Name: "b"}, {Name: "a"}}, 3)
	if err != nil || len(got) != 2 || got[0].Name != "b" {
		t.Fatalf("CreateStores: got %v, %v", got, err)
	}
	if _, err := svc.PutSecret(ctx, "a", &coffer.SecretPut{Name: "x", Value: []byte("1")}); err != nil {
		t.Fatalf("a store of the batch takes secrets: %v", err)
	}
	_, err = svc.CreateStores(ctx, []*coffer.StoreCreate{{Name: "c"}, {Name: "taken"}}, 0)
	var ie *coffer.BatchItemError
	if coffer.ErrorCode(err) != coffer.ECONFLICT || !errors.As(err, &ie) || ie.Index != 1 {
		t.Fatalf("CreateStores with a taken name: got %v, want ECONFLICT of item 1", err)
	}
	if _, err := svc.CreateStores(ctx, []*coffer.StoreCreate{{Name: "c"}}, 3); coffer.ErrorCode(err) != coffer.ECONFLICT || !errors.Is(err, coffer.ErrStoreLimit) {
		t.Fatalf("CreateStores over the limit: got %v, want ErrStoreLimit", err)
	}
	if _, err := svc.CreateStores(ctx, []*coffer.StoreCreate{{Name: "ok"}, {Name: ""}}, 0); coffer.ErrorCode(err) != coffer.EINVALID {
		t.Fatalf("CreateStores with a bad name: got %v, want EINVALID", err)
	}
	w := scoped(t, svc, ctx, coffer.Scope{Store: "c", Actions: []coffer.Action{coffer.ActionAdmin}})
	if _, err := svc.CreateStores(w, []*coffer.StoreCreate{{Name: "c"}, {Name: "d"}}, 0); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("CreateStores of a store the key may not make: got %v, want EFORBIDDEN", err)
	}
	if got, want := stores(t), []string{"a", "b", "taken"}; !slices.Equal(got, want) {
		t.Fatalf("stores: got %q, want %q", got, want)
	}
}
