package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// authzUnknownToken returns a well-formed token of a key that does not exist.
func authzUnknownToken() string {
	return "cfr_" + authzRandHex(8) + "_" + authzRandHex(32)
}

// authzWrongSecret returns tok with its last hex digit changed: the same key
// id with a wrong secret.
func authzWrongSecret(tok string) string {
	last := tok[len(tok)-1]
	if last == '0' {
		return tok[:len(tok)-1] + "1"
	}
	return tok[:len(tok)-1] + "0"
}

// authzWantUnauthorized is the one body every failed authentication gets.
const authzWantUnauthorized = `{"error":{"code":"unauthorized","message":"invalid or missing API key"}}`

// TestAuthzUnauthorizedIndistinguishable checks that every failed
// authentication gets the same status, body and headers, whatever was
// wrong, and takes about as long for an unknown key as for a known key
// with a wrong secret. Each failing request comes from its own loopback
// address so that the failed-attempt limit stays out of the way.
func TestAuthzUnauthorizedIndistinguishable(t *testing.T) {
	base, root := startServer(t)
	acme := authzNewTenant(t, base, root)
	admin := acme.api(t, base)
	admin.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"})
	admin.must(201, "PUT", authzSecretPath("prod", "db/pw"), map[string]any{"value": "v"})
	readers := authzScopes("prod:*:list,read,reveal")
	live, _ := authzMint(t, admin, map[string]any{"name": "real", "scopes": readers})
	other, _ := authzMint(t, admin, map[string]any{"name": "other", "scopes": readers})
	revoked, rk := authzMint(t, admin, map[string]any{"name": "revoked", "scopes": readers})
	admin.must(204, "DELETE", "/v1/keys/"+authzStr(rk["id"]), nil)
	expires := time.Now().Add(time.Second)
	expired, _ := authzMint(t, admin, map[string]any{"name": "expired", "scopes": readers, "expires_at": expires.UTC().Format(time.RFC3339Nano)})
	time.Sleep(time.Until(expires) + 200*time.Millisecond)
	var ips authzLoopback

	variants := []struct{ name, auth string }{
		{"UnknownKey", "Bearer " + authzUnknownToken()},
		{"WrongSecret", "Bearer " + authzWrongSecret(live)},
		{"RevokedKey", "Bearer " + revoked},
		{"ExpiredKey", "Bearer " + expired},
		{"UppercaseKeyID", "Bearer " + other[:4] + strings.ToUpper(other[4:20]) + other[20:]},
		{"Truncated", "Bearer " + other[:len(other)-2]},
		{"Malformed", "Bearer nope"},
		{"EmptyBearer", "Bearer "},
		{"NoToken", ""},
		{"BasicAuth", "Basic " + base64.StdEncoding.EncodeToString([]byte("u:"+other))},
	}
	routes := []struct{ method, path string }{
		{"GET", authzSecretPath("prod", "db/pw") + "/value"},
		{"PUT", authzSecretPath("prod", "db/pw")},
		{"GET", "/v1/keys"},
		{"GET", "/v1/audit"},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			var first reply
			for i, v := range variants {
				client, _ := ips.next(t)
				p := &authzPeer{rawAPI{t: t, base: base}, client}
				var hdr []string
				if v.auth != "" {
					hdr = []string{"Authorization", v.auth}
				}
				r := p.do(rt.method, rt.path, map[string]any{"value": "x"}, hdr...)
				if i == 0 {
					first = r
					var body bytes.Buffer
					if err := json.Compact(&body, r.Body); r.Status != 401 || err != nil || body.String() != authzWantUnauthorized {
						t.Errorf("%s: got %d %s, want 401 %s", v.name, r.Status, r.Body, authzWantUnauthorized)
					}
					if r.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("%s: no WWW-Authenticate header", v.name)
					}
					continue
				}
				if r.Status != first.Status || string(r.Body) != string(first.Body) {
					t.Errorf("%s: got %d %s, want %d %s as for %s", v.name, r.Status, r.Body, first.Status, first.Body, variants[0].name)
				}
				if got, want := authzHeaders(r.Header), authzHeaders(first.Header); got != want {
					t.Errorf("%s: got headers\n%s\nwant\n%s", v.name, got, want)
				}
			}
		})
	}

	t.Run("Timing", func(t *testing.T) {
		// Wrong secrets are spread over several keys, as attempts naming one
		// key id are limited too.
		var keys []string
		for i := range 8 {
			tok, _ := authzMint(t, acme.api(t, base), map[string]any{"name": fmt.Sprintf("timed-%d", i), "scopes": readers})
			keys = append(keys, tok)
		}
		const warmup, n = 5, 30
		var unknown, wrong []time.Duration
		var p *authzPeer
		path := authzSecretPath("prod", "db/pw") + "/value"
		timed := func(tok string) time.Duration {
			start := time.Now()
			r := p.do("GET", path, nil, "Authorization", "Bearer "+tok)
			d := time.Since(start)
			if r.Status != 401 {
				t.Fatalf("timed request: got %d %s, want 401", r.Status, r.Body)
			}
			return d
		}
		for i := range warmup + n {
			if i%4 == 0 {
				client, _ := ips.next(t)
				p = &authzPeer{rawAPI{t: t, base: base}, client}
			}
			// Alternate which goes first, so neither always follows the other.
			var du, dw time.Duration
			if i%2 == 0 {
				du, dw = timed(authzUnknownToken()), timed(authzWrongSecret(keys[i%len(keys)]))
			} else {
				dw, du = timed(authzWrongSecret(keys[i%len(keys)])), timed(authzUnknownToken())
			}
			if i >= warmup {
				unknown, wrong = append(unknown, du), append(wrong, dw)
			}
		}
		mu, mw := authzMedian(unknown), authzMedian(wrong)
		lo, hi := min(mu, mw), max(mu, mw)
		if hi-lo >= 2*time.Millisecond && hi >= 3*lo {
			t.Errorf("median latency: unknown key %v, wrong secret %v; want within 2ms or 3x", mu, mw)
		}
		t.Logf("median latency: unknown key %v, wrong secret %v", mu, mw)
	})
}

// authzHeaders renders a reply's headers, but for those that differ on
// every reply.
func authzHeaders(h http.Header) string {
	var lines []string
	for k, v := range h {
		if k != "Date" && k != "X-Request-Id" {
			lines = append(lines, k+": "+strings.Join(v, ", "))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func authzMedian(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// TestAuthzRateLimit checks that after 10 failed attempts from one address,
// or naming one key id, within a minute the next request from that address
// or with that key id is refused with 429 and Retry-After, even with a valid
// key, while other addresses and keys go on working. It runs on its own
// server, and its requests come from addresses no other test uses.
func TestAuthzRateLimit(t *testing.T) {
	base, root := startServer(t)
	acme := authzNewTenant(t, base, root)
	admin := acme.api(t, base)
	admin.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"})
	var ips authzLoopback
	peer := func(t *testing.T, token string) *authzPeer {
		client, _ := ips.next(t)
		return &authzPeer{rawAPI{t: t, base: base, token: token}, client}
	}
	limited := func(t *testing.T, what string, r reply) {
		t.Helper()
		if r.Status != 429 || r.Code(t) != "rate_limited" {
			t.Errorf("%s: got %d %s, want 429 rate_limited", what, r.Status, r.Body)
		}
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("%s: got Retry-After %q, want a number of seconds >= 1", what, r.Header.Get("Retry-After"))
		}
	}

	// failures counts the auth.fail events from ip in the operator's log
	// (where failures naming no real key go) and in acme's.
	failures := func(t *testing.T, ip string) int {
		n := 0
		for _, tok := range []string{root, acme.Token} {
			evs, _ := authzEvents(t, base, tok)
			for _, e := range evs {
				if e.Action == "auth.fail" && e.Remote == ip {
					n++
				}
			}
		}
		return n
	}

	t.Run("PerAddress", func(t *testing.T) {
		client, ip := ips.next(t)
		p := &authzPeer{rawAPI{t: t, base: base}, client}
		for i := range 10 {
			p.token = authzUnknownToken()
			if r := p.do("GET", "/v1/stores", nil); r.Status != 401 {
				t.Fatalf("failed attempt %d: got %d %s, want 401", i+1, r.Status, r.Body)
			}
		}
		p.token = authzUnknownToken()
		limited(t, "unknown key after 10 failures from its address", p.do("GET", "/v1/stores", nil))
		p.token = authzWrongSecret(acme.Token)
		limited(t, "a wrong secret after 10 failures from its address", p.do("GET", "/v1/stores", nil))
		if n := failures(t, ip); n != 10 {
			t.Errorf("auth.fail events from the address: got %d, want 10 (refusals by the limit are not audited)", n)
		}
		// A valid key still gets through from the failing address: behind a
		// proxy, others' failures must not lock it out.
		p.token = acme.Token
		if r := p.do("GET", "/v1/stores", nil); r.Status != 200 {
			t.Fatalf("valid key from an address over its failure budget: got %d %s, want 200", r.Status, r.Body)
		}
	})

	t.Run("PerKeyID", func(t *testing.T) {
		tok, _ := authzMint(t, acme.api(t, base), map[string]any{"name": "target", "scopes": authzScopes("prod:*:list")})
		for i := range 10 {
			if r := peer(t, authzWrongSecret(tok)).do("GET", "/v1/stores", nil); r.Status != 401 {
				t.Fatalf("failed attempt %d: got %d %s, want 401", i+1, r.Status, r.Body)
			}
		}
		limited(t, "a wrong secret for the key after 10 failures naming it", peer(t, authzWrongSecret(tok)).do("GET", "/v1/stores", nil))
		// Knowing a key's id is not enough to lock the key out.
		peer(t, tok).must(200, "GET", "/v1/stores", nil)
		peer(t, acme.Token).must(200, "GET", "/v1/stores", nil)
		other, _ := authzMint(t, acme.api(t, base), map[string]any{"name": "bystander", "scopes": authzScopes("prod:*:list")})
		peer(t, other).must(200, "GET", "/v1/stores", nil)
	})
}
