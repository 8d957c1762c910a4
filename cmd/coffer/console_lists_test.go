package main

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/client"
)

// TestConsoleLists checks in Firefox that long lists page: 25 secrets of a
// store are shown 20 and then 5 (server-side, with the API's cursor), each
// once; a name search and "Show deleted" narrow and widen the list; 25
// stores and 25 more API keys page the same way.
func TestConsoleLists(t *testing.T) {
	t.Parallel() // a browser of its own; mostly waiting
	addr, root := startServer(t)
	ctx := context.Background()
	admin, err := client.New(addr, root)
	if err != nil {
		t.Fatal(err)
	}
	const n = 25 // the console shows 20 a page
	names := make([]string, n)
	for i := range n {
		if _, err := admin.CreateStore(ctx, &coffer.StoreCreate{Name: fmt.Sprintf("store-%02d", i+1)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := admin.CreateAPIKey(ctx, &coffer.APIKeyCreate{Name: fmt.Sprintf("key-%02d", i+1),
			Scopes: []coffer.Scope{{Store: "store-01", Actions: []coffer.Action{coffer.ActionList}}}}); err != nil {
			t.Fatal(err)
		}
		names[i] = fmt.Sprintf("app/%02d", i+1)
		if _, err := admin.PutSecret(ctx, "store-01", &coffer.SecretPut{Name: names[i], Value: []byte("list-s3cr3t")}); err != nil {
			t.Fatal(err)
		}
	}

	f, st := signedIn(t, addr, root, 70) // screenshots firefox-71-... and on, after the other Firefox tests'
	st.waitFor("stores listed", hasText("table", "store-01"))

	// firstCells reads the first cell of every row of the page's table
	// once it has rows rows.
	firstCells := func(step string, rows int) []string {
		t.Helper()
		st.waitFor(step, fmt.Sprintf(`document.querySelectorAll("main tbody tr").length === %d`, rows))
		var cells []string
		st.do(step, f.eval(`[...document.querySelectorAll("main tbody tr td:first-child")].map(td => td.textContent)`, &cells))
		return cells
	}
	// pages reads a list through its pager, 20 items then the rest, checks
	// that it saw each of want once, and goes back with the button back.
	pages := func(what string, want []string, back string) {
		t.Helper()
		first := firstCells(what+", page 1", 20)
		st.shot(what + "-page1")
		st.do(what+": next page", f.click(`//main//button[text()="Next page"]`))
		second := firstCells(what+", page 2", len(want)-20)
		st.shot(what + "-page2")
		got := slices.Concat(first, second)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s over two pages: got %q, want each of %q once", what, got, want)
		}
		var more bool
		st.do(what+": pager", f.eval(`[...document.querySelectorAll("main .pager button")].some(b => b.textContent === "Next page")`, &more))
		if more {
			t.Errorf("%s: the last page offers a next page", what)
		}
		st.do(what+": back", f.click(`//main//button[text()="`+back+`"]`))
		if again := firstCells(what+", page 1 again", 20); !slices.Equal(again, first) {
			t.Errorf("%s: %s shows %q, want the first page %q", what, back, again, first)
		}
	}

	stores := make([]string, n)
	for i := range stores {
		stores[i] = fmt.Sprintf("store-%02d", i+1)
	}
	pages("stores", stores, "First page")

	st.do("open store-01", f.click(`a[href="#/stores/store-01"]`))
	st.waitFor("secrets listed", hasText("h1", "Store store-01"))
	pages("secrets", names, "First page")

	st.do("search", f.typeInto("#secret-search", "app/1"))
	st.do("search", f.keys(keyEnter))
	want := []string{"app/10", "app/11", "app/12", "app/13", "app/14", "app/15", "app/16", "app/17", "app/18", "app/19"}
	if got := firstCells("names starting with app/1", len(want)); !slices.Equal(got, want) {
		t.Errorf("search app/1: got %q, want %q", got, want)
	}
	st.shot("secrets-search")
	if _, err := admin.DeleteSecret(ctx, "store-01", "app/15", 0); err != nil {
		t.Fatal(err)
	}
	st.do("search again", f.click(`form[aria-label="Search secrets"] button[type=submit]`))
	if got := firstCells("app/15 deleted", len(want)-1); slices.Contains(got, "app/15") {
		t.Errorf("a deleted secret is listed without Show deleted: %q", got)
	}
	st.do("show deleted", f.click("#show-deleted"))
	st.do("search with deleted", f.click(`form[aria-label="Search secrets"] button[type=submit]`))
	st.waitFor("deleted listed", `[...document.querySelectorAll("main tbody tr")].some(tr => tr.textContent.includes("app/15") && tr.textContent.includes("deleted"))`)

	all, err := admin.APIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range all {
		keys = append(keys, k.Name)
	}
	slices.Sort(keys)
	if len(keys) != n+1 {
		t.Fatalf("keys: got %d, want the %d made and the root key", len(keys), n)
	}
	st.do("keys page", f.click(`#nav a[href="#/keys"]`))
	st.waitFor("keys listed", shown("#key-name"))
	pages("keys", keys, "Previous page")
	if st.inPage("list-s3cr3t") {
		t.Errorf("a secret value reached the page")
	}
}
