package servertest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// tenantSeq numbers the accounts NewTenant creates, so their names differ.
var tenantSeq atomic.Int64

// Tenant is an account made through the operator's native API, with the
// admin key it came with.
type Tenant struct {
	ID          string
	PrincipalID string // of the account's first principal
	KeyID       string // of its admin key
	Token       string
}

// NewTenant creates an account at base with the operator's root token.
func NewTenant(t testing.TB, base, root string) *Tenant {
	t.Helper()
	op := &Client{T: t, Base: base, Token: root}
	m := op.Must(201, "POST", "/v1/accounts", map[string]any{"name": fmt.Sprintf("acme-%d", tenantSeq.Add(1))}).JSON(t)
	acct, _ := m["account"].(map[string]any)
	p, _ := m["principal"].(map[string]any)
	k, _ := m["key"].(map[string]any)
	ten := &Tenant{ID: Str(acct["id"]), PrincipalID: Str(p["id"]), KeyID: Str(k["id"]), Token: Str(m["token"])}
	if ten.ID == "" || ten.PrincipalID == "" || ten.KeyID == "" || !strings.HasPrefix(ten.Token, "cfr_") || k["admin"] != true {
		t.Fatalf("create account: got %s, want account, principal, admin key and a cfr_ token", Must(json.Marshal(m)))
	}
	return ten
}

// Mint creates a key through a and returns its token and JSON form.
func Mint(t testing.TB, a *Client, body map[string]any) (string, map[string]any) {
	t.Helper()
	m := a.Must(201, "POST", "/v1/keys", body).JSON(t)
	k, _ := m["key"].(map[string]any)
	tok := Str(m["token"])
	if k == nil || Str(k["id"]) == "" || !strings.HasPrefix(tok, "cfr_") {
		t.Fatalf("create key: got %s, want key and token", Must(json.Marshal(m)))
	}
	return tok, k
}

// Scopes turns scopes written as STORE:SECRET:ACTION[,ACTION...] into
// their JSON form.
func Scopes(ss ...string) []map[string]any {
	out := []map[string]any{}
	for _, s := range ss {
		p := strings.SplitN(s, ":", 3)
		out = append(out, map[string]any{"store": p[0], "secret": p[1], "actions": strings.Split(p[2], ",")})
	}
	return out
}

// SecretPath is the native path of a secret, its name escaped as one
// segment.
func SecretPath(store, secret string) string {
	return "/v1/stores/" + store + "/secrets/" + url.PathEscape(secret)
}

// Str returns v if it is a string, else "".
func Str(v any) string {
	s, _ := v.(string)
	return s
}

// RandHex returns n random bytes in hex.
func RandHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Event is an audit event as the native API lists it.
type Event struct {
	AccountID   string `json:"account_id"`
	PrincipalID string `json:"principal_id"`
	KeyID       string `json:"key_id"`
	Action      string `json:"action"`
	Name        string `json:"name"`
	Outcome     string `json:"outcome"`
	Reason      string `json:"reason"`
	Remote      string `json:"remote"`
}

// Events returns the audit events the token may read at base, and the raw
// reply body.
func Events(t testing.TB, base, token string) ([]Event, string) {
	t.Helper()
	r := (&Client{T: t, Base: base, Token: token}).Must(200, "GET", "/v1/audit?limit=1000", nil)
	var page struct{ Events []Event }
	if err := json.Unmarshal(r.Body, &page); err != nil {
		t.Fatal(err)
	}
	return page.Events, string(r.Body)
}

// Find returns the first event that matches, or nil.
func Find(evs []Event, match func(e Event) bool) *Event {
	for i := range evs {
		if match(evs[i]) {
			return &evs[i]
		}
	}
	return nil
}
