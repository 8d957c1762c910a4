package main

import (
	"context"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/client"
)

// TestConsoleScopedKey signs in to the console in Firefox with a key that
// may only list and read the metadata of one store (and read Chutes'
// registry, which is no secret), and checks that the
// console shows what the key allows and nothing more: the other store is
// not listed, there is no audit log, the secret's page offers no reveal,
// new version, rollback or delete, a store creation is refused with the
// API's message, and no value ever reaches the page.
func TestConsoleScopedKey(t *testing.T) {
	t.Parallel() // a browser of its own; mostly waiting
	addr, root := startServer(t)
	ctx := context.Background()
	admin, err := client.New(addr, root)
	if err != nil {
		t.Fatal(err)
	}
	canary, hidden := "CANARY-console-scoped-5d21", "CANARY-console-other-store-9e07"
	for _, st := range []struct{ store, secret, value string }{{"team", "API_TOKEN", canary}, {"other", "HIDDEN", hidden}} {
		if _, err := admin.CreateStore(ctx, &coffer.StoreCreate{Name: st.store}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.PutSecret(ctx, st.store, &coffer.SecretPut{Name: st.secret, Value: []byte(st.value)}); err != nil {
			t.Fatal(err)
		}
	}
	_, token, err := admin.CreateAPIKey(ctx, &coffer.APIKeyCreate{Name: "reader",
		Scopes: []coffer.Scope{{Store: "team", Actions: []coffer.Action{coffer.ActionList, coffer.ActionRead}},
			{ObjectType: "registry", Actions: []coffer.Action{"read"}}}})
	if err != nil {
		t.Fatal(err)
	}

	f, st := signedIn(t, addr, token, 50, &root, &canary, &hidden) // screenshots firefox-51-... and on, after TestConsoleFirefox's
	st.waitFor("stores listed", hasText("table", "team"))
	// A Chutes registry scope grants nothing on secrets and says so; it
	// showed as "read on *" (issue 17 item 6).
	st.waitFor("who", hasText("#who", "list,read on team; read on Chutes registry (no secrets)"))
	if st.inPage("other") {
		t.Errorf("the stores page lists a store the key may not see")
	}
	var auditLink bool
	st.do("audit link", f.eval(`!!document.querySelector("#nav-audit") && document.querySelector("#nav-audit").getClientRects().length > 0`, &auditLink))
	if auditLink {
		t.Errorf("a key that is not admin is offered the audit log")
	}
	st.shot("scoped-stores")

	st.do("store name", f.typeInto("#store-name", "mine"))
	st.do("create a store", f.keys(keyEnter))
	st.waitFor("store creation refused", hasText("[role=alert]", "403"))

	st.do("open the store", f.click(`a[href="#/stores/team"]`))
	st.waitFor("secrets listed", hasText("table", "API_TOKEN"))
	st.do("open the secret", f.click(`a[href="#/stores/team/secrets/API_TOKEN"]`))
	st.waitFor("secret page", hasText("#secret-version", "1"))
	st.waitFor("no reveal offered", shown("#reveal-denied"))
	var offered []string
	st.do("read the controls", f.eval(`[...document.querySelectorAll("main button, main form")].filter(e => e.getClientRects().length > 0)
		.map(e => e.getAttribute("aria-label") || e.textContent)`, &offered))
	for _, c := range offered {
		if strings.Contains(c, "Reveal") || strings.Contains(c, "New version") || strings.Contains(c, "Delete") || strings.Contains(c, "Roll back") {
			t.Errorf("a key that may only list and read is offered %q", c)
		}
	}
	// The API refuses the reveal anyway, with the face's own message.
	var refused string
	st.do("reveal through the API", f.eval(`fetch("/v1/stores/team/secrets/API_TOKEN/value").then(r => r.status + " " + r.headers.get("content-type"))`, &refused))
	if !strings.HasPrefix(refused, "403 application/json") {
		t.Errorf("a reveal with the session: got %q, want 403 with a JSON error", refused)
	}
	if st.inPage(canary) || st.inPage(hidden) {
		t.Errorf("a value reached the page of a key without reveal")
	}
	st.shot("scoped-secret")

	st.do("audit page by address", f.navigate(addr+"/ui/#/audit"))
	st.waitFor("not the audit page", shown("#store-name"))
	var onAudit bool
	st.do("read the page", f.eval(`!!document.querySelector("#audit-verify")`, &onAudit))
	if onAudit {
		t.Errorf("the audit page opens for a key that is not admin")
	}
}
