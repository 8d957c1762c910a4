package main

import (
	"cmp"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer/internal/servertest"
)

// authzAudited is a server on which an account's key (of principal ci, with
// scope prod:db/*:reveal) has been allowed and refused, its admin has read a
// value, and some authentications have failed, each from its own address.
type authzAudited struct {
	base, root string
	acme       *authzTenant
	ciID       string
	keyID      string
	token      string // of the ci key
	failures   []authzFailure
}

// authzFailure is one failed authentication.
type authzFailure struct {
	name  string
	token string
	keyID string // the key id the token names, if any
	ip    string // the address it came from
}

func authzAuditSetup(t *testing.T) *authzAudited {
	t.Helper()
	w := &authzAudited{}
	w.base, w.root = startServer(t)
	w.acme = authzNewTenant(t, w.base, w.root)
	admin := w.acme.api(t, w.base)
	admin.must(201, "POST", "/v1/stores", map[string]any{"name": "prod"})
	admin.must(201, "PUT", authzSecretPath("prod", "db/pw"), map[string]any{"value": "v"})
	admin.must(201, "PUT", authzSecretPath("prod", "api/key"), map[string]any{"value": "v"})
	w.ciID = authzStr(admin.must(201, "POST", "/v1/principals", map[string]any{"name": "ci", "kind": "service"}).JSON(t)["id"])
	tok, k := authzMint(t, admin, map[string]any{"name": "ci-db", "principal_id": w.ciID, "scopes": authzScopes("prod:db/*:reveal")})
	w.token, w.keyID = tok, authzStr(k["id"])

	ci := &rawAPI{t: t, base: w.base, token: tok}
	ci.must(200, "GET", authzSecretPath("prod", "db/pw")+"/value", nil)
	ci.must(403, "GET", authzSecretPath("prod", "api/key")+"/value", nil)
	ci.must(403, "POST", "/v1/keys", map[string]any{"name": "escalate", "admin": true})
	admin.must(200, "GET", authzSecretPath("prod", "db/pw")+"/value", nil)

	var ips authzLoopback
	unknown := authzUnknownToken()
	w.failures = []authzFailure{
		{name: "WrongSecret", token: authzWrongSecret(tok), keyID: w.keyID},
		{name: "UnknownKey", token: unknown, keyID: unknown[4:20]},
		{name: "Malformed", token: "not-a-token"},
	}
	for i := range w.failures {
		client, ip := ips.next(t)
		w.failures[i].ip = ip
		(&authzPeer{rawAPI{t: t, base: w.base, token: w.failures[i].token}, client}).must(401, "GET", "/v1/stores", nil)
	}
	return w
}

// authzEvent is the part of an audit event the tests look at.
type authzEvent = servertest.Event

// authzEvents returns the audit events the token may read, and the raw
// reply body.
func authzEvents(t *testing.T, base, token string) ([]authzEvent, string) {
	t.Helper()
	return servertest.Events(t, base, token)
}

// authzFind returns the first event that matches, or nil.
func authzFind(evs []authzEvent, match func(e authzEvent) bool) *authzEvent {
	return servertest.Find(evs, match)
}

// TestAuthzAuditDecisions checks that the audit log records who was allowed
// or refused what, and why, and never a token's secret.
func TestAuthzAuditDecisions(t *testing.T) {
	w := authzAuditSetup(t)

	t.Run("Decisions", func(t *testing.T) {
		evs, _ := authzEvents(t, w.base, w.acme.Token)
		for _, tt := range []struct {
			what                  string
			action, name, outcome string
			principal, key        string
			reason                string // "" for any non-empty reason
		}{
			{"scoped reveal", "secret.reveal", "db/pw", "ok", w.ciID, w.keyID, "prod:db/*:reveal"},
			{"scoped reveal refused", "secret.reveal", "api/key", "forbidden", w.ciID, w.keyID, ""},
			{"escalating mint refused", "key.create", "escalate", "forbidden", w.ciID, w.keyID, ""},
			{"admin reveal", "secret.reveal", "db/pw", "ok", w.acme.PrincipalID, w.acme.KeyID, "admin"},
		} {
			e := authzFind(evs, func(e authzEvent) bool {
				return e.Action == tt.action && e.Name == tt.name && e.KeyID == tt.key && e.Outcome == tt.outcome
			})
			if e == nil {
				t.Errorf("%s: no %s %s event of key %s with outcome %s in %+v", tt.what, tt.action, tt.name, tt.key, tt.outcome, evs)
				continue
			}
			if e.PrincipalID != tt.principal || e.AccountID != w.acme.ID {
				t.Errorf("%s: got principal %q account %q, want %q %q", tt.what, e.PrincipalID, e.AccountID, tt.principal, w.acme.ID)
			}
			if tt.reason != "" && e.Reason != tt.reason || e.Reason == "" {
				t.Errorf("%s: got reason %q, want %q", tt.what, e.Reason, cmp.Or(tt.reason, "why it was refused"))
			}
		}
	})

	t.Run("NoTokenSecrets", func(t *testing.T) {
		secrets := []string{w.token[21:]}
		for _, f := range w.failures {
			if strings.HasPrefix(f.token, "cfr_") {
				secrets = append(secrets, f.token[21:])
			}
		}
		for _, token := range []string{w.root, w.acme.Token} {
			_, body := authzEvents(t, w.base, token)
			for _, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("an audit log holds a token secret")
				}
			}
		}
	})

	t.Run("Verify", func(t *testing.T) {
		for _, token := range []string{w.root, w.acme.Token} {
			if m := (&rawAPI{t: t, base: w.base, token: token}).must(200, "GET", "/v1/audit/verify", nil).JSON(t); m["ok"] != true {
				t.Errorf("verify: got %v", m)
			}
		}
	})
}
