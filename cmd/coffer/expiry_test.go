package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSecretExpiryNative drives a secret's expiry through the native API:
// set with PUT, changed and removed with PATCH, shown in listings, and an
// expired value refused (409 conflict) on every read path.
func TestSecretExpiryNative(t *testing.T) {
	base, token := startServer(t)
	a := &rawAPI{t: t, base: base, token: token}
	a.must(201, "POST", "/v1/stores", map[string]any{"name": "exp"})
	future := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)

	r := a.must(201, "PUT", "/v1/stores/exp/secrets/app%2Fa", map[string]any{"value": "s3cr3t-a", "expires_at": future})
	if got, _ := r.JSON(t)["expires_at"].(string); got != future.Format(time.RFC3339Nano) {
		t.Fatalf("PUT: got expires_at %q, want %s", got, future.Format(time.RFC3339Nano))
	}
	a.must(201, "PUT", "/v1/stores/exp/secrets/app%2Fb", map[string]any{"value": "s3cr3t-b"})
	if v, _ := value(t, a.must(200, "GET", "/v1/stores/exp/secrets/app%2Fa/value", nil)); v != "s3cr3t-a" {
		t.Fatalf("value before expiry: got %q", v)
	}
	// A new version without expires_at keeps it.
	r = a.must(200, "PUT", "/v1/stores/exp/secrets/app%2Fa", map[string]any{"value": "s3cr3t-a2"})
	if _, ok := r.JSON(t)["expires_at"]; !ok {
		t.Fatalf("PUT without expires_at dropped the expiry: %s", r.Body)
	}

	past := time.Now().Add(-time.Minute).UTC()
	r = a.must(200, "PATCH", "/v1/stores/exp/secrets/app%2Fa", map[string]any{"expires_at": past})
	if _, ok := r.JSON(t)["expires_at"]; !ok {
		t.Fatalf("PATCH: no expires_at in %s", r.Body)
	}
	for _, path := range []string{"/v1/stores/exp/secrets/app%2Fa/value", "/v1/stores/exp/secrets/app%2Fa/value?version=1"} {
		r = a.do("GET", path, nil)
		if r.Status != 409 || r.Code(t) != "conflict" || !strings.Contains(string(r.Body), "expired") || strings.Contains(string(r.Body), "s3cr3t") {
			t.Fatalf("GET %s of an expired secret: got %d %s, want 409 conflict saying expired", path, r.Status, r.Body)
		}
	}
	var batch struct {
		Values []struct {
			Name string `json:"name"`
		} `json:"values"`
		Missing []string `json:"missing"`
		Expired []string `json:"expired"`
	}
	for _, q := range []map[string]any{{"names": []string{"app/a", "app/b"}}, {"prefix": "app/"}} {
		r = a.must(200, "POST", "/v1/stores/exp/values", q)
		batch.Values, batch.Expired = nil, nil
		if err := json.Unmarshal(r.Body, &batch); err != nil {
			t.Fatal(err)
		}
		if len(batch.Values) != 1 || batch.Values[0].Name != "app/b" || !slices.Equal(batch.Expired, []string{"app/a"}) || strings.Contains(string(r.Body), "s3cr3t-a") {
			t.Fatalf("POST values %v: got %s, want app/b's value and app/a expired", q, r.Body)
		}
	}
	// The listing shows the expiry; the secret is still active.
	var list struct {
		Secrets []map[string]any `json:"secrets"`
	}
	if err := json.Unmarshal(a.must(200, "GET", "/v1/stores/exp/secrets", nil).Body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Secrets) != 2 || list.Secrets[0]["expires_at"] == nil || list.Secrets[0]["status"] != "active" || list.Secrets[1]["expires_at"] != nil {
		t.Fatalf("listing: got %v, want app/a with expires_at, app/b without", list.Secrets)
	}
	// The refusal is audited.
	var audit struct {
		Events []struct {
			Action, Outcome, Reason, Name string
		} `json:"events"`
	}
	if err := json.Unmarshal(a.must(200, "GET", "/v1/audit?limit=1000", nil).Body, &audit); err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, ev := range audit.Events {
		if ev.Action == "secret.reveal" && ev.Outcome == "conflict" && ev.Name == "app/a" {
			refused++
		}
	}
	if refused != 4 { // two single reads, two batches
		t.Fatalf("audit: got %d refused reveals of app/a, want 4", refused)
	}

	// null removes the expiry.
	r = a.must(200, "PATCH", "/v1/stores/exp/secrets/app%2Fa", map[string]any{"expires_at": nil})
	if _, ok := r.JSON(t)["expires_at"]; ok {
		t.Fatalf("PATCH null: expiry still in %s", r.Body)
	}
	if v, _ := value(t, a.must(200, "GET", "/v1/stores/exp/secrets/app%2Fa/value", nil)); v != "s3cr3t-a2" {
		t.Fatalf("value after removing the expiry: got %q", v)
	}

	for _, bad := range []string{`{"expires_at":"tomorrow"}`, `{"expires_at":12}`, `{"expires_at":"2300-01-01T00:00:00Z"}`, `{"expires_at":""}`} {
		r = a.do("PATCH", "/v1/stores/exp/secrets/app%2Fa", bad)
		if r.Status != 400 || r.Code(t) != "invalid" {
			t.Errorf("PATCH %s: got %d %s, want 400 invalid", bad, r.Status, r.Body)
		}
	}
	r = a.do("PUT", "/v1/stores/exp/secrets/app%2Fc", `{"value":"v","expires_at":"soon"}`)
	if r.Status != 400 {
		t.Errorf("PUT with a bad expires_at: got %d %s, want 400", r.Status, r.Body)
	}
	a.must(404, "GET", "/v1/stores/exp/secrets/app%2Fc", nil)
}

// TestSecretExpiryCLI checks that run and export leave expired secrets out
// and name them, and that secret list shows them as expired.
func TestSecretExpiryCLI(t *testing.T) {
	e := newCLIE2E(t)
	e.OK("", "store", "create", "prod")
	e.OK("old", "secret", "put", "prod", "OLD", "--expires", "2020-01-01T00:00:00Z")
	e.OK("new", "secret", "put", "prod", "NEW", "--expires", "720h")
	r := e.Run("", "export", "prod")
	if r.Code != 0 || r.Stdout != "NEW=new\n" || !strings.Contains(r.Stderr, "OLD has expired") {
		t.Fatalf("export: got %d %q %q, want only NEW and a note on OLD", r.Code, r.Stdout, r.Stderr)
	}
	rows := cliRows(e.OK("", "secret", "list", "prod"))
	if len(rows) != 2 || rows[1][0] != "OLD" || rows[1][2] != "expired" || rows[0][2] != "active" {
		t.Fatalf("secret list: got %v, want NEW active and OLD expired", rows)
	}
	e.Fail("conflict", "", "secret", "get", "prod", "OLD")
	e.OK("old2", "secret", "put", "prod", "OLD", "--expires", "never")
	if out := e.OK("", "secret", "get", "prod", "OLD"); out != "old2\n" {
		t.Fatalf("secret get after --expires never: got %q", out)
	}
	e.Fail("invalid", "x", "secret", "put", "prod", "BAD", "--expires", "2300-01-01T00:00:00Z")
}
