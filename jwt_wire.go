package coffer

import "time"

// JWTConfigJSON is a trust configuration on the wire of the native API
// (durations in whole seconds); api serves it and client reads it.
type JWTConfigJSON struct {
	Name      string    `json:"name"`
	Issuer    string    `json:"issuer"`
	Keys      string    `json:"keys,omitempty"`
	JWKSURL   string    `json:"jwks_url,omitempty"`
	Discovery bool      `json:"discovery"`
	MaxAge    int64     `json:"max_age"`
	Leeway    int64     `json:"leeway"`
	SingleUse bool      `json:"single_use"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// JWTConfigJSONOf is c on the wire.
func JWTConfigJSONOf(c *JWTConfig) *JWTConfigJSON {
	return &JWTConfigJSON{Name: c.Name, Issuer: c.Issuer, Keys: c.Keys, JWKSURL: c.JWKSURL, Discovery: c.Discovery,
		MaxAge: int64(c.MaxAge / time.Second), Leeway: int64(c.Leeway / time.Second), SingleUse: c.SingleUse,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

// JWTConfig is the config j describes.
func (j *JWTConfigJSON) JWTConfig() *JWTConfig {
	return &JWTConfig{Name: j.Name, Issuer: j.Issuer, Keys: j.Keys, JWKSURL: j.JWKSURL, Discovery: j.Discovery,
		MaxAge: time.Duration(j.MaxAge) * time.Second, Leeway: time.Duration(j.Leeway) * time.Second,
		SingleUse: j.SingleUse, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt}
}

// JWTConfigRequest is the body of a config's create (POST) or change
// (PATCH: absent fields are left alone; name cannot change).
type JWTConfigRequest struct {
	Name      string  `json:"name"`
	Issuer    *string `json:"issuer"`
	Keys      *string `json:"keys"`
	JWKSURL   *string `json:"jwks_url"`
	Discovery *bool   `json:"discovery"`
	MaxAge    *int64  `json:"max_age"`
	Leeway    *int64  `json:"leeway"`
	SingleUse *bool   `json:"single_use"`
}

// JWTRoleJSON is a JWT role on the wire.
type JWTRoleJSON struct {
	Name                          string              `json:"name"`
	Kind                          string              `json:"kind"`
	PrincipalID                   string              `json:"principal_id"`
	KeyID                         string              `json:"key_id"`
	Scopes                        []Scope             `json:"scopes"`
	BoundAudiences                []string            `json:"bound_audiences"`
	BoundSubject                  string              `json:"bound_subject,omitempty"`
	BoundClaims                   map[string][]string `json:"bound_claims,omitempty"`
	BoundClaimsType               string              `json:"bound_claims_type"`
	BoundServiceAccountNames      []string            `json:"bound_service_account_names,omitempty"`
	BoundServiceAccountNamespaces []string            `json:"bound_service_account_namespaces,omitempty"`
	TokenTTL                      int64               `json:"token_ttl"`
	CreatedAt                     time.Time           `json:"created_at"`
	UpdatedAt                     time.Time           `json:"updated_at"`
}

// JWTRoleJSONOf is r on the wire.
func JWTRoleJSONOf(r *JWTRole) *JWTRoleJSON {
	aud := r.BoundAudiences
	if aud == nil {
		aud = []string{}
	}
	return &JWTRoleJSON{Name: r.Name, Kind: r.Kind, PrincipalID: r.PrincipalID, KeyID: r.KeyID, Scopes: r.Scopes,
		BoundAudiences: aud, BoundSubject: r.BoundSubject, BoundClaims: r.BoundClaims, BoundClaimsType: r.BoundClaimsType,
		BoundServiceAccountNames: r.BoundServiceAccountNames, BoundServiceAccountNamespaces: r.BoundServiceAccountNamespaces,
		TokenTTL: int64(r.TokenTTL / time.Second), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// JWTRole is the role j describes.
func (j *JWTRoleJSON) JWTRole() *JWTRole {
	return &JWTRole{Name: j.Name, Kind: j.Kind, PrincipalID: j.PrincipalID, KeyID: j.KeyID, Scopes: j.Scopes,
		BoundAudiences: j.BoundAudiences, BoundSubject: j.BoundSubject, BoundClaims: j.BoundClaims,
		BoundClaimsType: j.BoundClaimsType, BoundServiceAccountNames: j.BoundServiceAccountNames,
		BoundServiceAccountNamespaces: j.BoundServiceAccountNamespaces, TokenTTL: time.Duration(j.TokenTTL) * time.Second,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt}
}

// JWTRoleRequest is the body of a role's create (POST) or change (PATCH:
// absent fields are left alone; name, kind and principal cannot change).
type JWTRoleRequest struct {
	Name                          string              `json:"name"`
	Kind                          string              `json:"kind"`
	PrincipalID                   string              `json:"principal_id"`
	Scopes                        []Scope             `json:"scopes"`
	BoundAudiences                []string            `json:"bound_audiences"`
	BoundSubject                  *string             `json:"bound_subject"`
	BoundClaims                   map[string][]string `json:"bound_claims"`
	BoundClaimsType               *string             `json:"bound_claims_type"`
	BoundServiceAccountNames      []string            `json:"bound_service_account_names"`
	BoundServiceAccountNamespaces []string            `json:"bound_service_account_namespaces"`
	TokenTTL                      *int64              `json:"token_ttl"`
}

// JWTLoginRequest is the body of POST /v1/jwt/login.
type JWTLoginRequest struct {
	Config string `json:"config"`
	Role   string `json:"role"`
	JWT    string `json:"jwt"`
}

// JWTLoginResponse is the answer of POST /v1/jwt/login.
type JWTLoginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	KeyID     string    `json:"key_id"`
	Role      string    `json:"role"`
	Scopes    []Scope   `json:"scopes"`
}
