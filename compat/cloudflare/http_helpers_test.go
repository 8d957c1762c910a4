package cloudflare_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer/compat/cloudflare"
	"github.com/coffer-dev/coffer/internal/servertest"
	"github.com/coffer-dev/coffer/server"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// The Cloudflare face's OpenAPI description, kept next to the face.
const cloudflareSpec = "testdata/cloudflare-secrets-store.openapi.json"

// cfServer is a running server seen through the Cloudflare face.
type cfServer struct {
	Base    string // http://host:port
	Token   string // root admin key
	Account string // its account id
	Server  *server.Server
}

// URL returns the face's URL of a path under /accounts/{account}/secrets_store.
func (s *cfServer) URL(path string) string {
	return s.Base + cloudflare.Prefix + "accounts/" + s.Account + "/secrets_store" + path
}

// startCloudflare starts the real server with the given Cloudflare limits
// (see cloudflare.ParseLimits) and finds the root key's account.
func startCloudflare(t *testing.T, limits ...string) *cfServer {
	t.Helper()
	srv := servertest.Open(t, nil, func(c *server.Config) { c.CloudflareLimits = limits })
	s := &cfServer{Base: "http://" + srv.Addr, Token: srv.RootToken, Server: srv}
	s.Account = servertest.AccountOf(t, s.Base, s.Token)
	return s
}

// oasTransport validates every response of the Cloudflare face against the
// OpenAPI description, and counts requests by "METHOD path" so that tests
// can tell whether a client retried.
type oasTransport struct {
	errorf func(format string, args ...any) // t.Errorf
	next   http.RoundTripper
	router routers.Router

	mu     sync.Mutex
	counts map[string]int
	bodies [][]byte
}

func newOASTransport(t *testing.T) *oasTransport {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(cloudflareSpec)
	if err != nil {
		t.Fatalf("load OpenAPI: %v", err)
	}
	doc.Servers = nil // paths are matched after the face's prefix is cut
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("OpenAPI router: %v", err)
	}
	return &oasTransport{errorf: t.Errorf, next: http.DefaultTransport, router: router, counts: map[string]int{}}
}

// Client returns an HTTP client that goes through the transport.
func (o *oasTransport) Client() *http.Client { return &http.Client{Transport: o} }

// Count returns how many requests were sent for "METHOD path".
func (o *oasTransport) Count(method, url string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	i := strings.Index(url, cloudflare.Prefix)
	return o.counts[method+" "+url[i:]]
}

// Bodies returns every response body seen.
func (o *oasTransport) Bodies() [][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([][]byte(nil), o.bodies...)
}

func (o *oasTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	o.mu.Lock()
	o.counts[req.Method+" "+req.URL.Path]++
	o.mu.Unlock()
	resp, err := o.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	o.mu.Lock()
	o.bodies = append(o.bodies, body)
	o.mu.Unlock()
	o.validate(req, resp, body)
	return resp, nil
}

// validate checks one response against the operation the request names.
func (o *oasTransport) validate(req *http.Request, resp *http.Response, body []byte) {
	where := req.Method + " " + req.URL.Path
	r := req.Clone(context.Background())
	r.URL.Path = strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(cloudflare.Prefix, "/"))
	route, params, err := o.router.FindRoute(r)
	if err != nil {
		o.errorf("%s: no operation in the OpenAPI description: %v", where, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		o.errorf("%s: %d response does not match the OpenAPI description: %v\nbody: %s", where, resp.StatusCode, err, body)
	}
}

// validateRaw checks a response that a test got with plain HTTP.
func (o *oasTransport) validateRaw(t *testing.T, method, url string, r servertest.Reply) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.validate(req, &http.Response{StatusCode: r.Status, Header: r.Header}, r.Body)
}

// TestOASTransport checks that the validator is not vacuous: it refuses
// bodies that break the description.
func TestOASTransport(t *testing.T) {
	o := newOASTransport(t)
	var got []string
	o.errorf = func(format string, args ...any) { got = append(got, fmt.Sprintf(format, args...)) }
	url := "http://x" + cloudflare.Prefix + "accounts/" + strings.Repeat("a", 32) + "/secrets_store/stores/" + strings.Repeat("b", 32)
	for _, tt := range []struct {
		method string
		status int
		body   string
		ok     bool
	}{
		{"GET", 200, `{"success":true,"errors":[],"messages":[],"result":{"id":"x","created":"2023-09-21T18:56:32.624632Z","modified":"2023-09-21T18:56:32.624632Z","name":"n"}}`, true},
		{"GET", 200, `{"success":true,"errors":[],"messages":[],"result":{"id":"x","created":"2023-09-21T18:56:32.624632Z","name":"n"}}`, false}, // no modified
		{"GET", 200, `{"success":false,"errors":[],"messages":[],"result":null}`, false},
		{"GET", 404, `{"success":false,"errors":[{"code":1002,"message":"store_not_found"}],"messages":[],"result":null}`, true},
		{"GET", 404, `{"success":false,"errors":[{"code":12,"message":"m"}],"messages":[],"result":null}`, false}, // code < 1000
		{"GET", 404, `{"error":"nope"}`, false},
		{"GET", 500, `{"success":false,"errors":[{"code":1000,"message":"internal error"}],"messages":[],"result":null}`, false}, // undocumented status
		{"DELETE", 200, `{"success":true,"errors":[],"messages":[],"result":null}`, true},
	} {
		got = nil
		h := http.Header{"Content-Type": []string{"application/json"}}
		o.validateRaw(t, tt.method, url, servertest.Reply{Status: tt.status, Header: h, Body: []byte(tt.body)})
		if ok := len(got) == 0; ok != tt.ok {
			t.Errorf("%s %d %s: got valid=%v %v, want %v", tt.method, tt.status, tt.body, ok, got, tt.ok)
		}
	}
}
