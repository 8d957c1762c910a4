package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// TestIssue17SmallPoints checks the smaller points of issue 17 item 6 that
// the native API shows, on one server.
func TestIssue17SmallPoints(t *testing.T) {
	base, token := startServer(t)

	// An audit search that matches nothing lists no events: [], not null,
	// filtered (by action) or not (after the last event).
	t.Run("AuditNoMatchIsEmptyList", func(t *testing.T) {
		a := &rawAPI{t: t, base: base, token: token}
		for _, q := range []string{"action=no.such.action", "after=999999999", "order=desc&before=1"} {
			body := a.must(200, "GET", "/v1/audit?"+q, nil).Body
			var page struct {
				Events json.RawMessage `json:"events"`
			}
			if err := json.Unmarshal(body, &page); err != nil || string(page.Events) != "[]" {
				t.Errorf("GET /v1/audit?%s: got %s, want events []", q, body)
			}
		}
	})

	// POST /v1/keys takes "format" as docs/api.md says: "chutes" mints a
	// Chutes-shaped token that authenticates on the native API; any other
	// format is refused.
	t.Run("KeyFormat", func(t *testing.T) {
		a := &rawAPI{t: t, base: base, token: token}
		var out struct {
			Token string `json:"token"`
		}
		body := a.must(201, "POST", "/v1/keys", `{"name":"chutes-shaped","admin":true,"format":"chutes"}`).Body
		if err := json.Unmarshal(body, &out); err != nil || !regexp.MustCompile(`^cpk_[0-9a-f]{32}\.[0-9a-f]{32}\.[A-Za-z0-9]+$`).MatchString(out.Token) {
			t.Fatalf("format chutes: got %s (%v)", body, err)
		}
		(&rawAPI{t: t, base: base, token: out.Token}).must(200, "GET", "/v1/stores", nil)
		if err := json.Unmarshal(a.must(201, "POST", "/v1/keys", `{"name":"native","admin":true,"format":""}`).Body, &out); err != nil || !strings.HasPrefix(out.Token, "cfr_") {
			t.Errorf("format \"\": got token %q, want a native cfr_ token", out.Token)
		}
		if r := a.do("POST", "/v1/keys", `{"name":"x","admin":true,"format":"pem"}`); r.Status != 400 || r.Code(t) != "invalid" {
			t.Errorf("format pem: got %d %s, want 400 invalid", r.Status, r.Body)
		}
	})
}
