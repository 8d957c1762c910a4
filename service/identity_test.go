package service_test

import (
	"context"
	"strconv"
	"strings"
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

func TestProfile(t *testing.T) {
	svc, ctx := mustOpenService(t)
	t.Run("OK", func(t *testing.T) {
		p, err := svc.UpdateProfile(ctx, map[string]string{"firstName": "Ada", "lastName": "Lovelace"})
		if err != nil || p.Attributes["firstName"] != "Ada" || p.Attributes["lastName"] != "Lovelace" {
			t.Fatalf("UpdateProfile: got %+v, %v", p, err)
		}
		p, err = svc.UpdateProfile(ctx, map[string]string{"lastName": "", "city": "London"})
		if err != nil || p.Attributes["firstName"] != "Ada" || p.Attributes["city"] != "London" || len(p.Attributes) != 2 {
			t.Fatalf("UpdateProfile merge: got %+v, %v; want firstName and city", p, err)
		}
		p.Attributes["firstName"] = "changed by the caller"
		got, err := svc.Profile(ctx)
		if err != nil || got.Attributes["firstName"] != "Ada" || got.ID != coffer.CallerFrom(ctx).PrincipalID {
			t.Fatalf("Profile: got %+v, %v", got, err)
		}
		if _, who, err := svc.Whoami(ctx); err != nil || who.Attributes["city"] != "London" {
			t.Fatalf("Whoami after the update: got %+v, %v", who, err)
		}
		page, err := svc.AuditEvents(ctx, coffer.AuditQuery{Limit: coffer.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		ev := page.Events[len(page.Events)-1]
		if ev.Action != "principal.update" || ev.Reason != "own profile: city, lastName" || ev.Outcome != "ok" {
			t.Fatalf("audit: got %+v", ev)
		}
	})
	t.Run("ScopedKeyOwnPrincipal", func(t *testing.T) {
		narrow := scoped(t, svc, ctx, coffer.Scope{Store: "x", Actions: []coffer.Action{coffer.ActionList}})
		p, err := svc.UpdateProfile(narrow, map[string]string{"city": "Paris"})
		if err != nil || p.ID != coffer.CallerFrom(ctx).PrincipalID || p.Attributes["city"] != "Paris" {
			t.Fatalf("UpdateProfile with a narrow key: got %+v, %v; want its own principal changed", p, err)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		long := strings.Repeat("x", 256)
		many := map[string]string{}
		for i := range coffer.MaxLabels + 1 {
			many["k"+strconv.Itoa(i)] = "v"
		}
		for name, changes := range map[string]map[string]string{
			"EmptyKey":  {"": "x"},
			"LongValue": {"bio": long},
			"LongKey":   {strings.Repeat("k", 64): "x"},
			"TooMany":   many,
		} {
			if _, err := svc.UpdateProfile(ctx, changes); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Errorf("%s: got %v, want invalid", name, err)
			}
		}
		if p, _ := svc.Profile(ctx); p.Attributes["bio"] != "" {
			t.Fatalf("a refused update changed the profile: %v", p.Attributes)
		}
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		if _, err := svc.UpdateProfile(context.Background(), map[string]string{"a": "b"}); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("got %v, want unauthorized", err)
		}
		if _, err := svc.Profile(context.Background()); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("got %v, want unauthorized", err)
		}
	})
}
