package service_test

import (
	"testing"

	"github.com/coffer-dev/coffer"
)

func TestSameValues(t *testing.T) {
	svc, root := mustOpenService(t)
	if _, err := svc.CreateStore(root, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	put := func(name, value string) *coffer.Secret {
		t.Helper()
		sec, err := svc.PutSecret(root, "s", &coffer.SecretPut{Name: name, Value: []byte(value), IfVersion: -1})
		if err != nil {
			t.Fatal(err)
		}
		return sec
	}
	a, b, gone := put("a", "1"), put("b", "2"), put("gone", "3")
	if _, err := svc.DeleteSecret(root, "s", "gone", 0); err != nil {
		t.Fatal(err)
	}
	given := map[string][]byte{a.ID: []byte("1"), b.ID: []byte("changed"), gone.ID: []byte("3"), "b": []byte("2")}
	t.Run("OK", func(t *testing.T) {
		same, err := svc.SameValues(root, "s", given)
		if err != nil {
			t.Fatal(err)
		}
		// Only ids name secrets; a deleted secret is never the same.
		if !same[a.ID] || same[b.ID] || same[gone.ID] || same["b"] || len(same) != 2 {
			t.Fatalf("got %v, want only %s (a) the same, and b compared", same, a.ID)
		}
		if ev := lastEvent(t, svc, root); ev.Action != "secret.reveal" {
			t.Fatalf("last event: got %s, want the comparison audited as secret.reveal", ev.Action)
		}
	})
	t.Run("WriteOnly", func(t *testing.T) {
		// A key that may not reveal learns nothing: no comparison, no
		// reveal tried (and refused) in the audit log.
		ctx := scopedCtx(t, svc, root, "wo", coffer.Scope{Store: "s", Actions: []coffer.Action{coffer.ActionList, coffer.ActionRead, coffer.ActionWrite}})
		before := lastEvent(t, svc, root)
		same, err := svc.SameValues(ctx, "s", given)
		if err != nil || len(same) != 0 {
			t.Fatalf("got %v, %v; want nothing compared", same, err)
		}
		if ev := lastEvent(t, svc, root); ev.Seq != before.Seq {
			t.Fatalf("a comparison the key may not make was audited: %s %s", ev.Action, ev.Outcome)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := svc.SameValues(root, "nope", given); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("got %v, want ENOTFOUND", err)
		}
	})
}
