package main

import (
	"encoding/json"
	"testing"
)

// TestVirtualAccountDowngrade checks that applying a virtual account's
// manifest again with a lower role leaves no key or token with the old
// powers, even after the account minted keys of its own (a narrower one,
// newest, that matches the new role exactly; a PAT; a ByteNite access
// token): the answer carries a new token, and every older credential is
// refused on every face right after the re-apply.
func TestVirtualAccountDowngrade(t *testing.T) {
	kb := startKeyBounds(t)
	kb.root.must(201, "POST", "/v1/stores", map[string]any{"name": "app"})
	kb.root.must(201, "PUT", "/v1/stores/app/secrets/K", map[string]any{"value": "v1"})
	tf := kb.face("/truefoundry/api/svc/v1", kb.root.token)
	apply := func(role string) (id string, token *string, roles []string) {
		t.Helper()
		var out struct {
			Data struct {
				ID       string `json:"id"`
				Manifest struct {
					Permissions []struct {
						RoleID string `json:"role_id"`
					} `json:"permissions"`
				} `json:"manifest"`
			} `json:"data"`
			Token *string `json:"token"`
		}
		m := map[string]any{"name": "bot", "type": "virtual-account", "permissions": []map[string]string{
			{"resource_fqn": "default:app", "resource_type": "secret-group", "role_id": role}}}
		if err := json.Unmarshal(tf.must(200, "PUT", "/virtual-accounts", map[string]any{"manifest": m}).Body, &out); err != nil {
			t.Fatal(err)
		}
		for _, p := range out.Data.Manifest.Permissions {
			roles = append(roles, p.RoleID)
		}
		return out.Data.ID, out.Token, roles
	}
	write := func(token string) int {
		t.Helper()
		return kb.as(token).do("PUT", "/v1/stores/app/secrets/K", map[string]any{"value": "changed"}).Status
	}

	_, tok, _ := apply("secret-group-editor")
	if tok == nil {
		t.Fatal("a new virtual account: no token")
	}
	editor := *tok
	if got := write(editor); got != 201 && got != 200 {
		t.Fatalf("editor token writes: got %d, want 2xx", got)
	}
	// The account's own token mints for itself: a PAT (editor powers),
	// an access token, and last (so newest) a key with exactly the
	// viewer role's powers.
	var pat struct{ Token string }
	if err := json.Unmarshal(kb.face("/truefoundry/api/svc/v1", editor).must(200, "POST", "/personal-access-tokens", map[string]any{"name": "bot-pat"}).Body, &pat); err != nil {
		t.Fatal(err)
	}
	var at struct{ Token string }
	if err := json.Unmarshal(kb.face("/bytenite/v1/auth", "").must(200, "POST", "/access_token", map[string]any{"apiKey": editor}).Body, &at); err != nil {
		t.Fatal(err)
	}
	var self struct{ Token string }
	if err := json.Unmarshal(kb.as(editor).must(201, "POST", "/v1/keys", map[string]any{"name": "self-view",
		"scopes": []map[string]any{{"store": "app", "actions": []string{"list", "read"}}}}).Body, &self); err != nil {
		t.Fatal(err)
	}

	olds := []struct{ name, token, face, prefix, path string }{
		{"editor token", editor, "cloudflare", "/cloudflare/client/v4/accounts/" + kb.keys()[0].AccountID + "/secrets_store", "/stores"},
		{"PAT", pat.Token, "truefoundry", "/truefoundry/api/svc/v1", "/secret-groups"},
		{"access token", at.Token, "bytenite", "/bytenite/v1/auth", "/secrets"},
		{"self-minted key", self.Token, "native", "", "/v1/stores/app/secrets/K"},
	}
	for _, old := range olds {
		if r := kb.face(old.prefix, old.token).do("GET", old.path, nil); r.Status != 200 {
			t.Fatalf("%s on %s before the downgrade: got %d %s, want 200", old.name, old.face, r.Status, r.Body)
		}
	}

	id, tok, roles := apply("secret-group-viewer")
	if len(roles) != 1 || roles[0] != "secret-group-viewer" {
		t.Errorf("downgrade answer: roles %v, want [secret-group-viewer]", roles)
	}
	viewer := ""
	if tok == nil {
		t.Error("downgrade with wider keys alive: answered without a token, as if unchanged")
	} else {
		viewer = *tok
	}
	// Each old credential writes natively and reads on one other face (at
	// most 9 refusals from one address, under the failed-attempt limit).
	for _, old := range olds {
		if got := write(old.token); got != 401 {
			t.Errorf("%s writes after the downgrade: got %d, want 401", old.name, got)
		}
		if r := kb.face(old.prefix, old.token).do("GET", old.path, nil); r.Status != 401 {
			t.Errorf("%s on %s after the downgrade: got %d %s, want 401", old.name, old.face, r.Status, r.Body)
		}
	}
	if viewer == "" {
		return
	}
	if got := write(viewer); got != 403 {
		t.Errorf("viewer token writes: got %d, want 403", got)
	}
	kb.as(viewer).must(200, "GET", "/v1/stores/app/secrets/K", nil)

	// The account shows the viewer role, and applying it again changes
	// nothing: no new token.
	var got struct {
		Data struct {
			Manifest struct {
				Permissions []struct {
					RoleID string `json:"role_id"`
				} `json:"permissions"`
			} `json:"manifest"`
		} `json:"data"`
	}
	if err := json.Unmarshal(tf.must(200, "GET", "/virtual-accounts/"+id, nil).Body, &got); err != nil {
		t.Fatal(err)
	}
	if p := got.Data.Manifest.Permissions; len(p) != 1 || p[0].RoleID != "secret-group-viewer" {
		t.Errorf("GET after the downgrade: permissions %+v, want the viewer role", p)
	}
	if _, tok, _ := apply("secret-group-viewer"); tok != nil {
		t.Error("the same manifest again: answered a new token, want none (unchanged)")
	}
	kb.as(viewer).must(200, "GET", "/v1/stores/app/secrets/K", nil)
}
