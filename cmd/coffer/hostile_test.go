package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-dev/coffer/internal/web"
	"github.com/coffer-dev/coffer/server"
)

// The hostile-input tables: one per face, each driving the real server over
// HTTP with oversized bodies, deep JSON, invalid UTF-8 in names and values,
// huge and negative pagination and numbers, path traversal in names and
// ids, and header injection. Every case checks the status, the face's own
// error body, that no response header was injected, that no canary value
// comes back, and that nothing was written: no audit event of a successful
// write or value read follows the case, and the whole store listing is
// unchanged after the table. Slow bodies are TestHostileSlowBody's.

// hostileCanary is the value every table writes in its bad requests; no
// answer may hold it.
const hostileCanary = "hostile-canary-0d9f7c"

// hostileServer is a real server with its log captured.
type hostileServer struct {
	t       *testing.T
	base    string
	token   string
	logs    *benchSyncBuffer
	native  *rawAPI
	account string
	srv     *Server

	closeOnce sync.Once
	closeErr  error
}

// close stops the server; the test's cleanup calls it too.
func (h *hostileServer) close() error {
	h.closeOnce.Do(func() { h.closeErr = h.srv.Close() })
	return h.closeErr
}

func startHostile(t *testing.T) *hostileServer {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Addr, cfg.DataDir = "127.0.0.1:0", t.TempDir()
	logs := &benchSyncBuffer{}
	var w io.Writer = logs
	if testing.Verbose() {
		w = io.MultiWriter(logs, os.Stderr)
	}
	s := &Server{Config: cfg, Log: slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := s.Open(context.Background()); err != nil {
		t.Fatalf("open server: %v", err)
	}
	h := &hostileServer{t: t, base: "http://" + s.Addr, token: s.RootToken, logs: logs, srv: s}
	t.Cleanup(func() {
		if err := h.close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	h.native = &rawAPI{t: t, base: h.base, token: h.token}
	h.account = accountOf(t, h.base, h.token)
	return h
}

// hostileClient never follows redirects: a redirect is an answer to check.
var hostileClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// send sends target (a path with an optional query) byte for byte as the
// request-target, so that encoded dots and slashes reach the server as
// written. auth is the whole Authorization header; "" sends none.
func (h *hostileServer) send(t *testing.T, method, target string, body []byte, auth string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, h.base+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(target, "?")
	req.URL.Opaque, req.URL.RawQuery = path, query
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hostileClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", method, target, err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// auditHead is the newest audit sequence number.
func (h *hostileServer) auditHead(t *testing.T) int64 {
	t.Helper()
	var rep struct {
		HeadSeq int64 `json:"head_seq"`
	}
	strictish(t, h.native.must(200, "GET", "/v1/audit/verify", nil).Body, &rep)
	return rep.HeadSeq
}

// hostileReads are the audit actions of metadata reads, which a refused
// request may not do either but which change nothing.
var hostileReads = map[string]bool{"secret.read": true, "store.read": true, "secret.list": true, "secret.versions": true}

// wroteSince fails if an audit event after seq records a successful write
// or value read.
func (h *hostileServer) wroteSince(t *testing.T, seq int64) {
	t.Helper()
	var page struct {
		Events []struct {
			Seq     int64  `json:"seq"`
			Action  string `json:"action"`
			Outcome string `json:"outcome"`
			Name    string `json:"name"`
		} `json:"events"`
	}
	strictish(t, h.native.must(200, "GET", fmt.Sprintf("/v1/audit?after=%d&limit=1000", seq), nil).Body, &page)
	for _, e := range page.Events {
		if e.Outcome == "ok" && !hostileReads[e.Action] {
			t.Errorf("audit event %d: %s of %q succeeded", e.Seq, e.Action, e.Name)
		}
	}
}

// state lists every store, secret (deleted ones too) with its version and
// status, and key of the root account, from the native API.
func (h *hostileServer) state(t *testing.T) string {
	t.Helper()
	var stores struct {
		Stores []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"stores"`
	}
	strictish(t, h.native.must(200, "GET", "/v1/stores?limit=1000", nil).Body, &stores)
	var lines []string
	for _, st := range stores.Stores {
		var secs struct {
			Secrets []struct {
				Name    string `json:"name"`
				Version int    `json:"version"`
				Status  string `json:"status"`
				Comment string `json:"comment"`
			} `json:"secrets"`
		}
		strictish(t, h.native.must(200, "GET", "/v1/stores/"+st.ID+"/secrets?deleted=true&limit=1000", nil).Body, &secs)
		lines = append(lines, "store "+st.Name)
		for _, s := range secs.Secrets {
			lines = append(lines, fmt.Sprintf("secret %s/%s v%d %s %q", st.Name, s.Name, s.Version, s.Status, s.Comment))
		}
	}
	var keys struct {
		Keys []struct {
			ID string `json:"id"`
		} `json:"keys"`
	}
	strictish(t, h.native.must(200, "GET", "/v1/keys", nil).Body, &keys)
	for _, k := range keys.Keys {
		lines = append(lines, "key "+k.ID)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// hostileCase is one bad request and the status it must get.
type hostileCase struct {
	name   string
	method string
	target string
	body   []byte
	hdr    []string
	status int
}

// hostileFace is how one face authenticates and shapes its errors.
type hostileFace struct {
	name  string
	auth  string                                  // the Authorization header of the root key
	shape func(t *testing.T, r reply, status int) // fails unless r is the face's error body
}

// run runs a face's table and reports how many cases it has.
func (h *hostileServer) run(t *testing.T, f hostileFace, cases []hostileCase) {
	t.Helper()
	before := h.state(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seq := h.auditHead(t)
			r := h.send(t, c.method, c.target, c.body, f.auth, c.hdr...)
			if r.Status != c.status {
				t.Errorf("%s %.120s: got %d %.300s, want %d", c.method, c.target, r.Status, r.Body, c.status)
			}
			switch {
			case r.Status >= 400:
				f.shape(t, r, r.Status)
			case r.Status == http.StatusTemporaryRedirect:
				// The mux cleans a path with dot segments and redirects
				// to the clean one (within the same face), whose own
				// answer a client then gets.
				if loc := r.Header.Get("Location"); !strings.HasPrefix(loc, c.target[:strings.IndexByte(c.target[1:], '/')+1]) || strings.Contains(loc, "..") {
					t.Errorf("redirect from %s to %q", c.target, loc)
				}
			}
			for k, vs := range r.Header {
				if strings.EqualFold(k, "X-Injected") {
					t.Errorf("an injected header came back: %s: %q", k, vs)
				}
				for _, v := range vs {
					if strings.ContainsAny(v, "\r\n") {
						t.Errorf("header %s holds a line break: %q", k, v)
					}
				}
			}
			if bytes.Contains(r.Body, []byte(hostileCanary)) {
				t.Errorf("the answer quotes the canary value: %.300s", r.Body)
			}
			h.wroteSince(t, seq)
		})
	}
	if after := h.state(t); after != before {
		t.Errorf("%s: the bad input changed the store:\nbefore:\n%s\nafter:\n%s", f.name, before, after)
	}
	t.Logf("%s face: %d bad-input cases", f.name, len(cases))
}

// Shapes of the faces' error bodies.

func nativeShape(t *testing.T, r reply, status int) {
	t.Helper()
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Error == nil || e.Error.Message == "" || web.Status(e.Error.Code) != status {
		t.Errorf("got %d %.300s, want the native error body", status, r.Body)
	}
}

func cloudflareShape(t *testing.T, r reply, status int) {
	t.Helper()
	var e struct {
		Success *bool `json:"success"`
		Errors  []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
		Messages []any          `json:"messages"`
		Result   map[string]any `json:"result"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Success == nil || *e.Success || len(e.Errors) == 0 ||
		e.Errors[0].Code == 0 || e.Errors[0].Message == "" || e.Messages == nil || e.Result != nil {
		t.Errorf("got %d %.300s, want Cloudflare's {success:false, errors:[...]}", status, r.Body)
	}
}

func truefoundryShape(t *testing.T, r reply, status int) {
	t.Helper()
	var e struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || e.StatusCode != status || e.Message == "" {
		t.Errorf("got %d %.300s, want TrueFoundry's HttpError", status, r.Body)
	}
}

func chutesShape(t *testing.T, r reply, status int) {
	t.Helper()
	var e struct {
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || len(e.Detail) == 0 || string(e.Detail) == `""` ||
		status == 422 && !bytes.HasPrefix(e.Detail, []byte("[{")) {
		t.Errorf("got %d %.300s, want FastAPI's {\"detail\": ...}", status, r.Body)
	}
}

func byteniteShape(t *testing.T, r reply, status int) {
	t.Helper()
	var e struct {
		OK    *bool `json:"ok"`
		Error *struct {
			Code int `json:"code"`
		} `json:"error"`
		Code    int    `json:"code"`
		Message string `json:"message"`
		Details []any  `json:"details"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || e.OK == nil || *e.OK || e.Error == nil || e.Error.Code != status ||
		e.Code == 0 || e.Message == "" || e.Details == nil {
		t.Errorf("got %d %.300s, want ByteNite's error body", status, r.Body)
	}
}

// Bodies shared by the tables.

func deepArrays(n int) []byte { return []byte(strings.Repeat("[", n) + strings.Repeat("]", n)) }

// deepField is {"field": {"field": ... {} ...}}, n deep.
func deepField(field string, n int) []byte {
	return []byte(strings.Repeat(`{"`+field+`":`, n) + `{}` + strings.Repeat("}", n))
}

// bigValue is a JSON string value of n bytes of the canary.
func bigValue(n int) string { return strings.Repeat(hostileCanary, n/len(hostileCanary)+1)[:n] }

// injected is a CR LF header line, percent-encoded for a path or query.
const injected = "%0d%0aX-Injected:%20yes"

func TestHostileNative(t *testing.T) {
	h := startHostile(t)
	h.native.must(201, "POST", "/v1/stores", map[string]any{"name": "hz"})
	h.native.must(201, "PUT", "/v1/stores/hz/secrets/KEEP", map[string]any{"value": "keep-value"})
	sec := "/v1/stores/hz/secrets/"
	put := func(v string) []byte { return []byte(`{"value":"` + v + `"}`) }
	h.run(t, hostileFace{name: "native", auth: "Bearer " + h.token, shape: nativeShape}, []hostileCase{
		{"OversizedBody", "PUT", sec + "NEW", put(bigValue(1 << 20)), nil, 413},
		{"OversizedValue", "PUT", sec + "NEW", put(bigValue(64<<10 + 1)), nil, 413},
		{"OversizedBatch", "POST", "/v1/stores/hz/values", []byte(`{"names":["` + bigValue(300<<10) + `"]}`), nil, 413},
		{"DeepArrays", "PUT", sec + "NEW", deepArrays(100000), nil, 400},
		{"DeepLabels", "PUT", sec + "NEW", deepField("labels", 5000), nil, 400},
		{"DeepStoreBody", "POST", "/v1/stores", deepField("name", 20000), nil, 400},
		{"InvalidUTF8Value", "PUT", sec + "NEW", []byte("{\"value\":\"" + hostileCanary + "\xff\xfe\"}"), nil, 400},
		{"InvalidUTF8Name", "PUT", sec + "NEW%ff", put(hostileCanary), nil, 400},
		{"InvalidUTF8StoreName", "POST", "/v1/stores", []byte("{\"name\":\"s\xc3\x28\"}"), nil, 400},
		{"InvalidUTF8Comment", "PATCH", sec + "KEEP", []byte("{\"comment\":\"\xed\xa0\x80\"}"), nil, 400},
		{"InvalidUTF8Prefix", "GET", sec[:len(sec)-1] + "?prefix=%ff", nil, nil, 400},
		{"HugeLimit", "GET", sec[:len(sec)-1] + "?limit=99999999999999999999", nil, nil, 400},
		{"LimitOverMax", "GET", "/v1/stores?limit=1001", nil, nil, 400},
		{"NegativeLimit", "GET", sec[:len(sec)-1] + "?limit=-1", nil, nil, 400},
		{"HugeAuditAfter", "GET", "/v1/audit?after=99999999999999999999", nil, nil, 400},
		{"NegativeAuditAfter", "GET", "/v1/audit?after=-5", nil, nil, 400},
		{"HugeAuditBefore", "GET", "/v1/audit?before=99999999999999999999", nil, nil, 400},
		{"NegativeAuditBefore", "GET", "/v1/audit?before=-1", nil, nil, 400},
		{"BadAuditOrder", "GET", "/v1/audit?order=sideways", nil, nil, 400},
		{"BadAuditSince", "GET", "/v1/audit?since=yesterday", nil, nil, 400},
		{"BadAuditUntil", "GET", "/v1/audit?until=2026-13-01T00:00:00Z", nil, nil, 400},
		{"AuditSinceAfterUntil", "GET", "/v1/audit?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z", nil, nil, 400},
		{"InvalidUTF8AuditPrincipal", "GET", "/v1/audit?principal=%ff", nil, nil, 400},
		{"InvalidUTF8AuditObject", "GET", "/v1/audit?object=a%c3%28", nil, nil, 400},
		{"NULInAuditAction", "GET", "/v1/audit?action=secret%00.reveal", nil, nil, 400},
		{"LongAuditObject", "GET", "/v1/audit?object=" + strings.Repeat("o", 300), nil, nil, 400},
		{"InjectionInAuditAction", "GET", "/v1/audit?action=" + injected + strings.Repeat("x", 300), nil, nil, 400},
		{"HugeCursor", "GET", sec[:len(sec)-1] + "?cursor=" + strings.Repeat("QUFB", 4000), nil, nil, 400},
		{"NegativeVersion", "GET", sec + "KEEP/value?version=-1", nil, nil, 400},
		{"HugeVersion", "GET", sec + "KEEP/value?version=99999999999999999999", nil, nil, 400},
		{"NegativeRollback", "POST", sec + "KEEP/rollback", []byte(`{"version":-1}`), nil, 400},
		{"NegativeDestroy", "DELETE", sec + "KEEP/versions/-1", nil, nil, 400},
		{"HugeDestroy", "DELETE", sec + "KEEP/versions/99999999999999999999", nil, nil, 400},
		{"NegativeIfMatch", "PUT", sec + "KEEP", put(hostileCanary), []string{"If-Match", `"-1"`}, 400},
		{"TraversalEncodedSlash", "PUT", sec + "..%2F..%2Fkeys", put(hostileCanary), nil, 400},
		{"TraversalEncodedDots", "PUT", sec + "%2e%2e", put(hostileCanary), nil, 400},
		{"TraversalEncodedDotsSegment", "PUT", sec + "a%2F%2e%2e%2Fb", put(hostileCanary), nil, 400},
		{"TraversalStore", "PUT", "/v1/stores/%2e%2e/secrets/NEW", put(hostileCanary), nil, 404},
		{"TraversalBackslash", "PUT", sec + "..%5C..%5Cetc", put(hostileCanary), nil, 400},
		{"TraversalLiteral", "PUT", sec + "../../keys", put(hostileCanary), nil, 307},
		{"InjectionInName", "PUT", sec + "A" + injected, put(hostileCanary), nil, 400},
		{"InjectionInStore", "GET", "/v1/stores/s" + injected, nil, nil, 404},
		{"InjectionInQuery", "GET", sec[:len(sec)-1] + "?cursor=" + injected, nil, nil, 400},
		{"InjectionInRequestID", "GET", "/v1/stores/nope", nil, []string{"X-Request-Id", "a%0d%0aX-Injected: yes"}, 404},
		{"InjectionInIfMatch", "PUT", sec + "KEEP", put(hostileCanary), []string{"If-Match", `"1%0d%0aX-Injected: yes"`}, 400},
		{"NULInName", "PUT", sec + "A%00B", put(hostileCanary), nil, 400},
	})
}

func TestHostileCloudflare(t *testing.T) {
	h := startHostile(t)
	cf := "/cloudflare/client/v4/accounts/" + h.account + "/secrets_store"
	auth := "Bearer " + h.token
	var st struct {
		Result struct{ ID string } `json:"result"`
	}
	strictish(t, h.send(t, "POST", cf+"/stores", []byte(`{"name":"main"}`), auth).Body, &st)
	var made struct {
		Result []struct{ ID string } `json:"result"`
	}
	strictish(t, h.send(t, "POST", cf+"/stores/"+st.Result.ID+"/secrets", []byte(`[{"name":"KEEP","value":"keep-value","scopes":["workers"]}]`), auth).Body, &made)
	if st.Result.ID == "" || len(made.Result) != 1 {
		t.Fatal("set up: no store or secret")
	}
	secrets := cf + "/stores/" + st.Result.ID + "/secrets"
	one := secrets + "/" + made.Result[0].ID
	item := func(name, value string) []byte {
		return []byte(`[{"name":"` + name + `","value":"` + value + `","scopes":["workers"]}]`)
	}
	h.run(t, hostileFace{name: "cloudflare", auth: auth, shape: cloudflareShape}, []hostileCase{
		{"OversizedCreate", "POST", secrets, item("NEW", bigValue(9<<20)), nil, 413},
		{"OversizedPatch", "PATCH", one, []byte(`{"value":"` + bigValue(600<<10) + `"}`), nil, 413},
		{"OversizedStore", "POST", cf + "/stores", []byte(`{"name":"` + bigValue(600<<10) + `"}`), nil, 413},
		{"DeepArrays", "POST", secrets, deepArrays(100000), nil, 400},
		{"DeepPatch", "PATCH", one, deepField("comment", 20000), nil, 400},
		{"InvalidUTF8Value", "POST", secrets, item("NEW", hostileCanary+"\xff"), nil, 400},
		{"InvalidUTF8Name", "POST", secrets, item("N\xc3\x28", hostileCanary), nil, 400},
		{"InvalidUTF8Search", "GET", secrets + "?search=%ff", nil, nil, 400},
		{"InvalidUTF8StoreID", "GET", cf + "/stores/%ff/secrets", nil, nil, 400},
		{"HugePage", "GET", secrets + "?page=99999999999999999999", nil, nil, 400},
		{"HugePerPage", "GET", secrets + "?per_page=99999999999", nil, nil, 400},
		{"NegativePage", "GET", secrets + "?page=-1", nil, nil, 400},
		{"NegativePerPage", "GET", cf + "/stores?per_page=-5", nil, nil, 400},
		{"TraversalSecretID", "PATCH", secrets + "/..%2F..%2Fstores", []byte(`{"comment":"x"}`), nil, 400},
		{"TraversalEncodedDots", "DELETE", secrets + "/%2e%2e", nil, nil, 400},
		{"TraversalStoreID", "POST", cf + "/stores/%2e%2e%2F" + st.Result.ID + "/secrets", item("NEW", hostileCanary), nil, 400},
		{"TraversalName", "POST", secrets, item("../NEW", hostileCanary), nil, 400},
		{"TraversalAccount", "GET", "/cloudflare/client/v4/accounts/%2e%2e/secrets_store/stores", nil, nil, 400},
		{"TraversalLiteral", "DELETE", secrets + "/../../stores/" + st.Result.ID, nil, nil, 307},
		{"InjectionInName", "POST", secrets, item("A\r\nX-Injected: yes", hostileCanary), nil, 400},
		{"InjectionInSecretID", "GET", secrets + "/a" + injected, nil, nil, 400},
		// A search for a string with a line break is a search: it matches
		// nothing, and the break never reaches a header.
		{"InjectionInSearch", "GET", secrets + "?search=" + injected, nil, nil, 200},
		{"InjectionInRequestID", "GET", secrets + "/nope", nil, []string{"X-Request-Id", "a%0d%0aX-Injected: yes"}, 400},
	})
}

func TestHostileTrueFoundry(t *testing.T) {
	h := startHostile(t)
	tf := "/truefoundry/api/svc/v1"
	auth := "Bearer " + h.token
	var g struct {
		Data struct {
			ID                string `json:"id"`
			AssociatedSecrets []struct {
				ID string `json:"id"`
			} `json:"associatedSecrets"`
		} `json:"data"`
	}
	strictish(t, h.send(t, "POST", tf+"/secret-groups", []byte(`{"name":"main","integrationId":"internal:aws:aws-1:secret-store:internal-secret-store","secrets":[{"key":"KEEP","value":"keep-value"}]}`), auth).Body, &g)
	if g.Data.ID == "" || len(g.Data.AssociatedSecrets) != 1 {
		t.Fatal("set up: no group")
	}
	group := tf + "/secret-groups/" + g.Data.ID
	secret := tf + "/secrets/" + g.Data.AssociatedSecrets[0].ID
	create := func(key, value string) []byte {
		return []byte(`{"name":"g2","integrationId":"internal:aws:aws-1:secret-store:internal-secret-store","secrets":[{"key":"` + key + `","value":"` + value + `"}]}`)
	}
	update := func(key, value string) []byte {
		return []byte(`{"secrets":[{"key":"KEEP"},{"key":"` + key + `","value":"` + value + `"}]}`)
	}
	h.run(t, hostileFace{name: "truefoundry", auth: auth, shape: truefoundryShape}, []hostileCase{
		{"OversizedGroup", "POST", tf + "/secret-groups", create("NEW", bigValue(9<<20)), nil, 413},
		{"OversizedUpdate", "PUT", group, update("NEW", bigValue(9<<20)), nil, 413},
		{"OversizedList", "POST", tf + "/secrets", []byte(`{"secretFqns":["` + bigValue(600<<10) + `"]}`), nil, 413},
		{"OversizedValue", "PUT", group, update("NEW", bigValue(64<<10+1)), nil, 422},
		{"DeepArrays", "POST", tf + "/secret-groups", deepArrays(100000), nil, 400},
		{"DeepManifest", "PUT", tf + "/secret-groups", deepField("manifest", 20000), nil, 400},
		{"InvalidUTF8Value", "PUT", group, update("NEW", hostileCanary+"\xff"), nil, 400},
		{"InvalidUTF8Key", "PUT", group, update("N\xc3\x28", hostileCanary), nil, 400},
		{"InvalidUTF8GroupName", "POST", tf + "/secret-groups", []byte("{\"name\":\"g\xff\",\"integrationId\":\"x\",\"secrets\":[{\"key\":\"A\",\"value\":\"v\"}]}"), nil, 400},
		// TrueFoundry's Express query parser keeps an undecodable escape
		// as it is: a search that matches nothing, as there.
		{"InvalidUTF8Search", "GET", tf + "/secret-groups?search=%ff", nil, nil, 200},
		{"HugeLimit", "GET", tf + "/secret-groups?limit=99999999999999999999", nil, nil, 422},
		{"HugeOffset", "GET", tf + "/secret-groups?offset=99999999999999999999", nil, nil, 422},
		{"NegativeLimit", "GET", tf + "/secret-groups?limit=-1", nil, nil, 422},
		{"NegativeOffset", "GET", tf + "/secret-groups?offset=-1", nil, nil, 422},
		{"NegativeBodyLimit", "POST", tf + "/secrets", []byte(`{"limit":-1}`), nil, 422},
		{"HugeBodyOffset", "POST", tf + "/secrets", []byte(`{"offset":99999999999999999999}`), nil, 422},
		{"TraversalGroupID", "PUT", tf + "/secret-groups/..%2F..%2Fsecrets", update("NEW", hostileCanary), nil, 404},
		{"TraversalEncodedDots", "DELETE", tf + "/secret-groups/%2e%2e", nil, nil, 404},
		{"TraversalSecretID", "DELETE", tf + "/secrets/%2e%2e%2F" + g.Data.AssociatedSecrets[0].ID, nil, nil, 404},
		{"TraversalKey", "PUT", group, update("../../KEEP", hostileCanary), nil, 422},
		{"TraversalLiteral", "DELETE", secret + "/../../secret-groups/" + g.Data.ID, nil, nil, 307},
		{"InjectionInKey", "PUT", group, update("A\r\nX-Injected: yes", hostileCanary), nil, 400},
		{"InjectionInID", "GET", tf + "/secrets/a" + injected, nil, nil, 404},
		{"InjectionInRequestID", "GET", tf + "/secrets/nope", nil, []string{"X-Request-Id", "a%0d%0aX-Injected: yes"}, 404},
	})
}

func TestHostileChutes(t *testing.T) {
	h := startHostile(t)
	ch := "/chutes"
	auth := "Bearer " + h.token
	r := h.send(t, "POST", ch+"/secrets/", []byte(`{"purpose":"my-chute","key":"KEEP","value":"keep-value"}`), auth)
	var made struct {
		SecretID string `json:"secret_id"`
	}
	strictish(t, r.Body, &made)
	if r.Status != 200 || made.SecretID == "" {
		t.Fatalf("set up: %d %s", r.Status, r.Body)
	}
	secret := func(purpose, key, value string) []byte {
		return []byte(`{"purpose":"` + purpose + `","key":"` + key + `","value":"` + value + `"}`)
	}
	h.run(t, hostileFace{name: "chutes", auth: auth, shape: chutesShape}, []hostileCase{
		{"OversizedBody", "POST", ch + "/secrets/", secret("p", "NEW", bigValue(1<<20)), nil, 413},
		{"OversizedKeyBody", "POST", ch + "/api_keys/", []byte(`{"admin":false,"name":"` + bigValue(1<<20) + `"}`), nil, 413},
		{"OversizedValue", "POST", ch + "/secrets/", secret("p", "NEW", bigValue(64<<10+1)), nil, 413},
		{"DeepArrays", "POST", ch + "/secrets/", deepArrays(100000), nil, 422},
		{"DeepObject", "POST", ch + "/api_keys/", deepField("scopes", 20000), nil, 422},
		{"InvalidUTF8Value", "POST", ch + "/secrets/", secret("p", "NEW", hostileCanary+"\xff"), nil, 400},
		{"InvalidUTF8Key", "POST", ch + "/secrets/", secret("p", "N\xc3\x28", hostileCanary), nil, 400},
		{"InvalidUTF8Purpose", "POST", ch + "/secrets/", secret("p\xed\xa0\x80", "NEW", hostileCanary), nil, 400},
		{"InvalidUTF8SecretID", "DELETE", ch + "/secrets/%ff", nil, nil, 404},
		{"HugePage", "GET", ch + "/secrets/?page=99999999999999999999", nil, nil, 422},
		// Chutes bounds no limit: the face serves a page of 1000.
		{"HugeLimit", "GET", ch + "/secrets/?limit=99999999999", nil, nil, 200},
		{"NegativePage", "GET", ch + "/secrets/?page=-1", nil, nil, 422},
		{"NegativeLimit", "GET", ch + "/api_keys/?limit=-1", nil, nil, 422},
		{"TraversalSecretID", "DELETE", ch + "/secrets/..%2F..%2Fapi_keys", nil, nil, 404},
		{"TraversalEncodedDots", "DELETE", ch + "/secrets/%2e%2e", nil, nil, 404},
		{"TraversalKeyID", "DELETE", ch + "/api_keys/%2e%2e%2F%2e%2e", nil, nil, 404},
		{"TraversalPurpose", "POST", ch + "/secrets/", secret("../../etc", "NEW", hostileCanary), nil, 422},
		{"TraversalKey", "POST", ch + "/secrets/", secret("p", "../KEEP", hostileCanary), nil, 422},
		{"TraversalLiteral", "DELETE", ch + "/secrets/../api_keys/x", nil, nil, 307},
		{"InjectionInKey", "POST", ch + "/secrets/", secret("p", "A\\r\\nX-Injected: yes", hostileCanary), nil, 422},
		{"InjectionInSecretID", "GET", ch + "/secrets/a" + injected, nil, nil, 404},
		{"InjectionInHotkey", "GET", ch + "/secrets/", nil, []string{"X-Chutes-Hotkey", "5x%0d%0aX-Injected: yes", "X-Chutes-Signature", "00", "X-Chutes-Nonce", "1"}, 401},
		{"InjectionInRequestID", "GET", ch + "/secrets/nope", nil, []string{"X-Request-Id", "a%0d%0aX-Injected: yes"}, 404},
	})
}

func TestHostileByteNite(t *testing.T) {
	h := startHostile(t)
	bn := "/bytenite/v1/auth"
	auth := h.token // ByteNite clients send the bare key
	if r := h.send(t, "POST", bn+"/secrets", []byte(`{"secret":{"id":"keep","secretType":"aws"},"secretKey":"keep-value"}`), auth); r.Status != 200 {
		t.Fatalf("set up: %d %s", r.Status, r.Body)
	}
	save := func(id, typ, key string) []byte {
		return []byte(`{"secret":{"id":"` + id + `","secretType":"` + typ + `"},"secretKey":"` + key + `"}`)
	}
	h.run(t, hostileFace{name: "bytenite", auth: auth, shape: byteniteShape}, []hostileCase{
		{"OversizedBody", "POST", bn + "/secrets", save("new", "aws", bigValue(1<<20)), nil, 413},
		{"OversizedTokenBody", "POST", bn + "/access_token", []byte(`{"apiKey":"` + bigValue(1<<20) + `"}`), nil, 413},
		{"OversizedValue", "POST", bn + "/secrets", save("new", "aws", bigValue(64<<10+1)), nil, 413},
		{"DeepArrays", "POST", bn + "/secrets", deepArrays(100000), nil, 400},
		{"DeepParams", "POST", bn + "/secrets", deepField("secret", 20000), nil, 400},
		{"InvalidUTF8Value", "POST", bn + "/secrets", save("new", "aws", hostileCanary+"\xff"), nil, 400},
		{"InvalidUTF8ID", "POST", bn + "/secrets", save("n\xc3\x28", "aws", hostileCanary), nil, 400},
		{"InvalidUTF8Type", "POST", bn + "/secrets", save("new", "a\xff", hostileCanary), nil, 400},
		{"InvalidUTF8TypeQuery", "GET", bn + "/secrets?secretType=%ff", nil, nil, 400},
		{"NegativeValidity", "POST", bn + "/api_keys", []byte(`{"name":"k","validity":"-60s"}`), nil, 400},
		{"HugeValidity", "POST", bn + "/api_keys", []byte(`{"name":"k","validity":"99999999999999999999s"}`), nil, 400},
		{"FarPastExpiry", "POST", bn + "/secrets", []byte(`{"secret":{"id":"new","secretType":"aws","expiresAt":"1900-01-01T00:00:00Z"},"secretKey":"` + hostileCanary + `"}`), nil, 400},
		{"HugeExpiry", "POST", bn + "/secrets", []byte(`{"secret":{"id":"new","secretType":"aws","expiresAt":"99999-01-01T00:00:00Z"},"secretKey":"` + hostileCanary + `"}`), nil, 400},
		{"TraversalID", "POST", bn + "/secrets", save("../keep", "aws", hostileCanary), nil, 400},
		{"TraversalType", "POST", bn + "/secrets", save("new", "../aws", hostileCanary), nil, 400},
		{"TraversalDeleteEncodedSlash", "DELETE", bn + "/secrets/aws/..%2Fkeep", nil, nil, 400},
		{"TraversalDeleteEncodedDots", "DELETE", bn + "/secrets/%2e%2e/keep", nil, nil, 400},
		{"TraversalRevoke", "POST", bn + "/api_keys/%2e%2e%2F%2e%2e/revoke", nil, nil, 404},
		{"TraversalLiteral", "DELETE", bn + "/secrets/x/../aws/keep", nil, nil, 307},
		{"InjectionInID", "POST", bn + "/secrets", save("a\\r\\nX-Injected: yes", "aws", hostileCanary), nil, 400},
		{"InjectionInPath", "DELETE", bn + "/secrets/aws/a" + injected, nil, nil, 400},
		{"InjectionInRequestID", "DELETE", bn + "/secrets/aws/nope", nil, []string{"X-Request-Id", "a%0d%0aX-Injected: yes"}, 404},
	})
}

// TestHostileSlowBody sends every face a request whose body trickles in a
// byte at a time (slowloris), and one whose headers do. The server's
// ReadTimeout and ReadHeaderTimeout (server.go) must cut each off: the
// connection is closed within the timeout and some slack, not held open
// for as long as the client keeps trickling; whatever answer comes back is
// the face's 400, not a 5xx; nothing is written; nothing is logged as a
// server failure.
func TestHostileSlowBody(t *testing.T) {
	t.Parallel() // half a minute of waiting: let other tests run meanwhile
	h := startHostile(t)
	h.native.must(201, "POST", "/v1/stores", map[string]any{"name": "hz"})
	seq := h.auditHead(t)
	before := h.state(t)
	cf := "/cloudflare/client/v4/accounts/" + h.account + "/secrets_store/stores"
	faces := []struct {
		name, method, path, auth string
		shape                    func(t *testing.T, r reply, status int)
	}{
		{"native", "PUT", "/v1/stores/hz/secrets/SLOW", "Bearer " + h.token, nativeShape},
		{"cloudflare", "POST", cf, "Bearer " + h.token, cloudflareShape},
		{"truefoundry", "POST", "/truefoundry/api/svc/v1/secret-groups", "Bearer " + h.token, truefoundryShape},
		{"chutes", "POST", "/chutes/secrets/", "Bearer " + h.token, chutesShape},
		{"bytenite", "POST", "/bytenite/v1/auth/secrets", h.token, byteniteShape},
	}
	readTimeout, headerTimeout := h.srv.HTTPServer().ReadTimeout, h.srv.HTTPServer().ReadHeaderTimeout
	if readTimeout <= 0 || readTimeout > time.Minute || headerTimeout <= 0 || headerTimeout > readTimeout {
		t.Fatalf("server timeouts: read %v, header %v; want both set, at most a minute", readTimeout, headerTimeout)
	}
	addr := strings.TrimPrefix(h.base, "http://")
	// Every slow client runs at once: each takes the whole timeout.
	type result struct {
		status int
		body   []byte
		took   time.Duration
		err    error
	}
	results := make([]result, len(faces)+1)
	var wg sync.WaitGroup
	for i, f := range faces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			head := f.method + " " + f.path + " HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: " + f.auth +
				"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n" + `{"value":"` + hostileCanary
			r := &results[i]
			r.status, r.body, r.took, r.err = slowClient(addr, head, readTimeout+15*time.Second)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := &results[len(faces)]
		r.status, r.body, r.took, r.err = slowClient(addr, "GET /v1/stores HTTP/1.1\r\nHost: "+addr+"\r\n", headerTimeout+15*time.Second)
	}()
	wg.Wait()
	for i, f := range faces {
		t.Run("Body/"+f.name, func(t *testing.T) {
			r := results[i]
			if r.err != nil {
				t.Fatal(r.err)
			}
			t.Logf("closed after %v with status %d", r.took.Round(time.Millisecond), r.status)
			if r.took < readTimeout-time.Second || r.took > readTimeout+10*time.Second {
				t.Errorf("the connection was closed after %v; want about the read timeout %v", r.took, readTimeout)
			}
			if r.status != 0 {
				if r.status != 400 {
					t.Errorf("got %d %s, want 400 or no answer", r.status, r.body)
				}
				f.shape(t, reply{Status: r.status, Body: r.body}, r.status)
			}
		})
	}
	t.Run("Headers", func(t *testing.T) {
		r := results[len(faces)]
		if r.err != nil {
			t.Fatal(r.err)
		}
		t.Logf("closed after %v with status %d", r.took.Round(time.Millisecond), r.status)
		if r.took > headerTimeout+10*time.Second {
			t.Errorf("the connection was closed after %v; want about the header timeout %v", r.took, headerTimeout)
		}
		if r.status != 0 && r.status != 408 && r.status != 400 {
			t.Errorf("got %d %s, want no answer or a 4xx", r.status, r.body)
		}
	})
	h.wroteSince(t, seq)
	if after := h.state(t); after != before {
		t.Errorf("slow bodies changed the store:\n%s\n%s", before, after)
	}
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("a slow client was logged as a server failure: %s", line)
		}
		if strings.Contains(line, hostileCanary) {
			t.Errorf("the log holds the canary: %s", line)
		}
	}
}

// slowClient writes head, then one byte every half second until the server
// closes the connection or limit passes. It returns the status and body of
// an answer if one came (0 if none), and how long the server took to close.
func slowClient(addr, head string, limit time.Duration) (int, []byte, time.Duration, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, nil, 0, err
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		return 0, nil, 0, err
	}
	closed := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(conn) // until the server closes
		closed <- b
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(limit)
	for {
		select {
		case b := <-closed:
			took := time.Since(start)
			if len(b) == 0 {
				return 0, nil, took, nil
			}
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
			if err != nil {
				return 0, nil, took, fmt.Errorf("answer %q: %v", b, err)
			}
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, body, took, nil
		case <-tick.C:
			conn.Write([]byte("x")) // fails once the server has closed; the read sees that
		case <-deadline:
			return 0, nil, limit, fmt.Errorf("the server still held the connection after %v", limit)
		}
	}
}
