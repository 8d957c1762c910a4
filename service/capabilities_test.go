package service_test

import (
	"fmt"
	"testing"

	"github.com/coffer-dev/coffer"
)

func TestCapabilities(t *testing.T) {
	svc, ctx := mustOpenService(t)
	for _, name := range []string{"prod", "dev"} {
		if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	reader := scoped(t, svc, ctx,
		coffer.Scope{Store: "prod", Secret: "app/*", Actions: []coffer.Action{coffer.ActionReveal, coffer.ActionRead}},
		coffer.Scope{Store: "prod", Secret: "app/db", Actions: []coffer.Action{coffer.ActionWrite}},
		coffer.Scope{Store: "prod", Actions: []coffer.Action{coffer.ActionList}})
	before := lastEvent(t, svc, ctx)
	all := fmt.Sprint(coffer.Actions)
	for _, c := range []struct {
		name        string
		caller      bool // the scoped key, else the admin key
		store, path string
		want        string
	}{
		{"AdminSecret", false, "prod", "app/db", all},
		{"AdminStore", false, "dev", "", all},
		{"AdminUnknownStore", false, "nope", "x", "[]"},
		{"Secret", true, "prod", "app/db", "[list read reveal write]"},
		{"Prefix", true, "prod", "app/other", "[list read reveal]"},
		{"OutsidePrefix", true, "prod", "other", "[list]"},
		{"Store", true, "prod", "", "[list]"},
		{"OtherStore", true, "dev", "app/db", "[]"},
		{"UnknownStore", true, "nope", "app/db", "[]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cx := ctx
			if c.caller {
				cx = reader
			}
			got, err := svc.Capabilities(cx, c.store, c.path)
			if err != nil || got == nil || fmt.Sprint(got) != c.want {
				t.Fatalf("Capabilities(%q, %q): got %v, %v; want %s", c.store, c.path, got, err, c.want)
			}
		})
	}
	if after := lastEvent(t, svc, ctx); after.Seq != before.Seq {
		t.Fatalf("Capabilities audited %s %s, want nothing audited", after.Action, after.Outcome)
	}
	if _, err := svc.Capabilities(t.Context(), "prod", ""); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
		t.Fatalf("Capabilities without a caller: got %v, want EUNAUTHORIZED", err)
	}
}
