package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/coffer-dev/coffer/server"
)

// browserPath is the browser a console test drives: the binary that the
// environment variable env names, else def, the path of Debian's package
// pkg, which .ci/run installs. Without it the test fails, never skips.
func browserPath(t *testing.T, env, def, pkg string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		p = def
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the console's browser tests need %s (apt-get install -y %s, or set %s): %v", p, pkg, env, err)
	}
	return p
}

// screenshotDir is where the console tests write a screenshot of each page
// for a reviewer: testdata/screenshots (ignored by git), or
// COFFER_SCREENSHOTS.
func screenshotDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("COFFER_SCREENSHOTS")
	if d == "" {
		d = filepath.Join("testdata", "screenshots")
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// browser starts a headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath(t, "COFFER_CHROMIUM", "/usr/bin/chromium", "chromium")),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// TestConsoleBrowser drives the console in a real headless Chromium
// through the flow of the issue: sign in, create a store and a secret,
// check that nothing the browser received holds the value, reveal it, make
// a new version, roll back, create and revoke a key and see its next
// request refused, find the events in the audit page, sign out.
func TestConsoleBrowser(t *testing.T) {
	t.Parallel() // half a minute waits for the value to hide: let other waiting tests run meanwhile
	// A short audit search window, so that a filtered audit page takes the
	// console several requests, window by window.
	addr, token := startServer(t, func(c *server.Config) { c.AuditWindow = 32 })
	ctx := browser(t)
	shots := screenshotDir(t)
	const canary = "CANARY-console-e2e-7f3a9c"

	// Record every response the browser receives, to scan them for the
	// value before it is revealed.
	var mu sync.Mutex
	type resp struct {
		id  network.RequestID
		url string
	}
	var responses []resp
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*network.EventLoadingFinished); ok {
			mu.Lock()
			responses = append(responses, resp{id: e.RequestID})
			mu.Unlock()
		}
		if e, ok := ev.(*network.EventResponseReceived); ok {
			mu.Lock()
			for i := range responses {
				if responses[i].id == e.RequestID {
					responses[i].url = e.Response.URL
				}
			}
			responses = append(responses, resp{id: e.RequestID, url: e.Response.URL})
			mu.Unlock()
		}
	})

	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var b []byte // quality 100 makes a PNG
			if err := chromedp.FullScreenshot(&b, 100).Do(ctx); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), b, 0o644)
		})
	}
	run := func(step string, actions ...chromedp.Action) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Run(sctx, actions...); err != nil {
			var page string
			_ = chromedp.Run(ctx, chromedp.Text("main", &page, chromedp.ByQuery))
			t.Fatalf("%s: %v\npage: %s", step, err, page)
		}
	}
	textOf := func(sel string) string {
		t.Helper()
		var s string
		run("read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
		return s
	}
	waitText := func(sel, want string) chromedp.Action {
		return chromedp.Poll(`(() => { const e = document.querySelector(`+jsString(sel)+`); return !!e && e.textContent.includes(`+jsString(want)+`); })()`,
			nil, chromedp.WithPollingTimeout(20*time.Second))
	}

	// submit submits the form of the element as pressing Enter in it does
	// (chromedp.Submit calls form.submit(), which skips the submit event).
	submit := func(sel string) chromedp.Action {
		return chromedp.Evaluate(`document.querySelector(`+jsString(sel)+`).form.requestSubmit()`, nil)
	}

	clear := func(sel string) chromedp.Action {
		return chromedp.Evaluate(`document.querySelector(`+jsString(sel)+`).value = ""`, nil)
	}

	run("enable network", network.Enable())
	run("sign in page", chromedp.Navigate(addr+"/ui/"), chromedp.WaitVisible("#apikey", chromedp.ByQuery), shot("01-sign-in"))
	run("sign in with a wrong key", chromedp.SendKeys("#apikey", "cfr_wrong", chromedp.ByQuery), submit("#apikey"),
		waitText("[role=alert]", "401"))
	run("sign in", clear("#apikey"), chromedp.SendKeys("#apikey", token+kb.Enter, chromedp.ByQuery), chromedp.WaitVisible("#store-name", chromedp.ByQuery), shot("02-stores-empty"))

	run("create a store", chromedp.SendKeys("#store-name", "team", chromedp.ByQuery), chromedp.SendKeys("#store-comment", "the team's store", chromedp.ByQuery),
		submit("#store-name"), chromedp.WaitVisible("#secret-name", chromedp.ByQuery), waitText("h1", "Store team"))
	run("create a secret", chromedp.SendKeys("#secret-name", "DB_PASSWORD", chromedp.ByQuery), chromedp.SendKeys("#secret-value", canary, chromedp.ByQuery),
		chromedp.SendKeys("#secret-comment", "primary database", chromedp.ByQuery), submit("#secret-name"),
		chromedp.WaitVisible("#reveal", chromedp.ByQuery), waitText("#secret-version", "1"))
	run("secrets of the store", chromedp.Navigate(addr+"/ui/#/stores/team"), waitText("table", "DB_PASSWORD"), shot("03-secrets"))
	run("stores list", chromedp.Navigate(addr+"/ui/#/stores"), waitText("table", "team"), shot("04-stores"))
	run("secret page", chromedp.Navigate(addr+"/ui/#/stores/team/secrets/DB_PASSWORD"), waitText("#secret-version", "1"),
		waitText("table", "current"), chromedp.Sleep(300*time.Millisecond), shot("05-secret"))

	// Before the reveal: no response the browser got and nothing in the
	// page holds the value.
	run("scan for the canary", chromedp.ActionFunc(func(ctx context.Context) error {
		mu.Lock()
		rs := append([]resp(nil), responses...)
		mu.Unlock()
		scanned := map[network.RequestID]bool{}
		for _, r := range rs {
			if scanned[r.id] {
				continue
			}
			body, err := network.GetResponseBody(r.id).Do(ctx)
			if err != nil {
				continue // a redirect or a response without a body
			}
			scanned[r.id] = true
			if strings.Contains(string(body), canary) {
				t.Errorf("response %s holds the secret value before reveal", r.url)
			}
		}
		if len(scanned) < 10 {
			t.Errorf("scanned %d responses, want the console's files and its API calls (at least 10)", len(scanned))
		}
		t.Logf("scanned %d responses before reveal", len(scanned))
		var html string
		if err := chromedp.OuterHTML("html", &html, chromedp.ByQuery).Do(ctx); err != nil {
			return err
		}
		if strings.Contains(html, canary) {
			t.Errorf("the page holds the secret value before reveal")
		}
		return nil
	}))

	run("reveal", chromedp.Click("#reveal", chromedp.ByQuery), waitText("#secret-value-out", canary), shot("06-secret-revealed"))
	run("new version", chromedp.SendKeys("#new-version", "second-value", chromedp.ByQuery), submit("#new-version"),
		waitText("#secret-version", "2"), waitText("#status", "Version 2 saved"))
	if got := textOf("#secret-value-out"); got != "" {
		t.Errorf("the value stayed shown after a new version: %q", got)
	}
	run("roll back", chromedp.WaitVisible(`button[aria-label="Roll back to version 1"]`, chromedp.ByQuery),
		chromedp.Click(`button[aria-label="Roll back to version 1"]`, chromedp.ByQuery), waitText("#secret-version", "3"),
		chromedp.Click("#reveal", chromedp.ByQuery), waitText("#secret-value-out", canary), shot("07-secret-rolled-back"))

	// The value hides itself again after 30 seconds.
	revealedAt := time.Now()
	run("value hides itself", chromedp.Poll(`(() => { const o = document.querySelector("#secret-value-out"); return o.hidden && o.textContent === ""; })()`,
		nil, chromedp.WithPollingTimeout(45*time.Second)))
	if d := time.Since(revealedAt); d < 25*time.Second {
		t.Errorf("the value hid after %s, want about 30s", d)
	}
	if got := textOf("#reveal"); got != "Reveal value" {
		t.Errorf("after hiding, the reveal button reads %q", got)
	}

	run("delete the secret", chromedp.Click(`//button[text()="Delete secret"]`, chromedp.BySearch),
		chromedp.WaitVisible(".confirm button.danger", chromedp.ByQuery), chromedp.Click(".confirm button.danger", chromedp.ByQuery),
		waitText("#secret-status", "deleted"), shot("07b-secret-deleted"))
	run("undelete the secret", chromedp.Click(`//button[text()="Undelete"]`, chromedp.BySearch), waitText("#secret-status", "active"))
	run("delete a store", chromedp.Navigate(addr+"/ui/#/stores"), chromedp.WaitVisible("#store-name", chromedp.ByQuery),
		chromedp.SendKeys("#store-name", "scratch", chromedp.ByQuery), submit("#store-name"), waitText("h1", "Store scratch"),
		chromedp.Navigate(addr+"/ui/#/stores"), waitText("table", "scratch"),
		chromedp.Click(`button[aria-label="Delete store scratch"]`, chromedp.ByQuery),
		chromedp.WaitVisible(".confirm button.danger", chromedp.ByQuery), chromedp.Click(".confirm button.danger", chromedp.ByQuery),
		waitText("#status", "Store scratch deleted"), waitText("table", "team"))
	var scratchLeft bool
	run("stores after delete", chromedp.Evaluate(`document.querySelector("table").textContent.includes("scratch")`, &scratchLeft))
	if scratchLeft {
		t.Errorf("the deleted store is still listed")
	}

	run("keys page", chromedp.Navigate(addr+"/ui/#/keys"), chromedp.WaitVisible("#key-name", chromedp.ByQuery), waitText("table", "active"))
	run("create a key", chromedp.SendKeys("#key-name", "ci-reader", chromedp.ByQuery), chromedp.SendKeys("#key-store", "team", chromedp.ByQuery),
		chromedp.Click("#key-act-list", chromedp.ByQuery), chromedp.Click("#key-act-read", chromedp.ByQuery),
		submit("#key-name"), chromedp.WaitVisible("#new-token", chromedp.ByQuery), waitText("table", "ci-reader"), shot("08-keys-created"))
	newToken := strings.TrimSpace(textOf("#new-token"))
	if got := apiStatus(t, addr, newToken); got != http.StatusOK {
		t.Fatalf("the new key before revoke: got %d, want 200", got)
	}
	run("revoke the key", chromedp.Click(`button[aria-label="Revoke key ci-reader"]`, chromedp.ByQuery),
		chromedp.WaitVisible(".confirm button.danger", chromedp.ByQuery), chromedp.Click(".confirm button.danger", chromedp.ByQuery),
		waitText("#status", "Key ci-reader revoked"), waitText("table", "revoked"), shot("09-keys-revoked"))
	if got := apiStatus(t, addr, newToken); got != http.StatusUnauthorized {
		t.Fatalf("the revoked key's next request: got %d, want 401", got)
	}

	// Push the early events off the newest page: 60 reveals through the
	// API, so that what the filters find must come from the server.
	for range 60 {
		if got := apiGet(t, addr, token, "/v1/stores/team/secrets/DB_PASSWORD/value"); got != http.StatusOK {
			t.Fatalf("reveal through the API: got %d, want 200", got)
		}
	}
	auditRequests := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, r := range responses {
			if strings.Contains(r.url, "/v1/audit?") {
				out = append(out, r.url)
			}
		}
		return out
	}
	var rows int
	var firstPage string
	run("audit page", chromedp.Navigate(addr+"/ui/#/audit"), waitText("#audit-verify", "Audit chain verified"), waitText("table", "secret.reveal"),
		chromedp.Evaluate(`document.querySelectorAll("tbody tr").length`, &rows), chromedp.Text("tbody", &firstPage, chromedp.ByQuery), shot("10-audit"))
	if rows != 50 || strings.Contains(firstPage, "store.create") {
		t.Errorf("the newest audit page: got %d rows (store.create shown: %v), want 50 newer events", rows, strings.Contains(firstPage, "store.create"))
	}
	run("older events", chromedp.Click("#audit-older", chromedp.ByQuery), chromedp.WaitVisible("#audit-newest", chromedp.ByQuery),
		waitText("tbody", "store.create"), chromedp.Click("#audit-newest", chromedp.ByQuery),
		chromedp.WaitNotPresent("#audit-newest", chromedp.ByQuery), waitText("tbody", "secret.reveal"))
	run("filter the audit by store.create", clear("#f-action"), chromedp.SendKeys("#f-action", "store.create", chromedp.ByQuery),
		submit("#f-action"), waitText("tbody", "store.create"))
	var createRows []string
	run("read the store.create rows", chromedp.Evaluate(`[...document.querySelectorAll("tbody tr td:nth-child(3)")].map(td => td.textContent)`, &createRows))
	if len(createRows) != 2 { // team and scratch, older than the newest page
		t.Errorf("the audit filtered by store.create: got actions %q, want the 2 store creations", createRows)
	}
	var searches, continued int
	for _, u := range auditRequests() {
		if strings.Contains(u, "action=store.create") && strings.Contains(u, "order=desc") {
			searches++
			if strings.Contains(u, "before=") {
				continued++
			}
		}
	}
	if searches == 0 || continued == 0 {
		t.Errorf("audit requests with the store.create filter: %d, %d of them continuing a search; want the filter sent to the server, window after window",
			searches, continued)
	}
	var prefixed []string
	run("filter by object and a prefix", clear("#f-action"), chromedp.SendKeys("#f-action", "secret.", chromedp.ByQuery),
		chromedp.SendKeys("#f-secret", "DB_PASSWORD", chromedp.ByQuery), submit("#f-action"), waitText("#audit-summary", "matching the filters"),
		chromedp.Evaluate(`[...document.querySelectorAll("tbody tr td:nth-child(3)")].map(td => td.textContent)`, &prefixed))
	if len(prefixed) == 0 || slices.ContainsFunc(prefixed, func(a string) bool { return !strings.HasPrefix(a, "secret.") }) {
		t.Errorf("the audit filtered by action secret. and object DB_PASSWORD: got actions %q", prefixed)
	}
	run("filter matching nothing", clear("#f-secret"), chromedp.Evaluate(`document.querySelector("#f-from").value = "2099-01-01T00:00"`, nil),
		submit("#f-action"), waitText("main", "No event matches these filters."))
	if reqs := auditRequests(); !slices.ContainsFunc(reqs, func(u string) bool {
		return strings.Contains(u, "since=2099-01-01T") || strings.Contains(u, "since=2098-12-31T")
	}) {
		t.Errorf("no audit request sent the From time as since in UTC: %q", reqs)
	}
	run("clear the filters", chromedp.Click(`//button[text()="Clear filters"]`, chromedp.BySearch), waitText("tbody", "secret.reveal"))
	for _, action := range []string{"secret.write", "secret.reveal", "secret.rollback", "key.create", "key.revoke"} {
		run("filter the audit by "+action, clear("#f-action"), chromedp.SendKeys("#f-action", action, chromedp.ByQuery),
			submit("#f-action"), waitText("tbody", action))
		var other bool
		run("read the filtered audit", chromedp.Evaluate(`[...document.querySelectorAll("tbody tr td:nth-child(3)")].some(td => td.textContent !== `+jsString(action)+`)`, &other))
		if other {
			t.Errorf("the audit filtered by %s shows other actions", action)
		}
	}
	run("audit filtered", shot("11-audit-filtered"))

	// At 200% zoom a 1280-pixel window is 640 CSS pixels wide: every page
	// must fit without scrolling sideways (wide tables scroll in their own
	// box).
	for _, pg := range []struct{ name, hash, ready string }{
		{"stores", "#/stores", "table"}, {"secrets", "#/stores/team", "table"}, {"secret", "#/stores/team/secrets/DB_PASSWORD", "table"},
		{"keys", "#/keys", "table"}, {"audit", "#/audit", "tbody"},
	} {
		var overflow bool
		run("200% zoom: "+pg.name, chromedp.EmulateViewport(640, 900), chromedp.Navigate(addr+"/ui/"+pg.hash),
			chromedp.WaitVisible(pg.ready, chromedp.ByQuery),
			chromedp.Evaluate(`document.documentElement.scrollWidth > document.documentElement.clientWidth`, &overflow),
			shot("12-zoom200-"+pg.name))
		if overflow {
			t.Errorf("at 200%% zoom the %s page scrolls sideways", pg.name)
		}
	}
	run("full width", chromedp.EmulateViewport(1280, 900))

	// Keyboard: a page change moves the focus to its content, where Tab
	// reaches the first control; the first focusable element of the
	// document is the skip link. Every control has an accessible name.
	var first, inMain string
	var unnamed []string
	run("keyboard and labels", chromedp.Navigate(addr+"/ui/#/keys"), chromedp.WaitVisible("#key-name", chromedp.ByQuery),
		chromedp.KeyEvent(kb.Tab), chromedp.Evaluate(`document.activeElement.id`, &inMain),
		chromedp.Evaluate(`document.querySelector("a[href], button, input").textContent`, &first),
		chromedp.Evaluate(`[...document.querySelectorAll("input, button, select, textarea")].filter(e =>
			!(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.textContent.trim()).map(e => e.outerHTML)`, &unnamed))
	if inMain != "key-name" {
		t.Errorf("Tab after a page change: focus on %q, want the page's first control key-name", inMain)
	}
	if first != "Skip to content" {
		t.Errorf("first focusable element: got %q, want the skip link", first)
	}
	if len(unnamed) > 0 {
		t.Errorf("controls without a label: %v", unnamed)
	}

	run("sign out", chromedp.Click("#signout", chromedp.ByQuery), chromedp.WaitVisible("#apikey", chromedp.ByQuery), waitText("[role=alert]", "signed out"))
	run("after sign-out", chromedp.Navigate(addr+"/ui/#/stores"), chromedp.WaitVisible("#apikey", chromedp.ByQuery))
}

// apiStatus is the status of GET /v1/stores with token.
func apiStatus(t *testing.T, addr, token string) int {
	t.Helper()
	return apiGet(t, addr, token, "/v1/stores")
}

// apiGet is the status of GET path with token.
func apiGet(t *testing.T, addr, token, path string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", addr+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(" ")
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestConsoleSessionOnlyNative checks that a console session authenticates
// the native API only: the provider faces ignore the cookie.
func TestConsoleSessionOnlyNative(t *testing.T) {
	addr, token := startServer(t)
	account := accountOf(t, addr, token)
	req, _ := http.NewRequest("POST", addr+"/ui/session", strings.NewReader(`{"key":"`+token+`"}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var cookie *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "coffer_session" {
			cookie = ck
		}
	}
	if res.StatusCode != 200 || cookie == nil {
		t.Fatalf("sign-in: got %d with cookie %v", res.StatusCode, cookie)
	}
	get := func(path string, bearer bool) int {
		req, _ := http.NewRequest("GET", addr+path, nil)
		if bearer {
			req.Header.Set("Authorization", "Bearer "+token)
		} else {
			req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := get("/v1/stores", false); got != 200 {
		t.Fatalf("native API with the session: got %d, want 200", got)
	}
	cf := "/cloudflare/client/v4/accounts/" + account + "/secrets_store/stores"
	if got := get(cf, true); got != 200 {
		t.Fatalf("Cloudflare face with the key: got %d, want 200", got)
	}
	if got := get(cf, false); got == 200 {
		t.Fatalf("Cloudflare face with only the session cookie: got 200, want a refusal")
	}
}
