package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Logins: the "login" scenarios exchange a workload's identity for a
// token, as a fleet of machines starting up does. Each login is audited,
// so it costs a durable write.

// benchLoginScopes is what the bench roles grant: the value of read-me.
const benchLoginScopes = `[{"store":"bench","secret":"read-me","actions":["reveal"]}]`

// setupAppRole makes the AppRole role bench-login with one secret id of
// unlimited uses, keeps the login's body, and checks that a login's token
// reads read-me.
func (b *bench) setupAppRole(ctx context.Context) error {
	c := b.coffer
	role := []byte(`{"name":"bench-login","scopes":` + benchLoginScopes + `,"token_ttl":300}`)
	if _, err := b.call(ctx, c, "POST", "/v1/approle/roles", role, http.StatusCreated); err != nil {
		return err
	}
	var id struct {
		RoleID   string `json:"role_id"`
		SecretID string `json:"secret_id"`
	}
	body, err := b.call(ctx, c, "GET", "/v1/approle/roles/bench-login/role-id", nil, http.StatusOK)
	if err == nil {
		err = json.Unmarshal(body, &id)
	}
	if err != nil {
		return fmt.Errorf("setup: role id: %w", err)
	}
	if body, err = b.call(ctx, c, "POST", "/v1/approle/roles/bench-login/secret-ids", []byte(`{}`), http.StatusCreated); err == nil {
		err = json.Unmarshal(body, &struct {
			SecretID *string `json:"secret_id"`
		}{&id.SecretID})
	}
	if err != nil || id.RoleID == "" || id.SecretID == "" {
		return fmt.Errorf("setup: secret id: %v", err)
	}
	b.approleBody, _ = json.Marshal(map[string]string{"role_id": id.RoleID, "secret_id": id.SecretID})
	return b.checkLogin(ctx, b.appRoleLogin())
}

// appRoleLogin is one AppRole login request, without a key.
func (b *bench) appRoleLogin() *http.Request {
	req := b.coffer.request("POST", "/v1/approle/login", b.approleBody)
	req.Header = http.Header{"Content-Type": {"application/json"}}
	return req
}

// checkLogin sends a login and checks that its token reads read-me's value.
func (b *bench) checkLogin(ctx context.Context, login *http.Request) error {
	body, err := b.send(login.WithContext(ctx), http.StatusOK)
	if err != nil {
		return err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token == "" {
		return fmt.Errorf("login reply without a token: %v", err)
	}
	read := b.coffer.request("GET", "/v1/stores/bench/secrets/read-me/value", nil)
	read.Header = http.Header{"Authorization": {"Bearer " + tok.Token}}
	if body, err = b.send(read.WithContext(ctx), http.StatusOK); err != nil {
		return fmt.Errorf("a login's token: %w", err)
	}
	return benchCheckValue(body)
}

// benchCheckLogin checks a login's reply: a token.
func benchCheckLogin(_ *http.Response, body []byte) error {
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token == "" {
		return fmt.Errorf("login reply without a token")
	}
	return nil
}
