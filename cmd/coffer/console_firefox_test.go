package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// firefoxPrefs go to the profile's user.js. Firefox started with a remote
// debugging port already applies the automation prefs (no first-run pages,
// no updates); these add BiDi only (no CDP), no telemetry and no calls to
// Mozilla's services.
const firefoxPrefs = `user_pref("remote.active-protocols", 1);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.normandy.enabled", false);
user_pref("app.shield.optoutstudies.enabled", false);
user_pref("messaging-system.rsexperimentloader.enabled", false);
user_pref("services.settings.server", "http://127.0.0.1:9/");
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("extensions.getAddons.cache.enabled", false);
user_pref("signon.rememberSignons", false);
`

var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

// firefox is one headless Firefox driven over WebDriver BiDi, with its
// single top-level browsing context.
type firefox struct {
	t      *testing.T
	ctx    context.Context
	c      *bidiConn
	top    string // the browsing context
	stderr *lockedBuilder

	mu        sync.Mutex
	responses []bidiResponse // from network.responseCompleted
}

type bidiResponse struct{ id, url string }

// startFirefox starts firefox-esr headless on a fresh profile with its own
// HOME, connects over BiDi and opens a session. Firefox and every process
// it started are killed when the test ends.
func startFirefox(t *testing.T) *firefox {
	t.Helper()
	bin := browserPath(t, "COFFER_FIREFOX", "/usr/bin/firefox-esr", "firefox-esr")
	dir := t.TempDir() // before the cleanup below, so removed after Firefox is gone
	profile, home := filepath.Join(dir, "profile"), filepath.Join(dir, "home")
	for _, d := range []string{profile, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(firefoxPrefs), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-remote", "--remote-debugging-port=0", "--profile", profile, "about:blank")
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "MOZ_CRASHREPORTER_DISABLE=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own process group, killed whole
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start firefox: %v", err)
	}
	f := &firefox{t: t, stderr: &lockedBuilder{}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	f.ctx = ctx
	wsURL := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if m := bidiListening.FindStringSubmatch(line); m != nil {
				select {
				case wsURL <- m[1]:
				default:
				}
			}
			if len(f.stderr.String()) < 64<<10 {
				fmt.Fprintln(f.stderr, line)
			}
		}
		_, _ = io.Copy(io.Discard, pipe) // after a line too long for the scanner
	}()
	pgid := cmd.Process.Pid
	t.Cleanup(func() {
		if f.c != nil {
			// browser.close ends the session and quits Firefox, which
			// reaps its content processes.
			cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = f.c.call(cctx, "browser.close", nil, nil)
			ccancel()
			f.c.close()
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Logf("firefox did not quit within 10s of browser.close; killing it")
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // whatever of the group is left
		<-exited
		<-scanned
		cancel()
		if left := liveInGroup(pgid, 5*time.Second); len(left) > 0 {
			t.Errorf("firefox processes left after the test: %v", left)
		}
	})

	select {
	case u := <-wsURL:
		c, err := dialBiDi(ctx, u+"/session", f.event)
		if err != nil {
			t.Fatalf("connect to firefox: %v\nfirefox stderr:\n%s", err, f.stderr)
		}
		f.c = c
	case <-scanned:
		t.Fatalf("firefox exited before listening for WebDriver BiDi:\n%s", f.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("firefox did not report a WebDriver BiDi address within 30s:\n%s", f.stderr)
	}
	f.must("session.new", map[string]any{"capabilities": map[string]any{}}, nil)
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	f.must("browsingContext.getTree", map[string]any{"maxDepth": 0}, &tree)
	if len(tree.Contexts) == 0 {
		var created struct {
			Context string `json:"context"`
		}
		f.must("browsingContext.create", map[string]any{"type": "tab"}, &created)
		f.top = created.Context
	} else {
		f.top = tree.Contexts[0].Context
	}
	f.must("browsingContext.setViewport", map[string]any{"context": f.top, "viewport": map[string]int{"width": 1280, "height": 900}}, nil)
	return f
}

// liveInGroup lists the processes of group pgid that are still running
// (zombies aside) after waiting up to d for them to go.
func liveInGroup(pgid int, d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		var live []string
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if err != nil {
				continue
			}
			// pid (comm) state ppid pgrp ...; comm may hold spaces.
			s := string(b)
			i := strings.LastIndexByte(s, ')')
			if i < 0 {
				continue
			}
			fields := strings.Fields(s[i+1:])
			if len(fields) < 3 || fields[0] == "Z" || fields[0] == "X" {
				continue
			}
			if g, _ := strconv.Atoi(fields[2]); g == pgid {
				live = append(live, fmt.Sprintf("%d %s", pid, s[strings.IndexByte(s, '(')+1:i]))
			}
		}
		if len(live) == 0 || time.Now().After(deadline) {
			return live
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// event records the responses the browser received.
func (f *firefox) event(method string, params json.RawMessage) {
	if method != "network.responseCompleted" {
		return
	}
	var ev struct {
		Request struct {
			Request string `json:"request"`
		} `json:"request"`
		Response struct {
			URL string `json:"url"`
		} `json:"response"`
	}
	if json.Unmarshal(params, &ev) != nil {
		return
	}
	f.mu.Lock()
	f.responses = append(f.responses, bidiResponse{ev.Request.Request, ev.Response.URL})
	f.mu.Unlock()
}

// call sends one BiDi command with a 30-second limit.
func (f *firefox) call(method string, params, result any) error {
	ctx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	defer cancel()
	return f.c.call(ctx, method, params, result)
}

func (f *firefox) must(method string, params, result any) {
	f.t.Helper()
	if err := f.call(method, params, result); err != nil {
		f.t.Fatalf("%v\nfirefox stderr:\n%s", err, f.stderr)
	}
}

// eval evaluates the JavaScript expression expr (which may be a promise)
// in the page and decodes its JSON value into out (if not nil).
func (f *firefox) eval(expr string, out any) error {
	var res struct {
		Type   string `json:"type"`
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	err := f.call("script.evaluate", map[string]any{
		"expression":      "(async () => JSON.stringify(await (" + expr + ")))()",
		"target":          map[string]string{"context": f.top},
		"awaitPromise":    true,
		"resultOwnership": "none",
	}, &res)
	if err != nil {
		return err
	}
	if res.Type == "exception" {
		return fmt.Errorf("script: %s", res.ExceptionDetails.Text)
	}
	if out == nil || res.Result.Type != "string" {
		return nil
	}
	var js string
	if err := json.Unmarshal(res.Result.Value, &js); err != nil {
		return err
	}
	return json.Unmarshal([]byte(js), out)
}

// navigate loads url and waits for the document to be complete.
func (f *firefox) navigate(url string) error {
	return f.call("browsingContext.navigate", map[string]any{"context": f.top, "url": url, "wait": "complete"}, nil)
}

// element scrolls the first element matching sel into view and returns
// its shared id for input actions. sel is a CSS selector, or an XPath
// expression when it starts with "//".
func (f *firefox) element(sel string) (map[string]string, error) {
	find, kind := `document.querySelector(`+jsString(sel)+`)`, "css"
	if strings.HasPrefix(sel, "//") {
		find, kind = `document.evaluate(`+jsString(sel)+`, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue`, "xpath"
	}
	if err := f.eval(`(() => { const e = `+find+`; if (!e) throw new Error("no element matches "+`+jsString(sel)+`); e.scrollIntoView({block: "center"}); return true; })()`, nil); err != nil {
		return nil, err
	}
	var res struct {
		Nodes []struct {
			SharedID string `json:"sharedId"`
		} `json:"nodes"`
	}
	if err := f.call("browsingContext.locateNodes", map[string]any{"context": f.top,
		"locator": map[string]string{"type": kind, "value": sel}, "maxNodeCount": 1}, &res); err != nil {
		return nil, err
	}
	if len(res.Nodes) == 0 {
		return nil, fmt.Errorf("no element matches %s", sel)
	}
	return map[string]string{"sharedId": res.Nodes[0].SharedID}, nil
}

// click moves the mouse to the middle of the element and clicks it with
// input.performActions, as a user does.
func (f *firefox) click(sel string) error {
	el, err := f.element(sel)
	if err != nil {
		return err
	}
	return f.call("input.performActions", map[string]any{"context": f.top, "actions": []any{map[string]any{
		"type": "pointer", "id": "mouse", "parameters": map[string]string{"pointerType": "mouse"},
		"actions": []any{
			map[string]any{"type": "pointerMove", "x": 0, "y": 0, "origin": map[string]any{"type": "element", "element": el}},
			map[string]any{"type": "pointerDown", "button": 0},
			map[string]any{"type": "pointerUp", "button": 0},
		},
	}}}, nil)
}

// WebDriver key values of Enter and Tab.
const (
	keyEnter = "\uE007"
	keyTab   = "\uE004"
)

// keys types text (one key press a character) into the focused element.
func (f *firefox) keys(text string) error {
	var acts []any
	for _, r := range text {
		acts = append(acts, map[string]string{"type": "keyDown", "value": string(r)}, map[string]string{"type": "keyUp", "value": string(r)})
	}
	return f.call("input.performActions", map[string]any{"context": f.top, "actions": []any{map[string]any{
		"type": "key", "id": "keyboard", "actions": acts,
	}}}, nil)
}

// typeInto clicks the field sel, types text into it and checks that the
// field holds text (without ever printing it: it may be a secret).
func (f *firefox) typeInto(sel, text string) error {
	if err := f.click(sel); err != nil {
		return err
	}
	if err := f.keys(text); err != nil {
		return err
	}
	var ok bool
	if err := f.eval(`document.querySelector(`+jsString(sel)+`).value === `+jsString(text), &ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("typed %d characters into %s, but it does not hold them", len(text), sel)
	}
	return nil
}

// screenshot writes a PNG of the whole document to dir/firefox-name.png.
func (f *firefox) screenshot(dir, name string) error {
	var res struct {
		Data string `json:"data"`
	}
	if err := f.call("browsingContext.captureScreenshot", map[string]any{"context": f.top, "origin": "document"}, &res); err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(res.Data)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(string(b), "\x89PNG") {
		return fmt.Errorf("screenshot %s is not a PNG", name)
	}
	return os.WriteFile(filepath.Join(dir, "firefox-"+name+".png"), b, 0o644)
}

// responseBody is the body of a response the browser received, kept by
// the data collector.
func (f *firefox) responseBody(collector, request string) (string, error) {
	var res struct {
		Bytes struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"bytes"`
	}
	if err := f.call("network.getData", map[string]any{"dataType": "response", "collector": collector, "request": request}, &res); err != nil {
		return "", err
	}
	if res.Bytes.Type == "base64" {
		b, err := base64.StdEncoding.DecodeString(res.Bytes.Value)
		return string(b), err
	}
	return res.Bytes.Value, nil
}

// ffSteps runs the steps of a Firefox test: a failed step ends the test
// with the page's text, the test's secrets redacted from both.
type ffSteps struct {
	t       *testing.T
	f       *firefox
	shots   string
	n       int
	secrets []*string // kept out of the log; read when a step fails
}

func (st *ffSteps) redact(s string) string {
	for _, p := range st.secrets {
		if *p != "" {
			s = strings.ReplaceAll(s, *p, "[redacted]")
		}
	}
	return s
}

func (st *ffSteps) fail(step string, err error) {
	st.t.Helper()
	var page string
	_ = st.f.eval(`document.querySelector("main").innerText`, &page)
	st.t.Fatalf("%s: %v\npage: %s", step, st.redact(err.Error()), st.redact(page))
}

func (st *ffSteps) do(step string, err error) {
	st.t.Helper()
	if err != nil {
		st.fail(step, err)
	}
}

// waitFor polls the boolean expression cond until it holds, for 20 s.
func (st *ffSteps) waitFor(step, cond string) {
	st.t.Helper()
	var last error
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var ok bool
		last = st.f.eval(cond, &ok)
		if last == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			if last == nil {
				last = fmt.Errorf("still false after 20s")
			}
			st.fail("wait: "+step, last)
		}
	}
}

// shot writes a numbered screenshot, firefox-NN-name.png.
func (st *ffSteps) shot(name string) {
	st.t.Helper()
	st.n++
	st.do("screenshot "+name, st.f.screenshot(st.shots, fmt.Sprintf("%02d-%s", st.n, name)))
}

// inPage reports whether the page holds s anywhere: its markup, its text,
// or the value of a field (which the markup does not show).
func (st *ffSteps) inPage(s string) bool {
	st.t.Helper()
	var found bool
	st.do("search the page", st.f.eval(`document.documentElement.outerHTML.includes(`+jsString(s)+`) || document.documentElement.textContent.includes(`+jsString(s)+`)
		|| [...document.querySelectorAll("input, textarea, output")].some(e => (e.value || "").includes(`+jsString(s)+`))`, &found))
	return found
}

// signedIn starts Firefox and signs in to the console at addr with token,
// with screenshots numbered from first+1; secrets are kept out of the log.
func signedIn(t *testing.T, addr, token string, first int, secrets ...*string) (*firefox, *ffSteps) {
	t.Helper()
	f := startFirefox(t)
	st := &ffSteps{t: t, f: f, shots: screenshotDir(t), n: first, secrets: append([]*string{&token}, secrets...)}
	st.do("open the console", f.navigate(addr+"/ui/"))
	st.waitFor("sign-in page", shown("#apikey"))
	st.do("type the key", f.typeInto("#apikey", token))
	st.do("sign in", f.keys(keyEnter))
	st.waitFor("signed in", shown("#signout"))
	return f, st
}

// hasText is a script that tells whether the element sel holds want.
func hasText(sel, want string) string {
	return `(() => { const e = document.querySelector(` + jsString(sel) + `); return !!e && e.textContent.includes(` + jsString(want) + `); })()`
}

// shown is a script that tells whether the element sel is shown.
func shown(sel string) string {
	return `(() => { const e = document.querySelector(` + jsString(sel) + `); return !!e && e.getClientRects().length > 0; })()`
}

// TestConsoleFirefox drives the console in a real headless Firefox (ESR)
// over WebDriver BiDi, typing and clicking with input actions: sign in,
// create a store and a secret, check that neither a response the browser
// received nor the page holds the value, reveal it, make a new version,
// roll back, delete and undelete it, delete a store, create a key (its
// token shown once) and revoke it, see the audit chain intact, find the
// events with the audit filters, check every page at 200% zoom, sign out.
func TestConsoleFirefox(t *testing.T) {
	t.Parallel() // a browser of its own; mostly waiting
	addr, token := startServer(t)
	f := startFirefox(t)
	shots := screenshotDir(t)
	canary, newToken := "CANARY-console-firefox-3b8e1d", ""
	st := &ffSteps{t: t, f: f, shots: shots, secrets: []*string{&token, &newToken, &canary}}
	do, waitFor, shot, inPage := st.do, st.waitFor, st.shot, st.inPage

	// Keep every response body the page receives, to scan them for the
	// value before it is revealed.
	var collector struct {
		Collector string `json:"collector"`
	}
	f.must("network.addDataCollector", map[string]any{"dataTypes": []string{"response"}, "maxEncodedDataSize": 10 << 20,
		"contexts": []string{f.top}}, &collector)
	f.must("session.subscribe", map[string]any{"events": []string{"network.responseCompleted"}, "contexts": []string{f.top}}, nil)

	do("open the console", f.navigate(addr+"/ui/"))
	waitFor("sign-in page", shown("#apikey"))
	shot("sign-in")
	do("type a wrong key", f.typeInto("#apikey", "cfr_wrong"))
	do("press Enter", f.keys(keyEnter))
	waitFor("wrong key refused", hasText("[role=alert]", "401"))
	do("clear the key", f.eval(`document.querySelector("#apikey").value = ""`, nil))
	do("type the admin key", f.typeInto("#apikey", token))
	do("sign in", f.click(`form button[type=submit]`))
	waitFor("stores page", shown("#store-name"))
	shot("stores-empty")

	do("store name", f.typeInto("#store-name", "team"))
	do("store comment", f.typeInto("#store-comment", "the team's store"))
	do("create the store", f.keys(keyEnter))
	waitFor("store page", hasText("h1", "Store team"))
	waitFor("secret form", shown("#secret-name"))
	do("secret name", f.typeInto("#secret-name", "DB_PASSWORD"))
	do("secret value", f.typeInto("#secret-value", canary))
	do("secret comment", f.typeInto("#secret-comment", "primary database"))
	do("create the secret", f.click(`form[aria-label="Create a secret"] button[type=submit]`))
	waitFor("secret page", hasText("#secret-version", "1"))
	waitFor("versions", hasText("table", "current"))
	shot("secret")
	do("back to the store", f.click(`a[href="#/stores/team"]`))
	waitFor("secrets of the store", hasText("table", "DB_PASSWORD"))
	shot("secrets")
	do("open the secret", f.click(`a[href="#/stores/team/secrets/DB_PASSWORD"]`))
	waitFor("secret page again", hasText("table", "current"))

	// Before the reveal: no response the browser got and nothing in the
	// page holds the value.
	if inPage(canary) {
		t.Errorf("the page holds the secret value before reveal")
	}
	// scan reads the body of every response received since response from
	// and reports how many it read and the URLs of those that hold s.
	scan := func(from int, s string) (next, scanned int, holding []string) {
		t.Helper()
		f.mu.Lock()
		responses := append([]bidiResponse(nil), f.responses[from:]...)
		f.mu.Unlock()
		for _, r := range responses {
			body, err := f.responseBody(collector.Collector, r.id)
			if err != nil {
				continue // a redirect or a response without a body
			}
			scanned++
			if strings.Contains(body, s) {
				holding = append(holding, r.url)
			}
		}
		return from + len(responses), scanned, holding
	}
	next, scanned, holding := scan(0, canary)
	for _, u := range holding {
		t.Errorf("response %s holds the secret value before reveal", u)
	}
	if scanned < 10 {
		t.Errorf("scanned %d responses, want the console's files and its API calls (at least 10)", scanned)
	}
	if _, _, named := scan(0, "primary database"); len(named) == 0 {
		t.Errorf("no response body holds the secret's comment: the scan reads no API response")
	}
	t.Logf("scanned %d of %d responses before reveal", scanned, next)

	do("reveal", f.click("#reveal"))
	waitFor("value shown", hasText("#secret-value-out", canary))
	if !inPage(canary) {
		t.Errorf("the page search does not find the revealed value") // the check above would prove nothing
	}
	if _, _, holding := scan(next, canary); len(holding) != 1 || !strings.HasSuffix(holding[0], "/value") {
		t.Errorf("responses holding the value after one reveal: %v, want the one GET .../value", holding)
	}
	shot("secret-revealed")

	do("new version", f.typeInto("#new-version", "second-value"))
	do("save the new version", f.keys(keyEnter))
	waitFor("version 2", hasText("#secret-version", "2"))
	waitFor("version 2 saved", hasText("#status", "Version 2 saved"))
	if inPage(canary) {
		t.Errorf("the value stayed in the page after a new version")
	}
	do("roll back", f.click(`button[aria-label="Roll back to version 1"]`))
	waitFor("version 3", hasText("#secret-version", "3"))
	do("reveal again", f.click("#reveal"))
	waitFor("version 1's value shown", hasText("#secret-value-out", canary))
	shot("secret-rolled-back")

	do("delete the secret", f.click(`//button[text()="Delete secret"]`))
	waitFor("confirmation", shown(".confirm button.danger"))
	do("confirm the delete", f.click(".confirm button.danger"))
	waitFor("secret deleted", hasText("#secret-status", "deleted"))
	shot("secret-deleted")
	do("undelete the secret", f.click(`//button[text()="Undelete"]`))
	waitFor("secret restored", hasText("#secret-status", "active"))
	do("stores page", f.click(`#nav a[href="#/stores"]`))
	waitFor("stores form", shown("#store-name"))
	do("scratch store name", f.typeInto("#store-name", "scratch"))
	do("create the scratch store", f.keys(keyEnter))
	waitFor("scratch store page", hasText("h1", "Store scratch"))
	do("stores page again", f.click(`#nav a[href="#/stores"]`))
	waitFor("scratch listed", hasText("table", "scratch"))
	do("delete the scratch store", f.click(`button[aria-label="Delete store scratch"]`))
	waitFor("store confirmation", shown(".confirm button.danger"))
	do("confirm the store delete", f.click(".confirm button.danger"))
	waitFor("store deleted", hasText("#status", "Store scratch deleted"))
	waitFor("scratch gone", `!document.querySelector("table").textContent.includes("scratch") && document.querySelector("table").textContent.includes("team")`)

	do("keys page", f.click(`#nav a[href="#/keys"]`))
	waitFor("keys page", shown("#key-name"))
	waitFor("keys listed", hasText("table", "active"))
	if inPage(canary) {
		t.Errorf("the value stayed in the page after leaving the secret")
	}
	do("key name", f.typeInto("#key-name", "ff-reader"))
	do("key store", f.typeInto("#key-store", "team"))
	do("action list", f.click("#key-act-list"))
	do("action read", f.click("#key-act-read"))
	do("create the key", f.click(`form[aria-label="Create an API key"] button[type=submit]`))
	waitFor("token shown", shown("#new-token"))
	waitFor("key listed", hasText("table", "ff-reader"))
	do("read the token", f.eval(`document.querySelector("#new-token").textContent.trim()`, &newToken))
	shot("keys-created")
	if got := apiStatus(t, addr, newToken); got != http.StatusOK {
		t.Fatalf("the new key before revoke: got %d, want 200", got)
	}
	do("hide the token", f.click(`[aria-label="New key token"] button:last-of-type`))
	waitFor("token hidden", `!document.querySelector("#new-token")`)
	do("leave the keys page", f.click(`#nav a[href="#/stores"]`))
	waitFor("stores page", shown("#store-name"))
	do("keys page again", f.click(`#nav a[href="#/keys"]`))
	waitFor("keys listed again", hasText("table", "ff-reader"))
	if inPage(newToken) {
		t.Errorf("the key's token is shown again: it must be shown once")
	}
	do("revoke", f.click(`button[aria-label="Revoke key ff-reader"]`))
	waitFor("confirmation", shown(".confirm button.danger"))
	do("confirm the revoke", f.click(".confirm button.danger"))
	waitFor("key revoked", hasText("#status", "Key ff-reader revoked"))
	waitFor("revoked in the list", hasText("table", "revoked"))
	shot("keys-revoked")
	if got := apiStatus(t, addr, newToken); got != http.StatusUnauthorized {
		t.Fatalf("the revoked key's next request: got %d, want 401", got)
	}

	do("audit page", f.click(`#nav a[href="#/audit"]`))
	waitFor("audit chain intact", hasText("#audit-verify", "intact"))
	var verify string
	do("read the verification", f.eval(`document.querySelector("#audit-verify").textContent`, &verify))
	if strings.Contains(verify, "BROKEN") {
		t.Errorf("audit verification: %q", verify)
	}
	shot("audit")
	// Find the flow's events with the server-side filters.
	for _, action := range []string{"secret.reveal", "secret.rollback", "secret.delete", "key.revoke"} {
		do("clear the action filter", f.eval(`document.querySelector("#f-action").value = ""`, nil))
		do("filter by "+action, f.typeInto("#f-action", action))
		do("apply the filter", f.keys(keyEnter))
		waitFor("events of "+action, `(() => { const tds = [...document.querySelectorAll("tbody tr td:nth-child(3)")];
			return tds.length > 0 && tds.every(td => td.textContent === `+jsString(action)+`); })()`)
	}
	do("filter by secret", f.typeInto("#f-secret", "DB_PASSWORD"))
	do("clear the action filter", f.eval(`document.querySelector("#f-action").value = ""`, nil))
	do("filter by secret.", f.typeInto("#f-action", "secret."))
	do("apply the filters", f.keys(keyEnter))
	waitFor("the secret's events", hasText("#audit-summary", "matching the filters"))
	var actions []string
	do("read the actions", f.eval(`[...document.querySelectorAll("tbody tr td:nth-child(3)")].map(td => td.textContent)`, &actions))
	for _, want := range []string{"secret.write", "secret.reveal", "secret.rollback", "secret.delete", "secret.undelete"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit filtered by DB_PASSWORD and secret.: no %s in %q", want, actions)
		}
	}
	shot("audit-filtered")

	// At 200% zoom a 1280-pixel window is 640 CSS pixels wide, each two
	// device pixels: no page may scroll sideways.
	f.must("browsingContext.setViewport", map[string]any{"context": f.top, "viewport": map[string]int{"width": 640, "height": 900}, "devicePixelRatio": 2}, nil)
	for _, pg := range []struct{ name, hash, ready string }{
		{"stores", "#/stores", "table"}, {"secrets", "#/stores/team", "table"}, {"secret", "#/stores/team/secrets/DB_PASSWORD", "table"},
		{"keys", "#/keys", "table"}, {"audit", "#/audit", "tbody"},
	} {
		do("200% zoom: "+pg.name, f.navigate(addr+"/ui/"+pg.hash))
		waitFor("200% zoom: "+pg.name, shown(pg.ready))
		var overflow bool
		do("measure "+pg.name, f.eval(`document.documentElement.scrollWidth > document.documentElement.clientWidth`, &overflow))
		if overflow {
			t.Errorf("at 200%% zoom the %s page scrolls sideways", pg.name)
		}
		var unnamed []string
		do("find unlabelled controls on "+pg.name, f.eval(`[...document.querySelectorAll("input, button, select, textarea")].filter(e =>
			!(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.textContent.trim()).map(e => e.outerHTML)`, &unnamed))
		if len(unnamed) > 0 {
			t.Errorf("controls without a label on the %s page: %v", pg.name, unnamed)
		}
		shot("zoom200-" + pg.name)
	}
	f.must("browsingContext.setViewport", map[string]any{"context": f.top, "viewport": map[string]int{"width": 1280, "height": 900}, "devicePixelRatio": 1}, nil)

	// Keyboard only: the document's first stop is the skip link; a page
	// change moves the focus to the page, where Tab reaches its first
	// field; typing a name and Enter creates a store.
	do("stores page for the keyboard", f.navigate(addr+"/ui/#/stores"))
	waitFor("stores page for the keyboard", shown("table"))
	var first, focused string
	do("first focusable element", f.eval(`document.querySelector("a[href], button, input").textContent`, &first))
	if first != "Skip to content" {
		t.Errorf("first focusable element: got %q, want the skip link", first)
	}
	do("Tab", f.keys(keyTab))
	do("read the focus", f.eval(`document.activeElement.id`, &focused))
	if focused != "store-name" {
		t.Fatalf("Tab after a page change: focus on %q, want the page's first field store-name", focused)
	}
	do("type a store name and Enter", f.keys("by-keyboard"+keyEnter))
	waitFor("the store made with the keyboard", `location.hash === "#/stores/by-keyboard" && !!document.querySelector("h1") &&
		document.querySelector("h1").textContent.includes("by-keyboard")`)
	shot("keyboard-store")

	do("sign out", f.click("#signout"))
	waitFor("sign-in page after sign-out", shown("#apikey"))
	waitFor("signed-out message", hasText("[role=alert]", "signed out"))
	shot("signed-out")
	do("stores after sign-out", f.navigate(addr+"/ui/#/stores"))
	do("reload", f.call("browsingContext.reload", map[string]any{"context": f.top, "wait": "complete"}, nil))
	waitFor("still the sign-in page", shown("#apikey"))
	var onStores bool
	do("read the page", f.eval(`!!document.querySelector("#store-name")`, &onStores))
	if onStores {
		t.Errorf("after sign-out the stores page is shown")
	}
}
