package service_test

import (
	"slices"
	"testing"

	"github.com/coffer-dev/coffer"
)

func TestSecretsListing(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	// Created in this order: created order differs from name order.
	for _, name := range []string{"pub/c", "priv/a", "pub/a", "priv/b", "pub/b"} {
		if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: name, Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.DeleteSecret(ctx, "s", "priv/b", 0); err != nil {
		t.Fatal(err)
	}
	pub := scoped(t, svc, ctx, coffer.Scope{Store: "s", Secret: "pub/*", Actions: []coffer.Action{coffer.ActionList}})
	names := func(p *coffer.SecretPage) []string {
		var out []string
		for _, sec := range p.Secrets {
			out = append(out, sec.Name)
		}
		return out
	}
	for _, c := range []struct {
		name      string
		scoped    bool
		q         coffer.ListSecrets
		want      []string
		total     int
		hasCursor bool
	}{
		{"Created", false, coffer.ListSecrets{Order: coffer.OrderCreated, Total: true}, []string{"pub/c", "priv/a", "pub/a", "pub/b"}, 4, false},
		{"CreatedDescOffset", false, coffer.ListSecrets{Page: coffer.Page{Limit: 2}, Order: coffer.OrderCreated, Desc: true, Offset: 1, Total: true}, []string{"pub/a", "priv/a"}, 4, false},
		{"NameDesc", false, coffer.ListSecrets{Page: coffer.Page{Limit: 2}, Desc: true}, []string{"pub/c", "pub/b"}, 0, true},
		{"Contains", false, coffer.ListSecrets{Contains: "/a", Total: true}, []string{"priv/a", "pub/a"}, 2, false},
		{"Deleted", false, coffer.ListSecrets{Contains: "priv", IncludeDeleted: true, Total: true}, []string{"priv/a", "priv/b"}, 2, false},
		// A scoped key counts and pages only what it may list.
		{"ScopedTotal", true, coffer.ListSecrets{Order: coffer.OrderCreated, Total: true}, []string{"pub/c", "pub/a", "pub/b"}, 3, false},
		{"ScopedOffset", true, coffer.ListSecrets{Page: coffer.Page{Limit: 1}, Order: coffer.OrderCreated, Offset: 1, Total: true}, []string{"pub/a"}, 3, false},
		{"ScopedByName", true, coffer.ListSecrets{Page: coffer.Page{Limit: 2}, Offset: 1, Total: true}, []string{"pub/b", "pub/c"}, 3, false},
		{"ScopedCursor", true, coffer.ListSecrets{Page: coffer.Page{Limit: 1}, Contains: "/b", Total: true}, []string{"pub/b"}, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cx := ctx
			if c.scoped {
				cx = pub
			}
			page, err := svc.Secrets(cx, "s", c.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(page); !slices.Equal(got, c.want) || page.Total != c.total || (page.NextCursor != "") != c.hasCursor {
				t.Fatalf("got %q total %d cursor %q, want %q total %d cursor %v", got, page.Total, page.NextCursor, c.want, c.total, c.hasCursor)
			}
		})
	}
	t.Run("NameDescCursor", func(t *testing.T) {
		q := coffer.ListSecrets{Page: coffer.Page{Limit: 2}, Desc: true}
		var got []string
		for range 5 {
			page, err := svc.Secrets(ctx, "s", q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, names(page)...)
			if q.Cursor = page.NextCursor; q.Cursor == "" {
				break
			}
		}
		if want := []string{"pub/c", "pub/b", "pub/a", "priv/a"}; !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for name, q := range map[string]coffer.ListSecrets{
			"Order":          {Order: "size"},
			"NegativeOffset": {Offset: -1},
			"CursorOffset":   {Page: coffer.Page{Cursor: "YQ"}, Offset: 1},
			"CursorCreated":  {Page: coffer.Page{Cursor: "YQ"}, Order: coffer.OrderCreated},
		} {
			if _, err := svc.Secrets(ctx, "s", q); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Errorf("%s: got %v, want EINVALID", name, err)
			}
		}
	})
}

func TestListStores(t *testing.T) {
	svc, ctx := mustOpenService(t)
	for _, name := range []string{"app-b", "db", "app-a", "web"} {
		if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	apps := scoped(t, svc, ctx, coffer.Scope{Store: "app-a", Actions: []coffer.Action{coffer.ActionList}},
		coffer.Scope{Store: "app-b", Actions: []coffer.Action{coffer.ActionList}},
		coffer.Scope{Store: "web", Actions: []coffer.Action{coffer.ActionList}})
	names := func(p *coffer.StorePage) []string {
		var out []string
		for _, st := range p.Stores {
			out = append(out, st.Name)
		}
		return out
	}
	for _, c := range []struct {
		name   string
		scoped bool
		q      coffer.ListStores
		want   []string
		total  int
	}{
		{"Name", false, coffer.ListStores{Total: true}, []string{"app-a", "app-b", "db", "web"}, 4},
		{"CreatedDesc", false, coffer.ListStores{Order: coffer.OrderCreated, Desc: true, Limit: 2, Offset: 1, Total: true}, []string{"app-a", "db"}, 4},
		{"Contains", false, coffer.ListStores{Contains: "app", Total: true}, []string{"app-a", "app-b"}, 2},
		{"Name", false, coffer.ListStores{Name: "db", Total: true}, []string{"db"}, 1},
		{"Scoped", true, coffer.ListStores{Limit: 2, Offset: 1, Total: true}, []string{"app-b", "web"}, 3},
		{"ScopedContains", true, coffer.ListStores{Contains: "b", Total: true}, []string{"app-b", "web"}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			cx := ctx
			if c.scoped {
				cx = apps
			}
			page, err := svc.ListStores(cx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(page); !slices.Equal(got, c.want) || page.Total != c.total {
				t.Fatalf("got %q total %d, want %q total %d", got, page.Total, c.want, c.total)
			}
		})
	}
	if _, err := svc.ListStores(ctx, coffer.ListStores{Offset: -1}); coffer.ErrorCode(err) != coffer.EINVALID {
		t.Fatalf("negative offset: got %v, want EINVALID", err)
	}
}

// TestSecretsListingCached checks that an ordered listing, cached for the
// callers who may list everything, changes with every write to its store.
func TestSecretsListingCached(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	q := coffer.ListSecrets{Order: coffer.OrderCreated, Desc: true, Total: true}
	for i, name := range []string{"a", "b", "c"} {
		if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: name, Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
		// The listing by name is cached too, under another key.
		if _, err := svc.Secrets(ctx, "s", coffer.ListSecrets{}); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second is served from the cache
			p, err := svc.Secrets(ctx, "s", q)
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != i+1 || len(p.Secrets) != i+1 || p.Secrets[0].Name != name {
				t.Fatalf("after %s: got total %d, %d secrets, first %q; want %d, newest first", name, p.Total, len(p.Secrets), p.Secrets[0].Name, i+1)
			}
		}
	}
	if _, err := svc.DeleteSecret(ctx, "s", "c", 0); err != nil {
		t.Fatal(err)
	}
	if p, err := svc.Secrets(ctx, "s", q); err != nil || p.Total != 2 || p.Secrets[0].Name != "b" {
		t.Fatalf("after a delete: got %v, %v; want a total of 2, b first", p, err)
	}
}
