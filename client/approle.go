package client

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/coffer-dev/coffer"
)

var _ coffer.AppRoleService = (*Client)(nil)

// secs is a duration as the wire's whole seconds, nil for zero.
func secs(d time.Duration) *int64 {
	if d == 0 {
		return nil
	}
	n := int64(d / time.Second)
	return &n
}

func roleOf(resp *struct {
	Role *coffer.AppRoleJSON `json:"role"`
}, what string) (*coffer.AppRole, error) {
	if resp.Role == nil {
		return nil, fmt.Errorf("%s: response lacks the role", what)
	}
	return resp.Role.AppRole(), nil
}

// CreateAppRole makes an AppRole role (admin keys only).
func (c *Client) CreateAppRole(ctx context.Context, in *coffer.AppRoleCreate) (*coffer.AppRole, error) {
	body := &coffer.AppRoleRequest{Name: in.Name, PrincipalID: in.PrincipalID, Scopes: in.Scopes,
		TokenTTL: secs(in.TokenTTL), SecretIDTTL: secs(in.SecretIDTTL), SecretIDBoundCIDRs: in.SecretIDBoundCIDRs,
		TokenBoundCIDRs: in.TokenBoundCIDRs}
	if in.SecretIDNumUses != 0 {
		body.SecretIDNumUses = &in.SecretIDNumUses
	}
	var resp struct {
		Role *coffer.AppRoleJSON `json:"role"`
	}
	if err := c.do(ctx, http.MethodPost, []string{"approle", "roles"}, nil, nil, body, &resp); err != nil {
		return nil, err
	}
	return roleOf(&resp, "POST /v1/approle/roles")
}

// AppRole returns a role by name.
func (c *Client) AppRole(ctx context.Context, name string) (*coffer.AppRole, error) {
	var resp struct {
		Role *coffer.AppRoleJSON `json:"role"`
	}
	if err := c.do(ctx, http.MethodGet, []string{"approle", "roles", name}, nil, nil, nil, &resp); err != nil {
		return nil, err
	}
	return roleOf(&resp, "GET /v1/approle/roles/{name}")
}

// AppRoles lists the account's roles.
func (c *Client) AppRoles(ctx context.Context) ([]*coffer.AppRole, error) {
	var resp struct {
		Roles []*coffer.AppRoleJSON `json:"roles"`
	}
	if err := c.do(ctx, http.MethodGet, []string{"approle", "roles"}, nil, nil, nil, &resp); err != nil {
		return nil, err
	}
	out := make([]*coffer.AppRole, len(resp.Roles))
	for i, r := range resp.Roles {
		out[i] = r.AppRole()
	}
	return out, nil
}

// UpdateAppRole changes a role.
func (c *Client) UpdateAppRole(ctx context.Context, name string, in *coffer.AppRoleUpdate) (*coffer.AppRole, error) {
	body := &coffer.AppRoleRequest{Scopes: in.Scopes, SecretIDNumUses: in.SecretIDNumUses,
		SecretIDBoundCIDRs: in.SecretIDBoundCIDRs, TokenBoundCIDRs: in.TokenBoundCIDRs}
	if in.TokenTTL != nil {
		n := int64(*in.TokenTTL / time.Second)
		body.TokenTTL = &n
	}
	if in.SecretIDTTL != nil {
		n := int64(*in.SecretIDTTL / time.Second)
		body.SecretIDTTL = &n
	}
	var resp struct {
		Role *coffer.AppRoleJSON `json:"role"`
	}
	if err := c.do(ctx, http.MethodPatch, []string{"approle", "roles", name}, nil, nil, body, &resp); err != nil {
		return nil, err
	}
	return roleOf(&resp, "PATCH /v1/approle/roles/{name}")
}

// DeleteAppRole removes a role, its secret ids and every token of it.
func (c *Client) DeleteAppRole(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, []string{"approle", "roles", name}, nil, nil, nil, nil)
}

// CreateAppRoleSecret makes a secret id and returns it with the secret,
// which the server shows only this once.
func (c *Client) CreateAppRoleSecret(ctx context.Context, name string, in *coffer.AppRoleSecretCreate) (*coffer.AppRoleSecret, string, error) {
	var resp coffer.AppRoleSecretCreated
	body := &coffer.AppRoleSecretRequest{Metadata: in.Metadata, CIDRs: in.CIDRs}
	if err := c.do(ctx, http.MethodPost, []string{"approle", "roles", name, "secret-ids"}, nil, nil, body, &resp); err != nil {
		return nil, "", err
	} else if resp.SecretID == "" || resp.AppRoleSecretJSON == nil {
		return nil, "", fmt.Errorf("POST /v1/approle/roles/{name}/secret-ids: response lacks the secret id")
	}
	return resp.AppRoleSecret(), resp.SecretID, nil
}

// AppRoleSecrets lists a role's secret ids, without secrets.
func (c *Client) AppRoleSecrets(ctx context.Context, name string) ([]*coffer.AppRoleSecret, error) {
	var resp struct {
		SecretIDs []*coffer.AppRoleSecretJSON `json:"secret_ids"`
	}
	if err := c.do(ctx, http.MethodGet, []string{"approle", "roles", name, "secret-ids"}, nil, nil, nil, &resp); err != nil {
		return nil, err
	}
	out := make([]*coffer.AppRoleSecret, len(resp.SecretIDs))
	for i, s := range resp.SecretIDs {
		out[i] = s.AppRoleSecret()
	}
	return out, nil
}

// DestroyAppRoleSecret removes a secret id by accessor.
func (c *Client) DestroyAppRoleSecret(ctx context.Context, name, accessor string) error {
	return c.do(ctx, http.MethodDelete, []string{"approle", "roles", name, "secret-ids", accessor}, nil, nil, nil, nil)
}

// AppRoleLogin exchanges a role id and secret id for an access token; it
// needs no key. remoteIP is ignored: the server sees the connection's.
func (c *Client) AppRoleLogin(ctx context.Context, roleID, secretID, _ string) (*coffer.AppRoleToken, error) {
	var resp coffer.AppRoleLoginResponse
	body := &coffer.AppRoleLoginRequest{RoleID: roleID, SecretID: secretID}
	if err := c.do(ctx, http.MethodPost, []string{"approle", "login"}, nil, nil, body, &resp); err != nil {
		return nil, err
	} else if resp.Token == "" {
		return nil, fmt.Errorf("POST /v1/approle/login: response lacks the token")
	}
	exp := resp.ExpiresAt
	return &coffer.AppRoleToken{
		AccessToken: coffer.AccessToken{Token: resp.Token, ExpiresAt: exp,
			Caller: &coffer.Caller{KeyID: resp.KeyID, Scopes: resp.Scopes, ExpiresAt: &exp}},
		Role: &coffer.AppRole{Name: resp.Role},
	}, nil
}
