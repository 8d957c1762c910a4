package main

// The authz tests check access control end to end, through the HTTP API of
// a real server: scoped keys (this file), no escalation, revocation and
// expiry (authz_keys_test.go), tenant isolation (authz_tenant_test.go),
// credential hygiene, failed-auth limits and the audit of decisions
// (authz_auth_test.go). Their helpers are prefixed authz.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer/internal/servertest"
)

// authzTenant is an account made through the operator's API, with the admin
// key it came with (servertest.Tenant).
type authzTenant struct{ servertest.Tenant }

// authzNewTenant creates an account with the operator's root token.
func authzNewTenant(t *testing.T, base, root string) *authzTenant {
	t.Helper()
	return &authzTenant{*servertest.NewTenant(t, base, root)}
}

// api returns a client of the native API holding the tenant's admin key.
func (ten *authzTenant) api(t *testing.T, base string) *rawAPI {
	return &rawAPI{t: t, base: base, token: ten.Token}
}

// authzMint creates a key through a and returns its token and JSON form.
func authzMint(t *testing.T, a *rawAPI, body map[string]any) (string, map[string]any) {
	t.Helper()
	return servertest.Mint(t, a.client(), body)
}

// authzScopes turns scopes written as STORE:SECRET:ACTION[,ACTION...] into
// their JSON form (servertest.Scopes).
func authzScopes(ss ...string) []map[string]any { return servertest.Scopes(ss...) }

// authzSecretPath is the path of a secret, its name escaped as one segment.
func authzSecretPath(store, secret string) string { return servertest.SecretPath(store, secret) }

func authzStr(v any) string { return servertest.Str(v) }

// authzNames returns the given field of every object of a listing.
func authzNames(t *testing.T, r reply, list, field string) []string {
	t.Helper()
	items, ok := r.JSON(t)[list].([]any)
	if !ok {
		t.Fatalf("reply %d has no %q list: %s", r.Status, list, r.Body)
	}
	var out []string
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, authzStr(m[field]))
	}
	slices.Sort(out)
	return out
}

// authzLoopback hands out HTTP clients that connect from distinct loopback
// addresses, each in a /24 of its own (127.1.1.1, 127.1.2.1, ...). The
// server limits failed attempts per client address and per /24, and every
// other test request comes from 127.0.0.1.
type authzLoopback struct{ n atomic.Int32 }

// next returns a client connecting from a fresh address, and the address.
func (l *authzLoopback) next(t *testing.T) (*http.Client, string) {
	n := l.n.Add(1)
	ip := net.IPv4(127, byte(1+n/250), byte(1+n%250), 1)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, ip.String()
}

// authzPeer is a rawAPI whose requests go through its own client (one
// bound to some loopback address).
type authzPeer struct {
	rawAPI
	client *http.Client
}

// do is rawAPI.do through the peer's client.
func (p *authzPeer) do(method, path string, body any, hdr ...string) reply {
	p.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		rd = bytes.NewReader(must(json.Marshal(b)))
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// must is rawAPI.must through the peer's client.
func (p *authzPeer) must(want int, method, path string, body any, hdr ...string) reply {
	p.t.Helper()
	r := p.do(method, path, body, hdr...)
	if r.Status != want {
		p.t.Fatalf("%s %s: got %d %s, want %d", method, path, r.Status, r.Body, want)
	}
	return r
}

// authzActions is every scope action.
var authzActions = []string{"list", "read", "reveal", "write", "delete", "admin"}

// authzOp is one request of the matrix and what it needs.
type authzOp struct {
	name    string
	action  string // the scope action the request needs
	onStore bool   // it acts on the store itself, not on one secret
	create  bool   // it creates the store, which has no id yet
	deleted bool   // its secret must be deleted first; the path names it by id
	mutates bool
	ok      int // the status when allowed
	// req builds the request on store (a name or an id) and the secret (its
	// name and id).
	req func(store, name, id string) (method, path string, body any)
}

var authzOps = []authzOp{
	{name: "list secrets", action: "list", onStore: true, ok: 200, req: func(st, n, id string) (string, string, any) {
		return "GET", "/v1/stores/" + st + "/secrets", nil
	}},
	{name: "read metadata", action: "read", ok: 200, req: func(st, n, id string) (string, string, any) {
		return "GET", authzSecretPath(st, n), nil
	}},
	{name: "versions", action: "read", ok: 200, req: func(st, n, id string) (string, string, any) {
		return "GET", authzSecretPath(st, n) + "/versions", nil
	}},
	{name: "reveal", action: "reveal", ok: 200, req: func(st, n, id string) (string, string, any) {
		return "GET", authzSecretPath(st, n) + "/value", nil
	}},
	{name: "batch values", action: "reveal", ok: 200, req: func(st, n, id string) (string, string, any) {
		return "POST", "/v1/stores/" + st + "/values", map[string]any{"names": []string{n}}
	}},
	{name: "put", action: "write", mutates: true, ok: 200, req: func(st, n, id string) (string, string, any) {
		return "PUT", authzSecretPath(st, n), map[string]any{"value": "changed"}
	}},
	{name: "patch", action: "write", mutates: true, ok: 200, req: func(st, n, id string) (string, string, any) {
		return "PATCH", authzSecretPath(st, n), map[string]any{"comment": "changed"}
	}},
	{name: "rollback", action: "write", mutates: true, ok: 200, req: func(st, n, id string) (string, string, any) {
		return "POST", authzSecretPath(st, n) + "/rollback", map[string]any{"version": 1}
	}},
	{name: "undelete", action: "write", deleted: true, mutates: true, ok: 200, req: func(st, n, id string) (string, string, any) {
		return "POST", authzSecretPath(st, id) + "/undelete", nil
	}},
	{name: "delete", action: "delete", mutates: true, ok: 200, req: func(st, n, id string) (string, string, any) {
		return "DELETE", authzSecretPath(st, n), nil
	}},
	{name: "destroy version", action: "delete", mutates: true, ok: 204, req: func(st, n, id string) (string, string, any) {
		return "DELETE", authzSecretPath(st, n) + "/versions/1", nil
	}},
	{name: "purge", action: "delete", deleted: true, mutates: true, ok: 204, req: func(st, n, id string) (string, string, any) {
		return "DELETE", authzSecretPath(st, id) + "?purge=true", nil
	}},
	{name: "delete store", action: "admin", onStore: true, mutates: true, ok: 204, req: func(st, n, id string) (string, string, any) {
		return "DELETE", "/v1/stores/" + st + "?force=true", nil
	}},
	{name: "create store", action: "admin", onStore: true, create: true, mutates: true, ok: 201, req: func(st, n, id string) (string, string, any) {
		return "POST", "/v1/stores", map[string]any{"name": "prod"}
	}},
}

// authzShape is the key of a matrix cell: an admin key, or one scope whose
// actions depend on the op, and the secret of store prod that the request
// names. Every account of the matrix has stores prod and dev, and prod holds
// db/pw, db/pw2 and api/key.
type authzShape struct {
	admin bool
	store string // "*" or "" (every store), "prod", "id" (prod's id) or "dev"
	// secret is "*" or "" (every secret), a prefix ending in '*', a name,
	// or "id*": the first digits of the target's id and '*', a pattern
	// that matches the id and not the name.
	secret  string
	actions string // "one" (the op's action), "others" (every other) or "all"
	target  string // the secret the request names
	// byID makes the request name the target by its id wherever it takes
	// a secret ref; a put, which takes a name, then writes a secret named
	// like the id, which is refused.
	byID     bool
	targetID string // filled in by the cell
}

var authzShapes = []authzShape{
	{admin: true, target: "db/pw"},
	{store: "*", secret: "*", actions: "one", target: "db/pw"},
	{store: "*", secret: "*", actions: "others", target: "db/pw"},
	{store: "", secret: "", actions: "one", target: "db/pw"},
	{store: "prod", secret: "*", actions: "one", target: "db/pw"},
	{store: "id", secret: "*", actions: "one", target: "db/pw"},
	{store: "prod", secret: "db/*", actions: "one", target: "db/pw"},
	{store: "prod", secret: "db/*", actions: "one", target: "api/key"},
	{store: "prod", secret: "db/pw", actions: "one", target: "db/pw"},
	{store: "prod", secret: "db/pw", actions: "one", target: "db/pw2"},
	{store: "dev", secret: "*", actions: "one", target: "db/pw"},
	{store: "dev", secret: "*", actions: "all", target: "db/pw"},
	{store: "prod", secret: "id*", actions: "one", target: "db/pw", byID: true},
	{store: "prod", secret: "db/*", actions: "one", target: "db/pw", byID: true},
	{store: "prod", secret: "db/*", actions: "one", target: "api/key", byID: true},
	{admin: true, target: "db/pw", byID: true},
}

// pattern is the shape's secret pattern, "id*" made from the target's id.
func (sh authzShape) pattern() string {
	if sh.secret == "id*" {
		return sh.targetID[:8] + "*"
	}
	return sh.secret
}

// actionsFor returns the actions the shape's scope holds for op.
func (sh authzShape) actionsFor(op authzOp) []string {
	switch sh.actions {
	case "all":
		return authzActions
	case "others":
		return slices.DeleteFunc(slices.Clone(authzActions), func(a string) bool { return a == op.action })
	}
	return []string{op.action}
}

// scope renders the shape's scope for op, naming prod by prodID where the
// shape says so.
func (sh authzShape) scope(op authzOp, prodID string) string {
	st := sh.store
	if st == "id" {
		st = prodID
	}
	return st + ":" + sh.pattern() + ":" + strings.Join(sh.actionsFor(op), ",")
}

// label names the shape in failure messages.
func (sh authzShape) label(op authzOp) string {
	by := ""
	if sh.byID {
		by = " by id"
	}
	if sh.admin {
		return "admin key" + by
	}
	if sh.store == "" && sh.secret == "" {
		return `"":"":` + strings.Join(sh.actionsFor(op), ",") + by
	}
	if sh.secret == "id*" {
		sh.targetID = "<id pre>" // shows as <id pre>*
	}
	return sh.scope(op, "<prod id>") + by
}

// allows is the access rule under test, written out from the spec rather
// than taken from the server. An admin key may do anything in its account.
// A scope allows a request on store prod when it names prod (by name, by id,
// or as "*" or "") and holds the request's action, and then:
//   - on a secret, when its secret pattern matches the secret's name (equal
//     to it, "*" or "", or a prefix ending in '*');
//   - on the store itself, when its pattern is "*" or "", or for listing only,
//     which a narrower pattern allows too (showing only matching names).
//
// A store being created has no id yet, so a scope naming an id never
// covers it.
func (sh authzShape) allows(op authzOp, secret string) bool {
	if sh.admin {
		return true
	}
	if sh.store == "dev" || sh.store == "id" && op.create {
		return false
	}
	if !slices.Contains(sh.actionsFor(op), op.action) {
		return false
	}
	every := sh.secret == "*" || sh.secret == ""
	if op.onStore {
		return every || op.action == "list"
	}
	pat := sh.pattern()
	prefix, isPrefix := strings.CutSuffix(pat, "*")
	return every || pat == secret || isPrefix && strings.HasPrefix(secret, prefix)
}

// byIDPut reports whether the cell is a put naming the target by id: a
// write of a new secret named like the id, refused as invalid (400) where
// the key may write that name.
func (sh authzShape) byIDPut(op authzOp) bool { return sh.byID && op.name == "put" }

// want is the status the cell must answer. Another account's store answers
// as a missing one, whatever the key; creating a store always happens in the
// key's own account, so a name taken in another account makes no difference.
func (sh authzShape) want(op authzOp, other bool) int {
	switch {
	case other && !op.create:
		return 404
	case sh.byIDPut(op):
		if sh.allows(op, sh.targetID) {
			return 400
		}
	case sh.allows(op, sh.target):
		return op.ok
	}
	return 403
}

// TestAuthzMatrix makes every request of authzOps with every key of
// authzShapes, on the key's own account and on another one, each cell on
// fresh accounts, and checks the status, that refused requests change
// nothing and allowed writes do, and what listings show.
func TestAuthzMatrix(t *testing.T) {
	base, root := startServer(t)
	for _, op := range authzOps {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			for _, sh := range authzShapes {
				for _, other := range []bool{false, true} {
					where := "own account"
					if other {
						where = "another account"
					}
					t.Run(sh.label(op)+" on "+sh.target+" in "+where, func(t *testing.T) {
						t.Parallel()
						authzCell(t, base, root, op, sh, other)
					})
				}
			}
		})
	}

	t.Run("StoreListing", func(t *testing.T) {
		t.Parallel()
		a := authzNewTenant(t, base, root).api(t, base)
		prodID := authzStr(a.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"}).JSON(t)["id"])
		a.must(201, "POST", "/v1/stores", map[string]any{"name": "dev"})
		for _, sh := range authzShapes {
			sh.targetID = prodID // any id: only the store matters here
			for _, action := range authzActions {
				op := authzOp{action: action}
				body := map[string]any{"name": "lister", "admin": true}
				if !sh.admin {
					body = map[string]any{"name": "lister", "scopes": authzScopes(sh.scope(op, prodID))}
				}
				tok, _ := authzMint(t, a, body)
				got := authzNames(t, (&rawAPI{t: t, base: base, token: tok}).must(200, "GET", "/v1/stores", nil), "stores", "name")
				// The stores the key has a scope on, by the shape's store.
				var some []string
				switch sh.store {
				case "", "*":
					some = []string{"dev", "prod"}
				case "dev":
					some = []string{"dev"}
				default:
					some = []string{"prod"}
				}
				for _, name := range got {
					if !slices.Contains(some, name) {
						t.Errorf("list stores with scope %s: got %v, want only stores in %v", sh.label(op), got, some)
					}
				}
				if (sh.admin || slices.Contains(sh.actionsFor(op), "list")) && !slices.Equal(got, some) {
					t.Errorf("list stores with scope %s: got %v, want %v", sh.label(op), got, some)
				}
				if sh.admin {
					break
				}
			}
		}
	})
}

// authzCell runs one cell of the matrix on fresh accounts.
func authzCell(t *testing.T, base, root string, op authzOp, sh authzShape, other bool) {
	owner := authzNewTenant(t, base, root).api(t, base)
	prodID := authzStr(owner.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"}).JSON(t)["id"])
	owner.must(201, "POST", "/v1/stores", map[string]any{"name": "dev"})
	ids := map[string]string{}
	for _, n := range []string{"db/pw", "db/pw2", "api/key"} {
		ids[n] = authzStr(owner.must(201, "PUT", authzSecretPath("prod", n), map[string]any{"value": "first " + n}).JSON(t)["id"])
	}
	if op.deleted {
		owner.must(200, "DELETE", authzSecretPath("prod", sh.target), nil)
	}
	if op.create && !other {
		owner.must(204, "DELETE", "/v1/stores/prod?force=true", nil)
	}

	sh.targetID = ids[sh.target]

	// The key belongs to the owner's account, or to another account that
	// names the owner's store by its id.
	minter, store, where := owner, "prod", "own account"
	if other {
		minter, store, where = authzNewTenant(t, base, root).api(t, base), prodID, "another account"
	}
	body := map[string]any{"name": "cell", "admin": true}
	if !sh.admin {
		body = map[string]any{"name": "cell", "scopes": authzScopes(sh.scope(op, prodID))}
	}
	tok, _ := authzMint(t, minter, body)
	key := &rawAPI{t: t, base: base, token: tok}

	before := authzState(owner, prodID, ids[sh.target])
	ref := sh.target
	if sh.byID {
		ref = ids[sh.target]
	}
	method, path, reqBody := op.req(store, ref, ids[sh.target])
	r := key.do(method, path, reqBody)
	after := authzState(owner, prodID, ids[sh.target])

	want := sh.want(op, other)
	cell := fmt.Sprintf("%s with scope %s on %s in %s", op.name, sh.label(op), sh.target, where)
	if r.Status != want {
		t.Fatalf("%s: got %d %s, want %d", cell, r.Status, r.Body, want)
	}
	switch want {
	case 403:
		if got := r.Code(t); got != "forbidden" {
			t.Errorf("%s: got code %q, want forbidden", cell, got)
		}
	case 404:
		if got := r.Code(t); got != "not_found" {
			t.Errorf("%s: got code %q, want not_found", cell, got)
		}
	case 400:
		if got := r.Code(t); got != "invalid" {
			t.Errorf("%s: got code %q, want invalid", cell, got)
		}
	}
	changed := before != after
	if wantChanged := op.mutates && want < 300 && !other; changed != wantChanged {
		t.Errorf("%s: owner's store changed %v, want %v\nbefore:\n%s\nafter:\n%s", cell, changed, wantChanged, before, after)
	}
	if want != 200 {
		return
	}
	switch op.name {
	case "list secrets":
		// Listed: exactly the live secrets whose names the key may list.
		var wantNames []string
		for _, n := range []string{"api/key", "db/pw", "db/pw2"} {
			if sh.allows(authzOp{action: "list"}, n) {
				wantNames = append(wantNames, n)
			}
		}
		if got := authzNames(t, r, "secrets", "name"); !slices.Equal(got, wantNames) {
			t.Errorf("%s: listed %v, want %v", cell, got, wantNames)
		}
	case "batch values":
		if got := authzNames(t, r, "values", "name"); !slices.Equal(got, []string{sh.target}) {
			t.Errorf("%s: values of %v, want [%s]", cell, got, sh.target)
		}
	case "reveal":
		if v, _ := value(t, r); v != "first "+sh.target {
			t.Errorf("%s: got value %q, want %q", cell, v, "first "+sh.target)
		}
	}
}

// authzState describes, as its admin sees them, an account's stores, the
// secrets of store prod (by its id, deleted ones too) and the versions of
// one secret, so that a test can tell whether a request changed them.
func authzState(admin *rawAPI, prodID, secretID string) string {
	admin.t.Helper()
	var b strings.Builder
	for _, p := range []string{"/v1/stores", "/v1/stores/" + prodID + "/secrets?deleted=true", authzSecretPath(prodID, secretID) + "/versions"} {
		r := admin.do("GET", p, nil)
		fmt.Fprintf(&b, "GET %s: %d %s\n", p, r.Status, bytes.TrimSpace(r.Body))
	}
	return b.String()
}
