package client

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coffer-dev/coffer"
)

var _ coffer.JWTService = (*Client)(nil)

// jwtSecs is a duration as the wire's whole seconds, nil for nil.
func jwtSecs(d *time.Duration) *int64 {
	if d == nil {
		return nil
	}
	n := int64(*d / time.Second)
	return &n
}

type jwtConfigResp struct {
	Config *coffer.JWTConfigJSON `json:"config"`
}

func (r *jwtConfigResp) config() (*coffer.JWTConfig, error) {
	if r.Config == nil {
		return nil, errors.New("response lacks the config")
	}
	return r.Config.JWTConfig(), nil
}

type jwtRoleResp struct {
	Role *coffer.JWTRoleJSON `json:"role"`
}

func (r *jwtRoleResp) role() (*coffer.JWTRole, error) {
	if r.Role == nil {
		return nil, errors.New("response lacks the role")
	}
	return r.Role.JWTRole(), nil
}

// CreateJWTConfig makes a trust configuration (admin keys only).
func (c *Client) CreateJWTConfig(ctx context.Context, in *coffer.JWTConfig) (*coffer.JWTConfig, error) {
	body := &coffer.JWTConfigRequest{Name: in.Name, Issuer: &in.Issuer, Discovery: &in.Discovery, SingleUse: &in.SingleUse,
		MaxAge: jwtSecs(&in.MaxAge), Leeway: jwtSecs(&in.Leeway)}
	if in.Keys != "" {
		body.Keys = &in.Keys
	}
	if in.JWKSURL != "" {
		body.JWKSURL = &in.JWKSURL
	}
	var resp jwtConfigResp
	if err := c.do(ctx, http.MethodPost, []string{"jwt", "configs"}, nil, nil, body, &resp); err != nil {
		return nil, err
	}
	return resp.config()
}

// JWTConfig returns a config by name.
func (c *Client) JWTConfig(ctx context.Context, name string) (*coffer.JWTConfig, error) {
	var resp jwtConfigResp
	if err := c.do(ctx, http.MethodGet, []string{"jwt", "configs", name}, nil, nil, nil, &resp); err != nil {
		return nil, err
	}
	return resp.config()
}

// JWTConfigs lists the account's configs.
func (c *Client) JWTConfigs(ctx context.Context) ([]*coffer.JWTConfig, error) {
	var resp struct {
		Configs []*coffer.JWTConfigJSON `json:"configs"`
	}
	if err := c.do(ctx, http.MethodGet, []string{"jwt", "configs"}, nil, nil, nil, &resp); err != nil {
		return nil, err
	}
	out := make([]*coffer.JWTConfig, len(resp.Configs))
	for i, j := range resp.Configs {
		out[i] = j.JWTConfig()
	}
	return out, nil
}

// UpdateJWTConfig changes a config.
func (c *Client) UpdateJWTConfig(ctx context.Context, name string, in *coffer.JWTConfigUpdate) (*coffer.JWTConfig, error) {
	body := &coffer.JWTConfigRequest{Issuer: in.Issuer, Keys: in.Keys, JWKSURL: in.JWKSURL, Discovery: in.Discovery,
		SingleUse: in.SingleUse, MaxAge: jwtSecs(in.MaxAge), Leeway: jwtSecs(in.Leeway)}
	var resp jwtConfigResp
	if err := c.do(ctx, http.MethodPatch, []string{"jwt", "configs", name}, nil, nil, body, &resp); err != nil {
		return nil, err
	}
	return resp.config()
}

// DeleteJWTConfig removes a config and its roles.
func (c *Client) DeleteJWTConfig(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, []string{"jwt", "configs", name}, nil, nil, nil, nil)
}

// CreateJWTRole makes a role of a config.
func (c *Client) CreateJWTRole(ctx context.Context, config string, in *coffer.JWTRole) (*coffer.JWTRole, error) {
	body := &coffer.JWTRoleRequest{Name: in.Name, Kind: in.Kind, PrincipalID: in.PrincipalID, Scopes: in.Scopes,
		BoundAudiences: in.BoundAudiences, BoundClaims: in.BoundClaims, BoundServiceAccountNames: in.BoundServiceAccountNames,
		BoundServiceAccountNamespaces: in.BoundServiceAccountNamespaces}
	if in.BoundSubject != "" {
		body.BoundSubject = &in.BoundSubject
	}
	if in.BoundClaimsType != "" {
		body.BoundClaimsType = &in.BoundClaimsType
	}
	if in.TokenTTL != 0 {
		body.TokenTTL = jwtSecs(&in.TokenTTL)
	}
	var resp jwtRoleResp
	if err := c.do(ctx, http.MethodPost, []string{"jwt", "configs", config, "roles"}, nil, nil, body, &resp); err != nil {
		return nil, err
	}
	return resp.role()
}

// JWTRole returns a role of a config.
func (c *Client) JWTRole(ctx context.Context, config, name string) (*coffer.JWTRole, error) {
	var resp jwtRoleResp
	if err := c.do(ctx, http.MethodGet, []string{"jwt", "configs", config, "roles", name}, nil, nil, nil, &resp); err != nil {
		return nil, err
	}
	return resp.role()
}

// JWTRoles lists the roles of a config.
func (c *Client) JWTRoles(ctx context.Context, config string) ([]*coffer.JWTRole, error) {
	var resp struct {
		Roles []*coffer.JWTRoleJSON `json:"roles"`
	}
	if err := c.do(ctx, http.MethodGet, []string{"jwt", "configs", config, "roles"}, nil, nil, nil, &resp); err != nil {
		return nil, err
	}
	out := make([]*coffer.JWTRole, len(resp.Roles))
	for i, j := range resp.Roles {
		out[i] = j.JWTRole()
	}
	return out, nil
}

// UpdateJWTRole changes a role.
func (c *Client) UpdateJWTRole(ctx context.Context, config, name string, in *coffer.JWTRoleUpdate) (*coffer.JWTRole, error) {
	body := &coffer.JWTRoleRequest{Scopes: in.Scopes, BoundAudiences: in.BoundAudiences, BoundSubject: in.BoundSubject,
		BoundClaims: in.BoundClaims, BoundClaimsType: in.BoundClaimsType, BoundServiceAccountNames: in.BoundServiceAccountNames,
		BoundServiceAccountNamespaces: in.BoundServiceAccountNamespaces, TokenTTL: jwtSecs(in.TokenTTL)}
	var resp jwtRoleResp
	if err := c.do(ctx, http.MethodPatch, []string{"jwt", "configs", config, "roles", name}, nil, nil, body, &resp); err != nil {
		return nil, err
	}
	return resp.role()
}

// DeleteJWTRole removes a role.
func (c *Client) DeleteJWTRole(ctx context.Context, config, name string) error {
	return c.do(ctx, http.MethodDelete, []string{"jwt", "configs", config, "roles", name}, nil, nil, nil, nil)
}

// JWTLogin exchanges token for an access token of role in the config
// mount. It needs no API key; remoteIP is ignored (the server sees the
// connection's). The answer's Role holds only the role's name.
func (c *Client) JWTLogin(ctx context.Context, mount, role, token, remoteIP string) (*coffer.JWTToken, error) {
	var resp coffer.JWTLoginResponse
	if err := c.do(ctx, http.MethodPost, []string{"jwt", "login"}, nil, nil,
		&coffer.JWTLoginRequest{Config: mount, Role: role, JWT: token}, &resp); err != nil {
		return nil, err
	}
	return &coffer.JWTToken{AccessToken: coffer.AccessToken{Token: resp.Token, ExpiresAt: resp.ExpiresAt,
		Caller: &coffer.Caller{KeyID: resp.KeyID, Scopes: resp.Scopes}}, Role: &coffer.JWTRole{Name: resp.Role}}, nil
}
