package coffer

import "time"

// AppRoleJSON is a role on the wire of the native API (durations in whole
// seconds); api serves it and client reads it.
type AppRoleJSON struct {
	RoleID             string    `json:"role_id"`
	Name               string    `json:"name"`
	PrincipalID        string    `json:"principal_id"`
	KeyID              string    `json:"key_id"`
	Scopes             []Scope   `json:"scopes"`
	TokenTTL           int64     `json:"token_ttl"`
	SecretIDTTL        int64     `json:"secret_id_ttl"`
	SecretIDNumUses    int       `json:"secret_id_num_uses"`
	SecretIDBoundCIDRs []string  `json:"secret_id_bound_cidrs"`
	TokenBoundCIDRs    []string  `json:"token_bound_cidrs"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
}

// AppRoleJSONOf is r on the wire.
func AppRoleJSONOf(r *AppRole) *AppRoleJSON {
	return &AppRoleJSON{RoleID: r.RoleID, Name: r.Name, PrincipalID: r.PrincipalID, KeyID: r.KeyID, Scopes: r.Scopes,
		TokenTTL: int64(r.TokenTTL / time.Second), SecretIDTTL: int64(r.SecretIDTTL / time.Second),
		SecretIDNumUses: r.SecretIDNumUses, SecretIDBoundCIDRs: nonNilStrings(r.SecretIDBoundCIDRs),
		TokenBoundCIDRs: nonNilStrings(r.TokenBoundCIDRs), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// AppRoleSecretJSON is a secret id on the wire, without its secret.
type AppRoleSecretJSON struct {
	Accessor  string            `json:"accessor"`
	CreatedAt time.Time         `json:"created_at"`
	ExpiresAt *time.Time        `json:"expires_at,omitempty"`
	NumUses   int               `json:"num_uses"`
	UsesLeft  int               `json:"uses_left"`
	CIDRs     []string          `json:"cidr_list"`
	Metadata  map[string]string `json:"metadata"`
}

// AppRoleSecretJSONOf is s on the wire.
func AppRoleSecretJSONOf(s *AppRoleSecret) *AppRoleSecretJSON {
	md := s.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return &AppRoleSecretJSON{Accessor: s.Accessor, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, NumUses: s.NumUses,
		UsesLeft: s.UsesLeft, CIDRs: nonNilStrings(s.BoundCIDRs), Metadata: md}
}

// AppRoleRequest is the body of a role's create (POST) or change (PATCH).
type AppRoleRequest struct {
	Name               string   `json:"name"`
	PrincipalID        string   `json:"principal_id"`
	Scopes             []Scope  `json:"scopes"`
	TokenTTL           *int64   `json:"token_ttl"`
	SecretIDTTL        *int64   `json:"secret_id_ttl"`
	SecretIDNumUses    *int     `json:"secret_id_num_uses"`
	SecretIDBoundCIDRs []string `json:"secret_id_bound_cidrs"`
	TokenBoundCIDRs    []string `json:"token_bound_cidrs"`
}

// AppRoleSecretRequest is the body of a new secret id.
type AppRoleSecretRequest struct {
	Metadata map[string]string `json:"metadata"`
	CIDRs    []string          `json:"cidr_list"`
}

// AppRoleLoginRequest is the body of POST /v1/approle/login.
type AppRoleLoginRequest struct {
	RoleID   string `json:"role_id"`
	SecretID string `json:"secret_id"`
}

// AppRoleLoginResponse is the answer of POST /v1/approle/login.
type AppRoleLoginResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	KeyID     string    `json:"key_id"`
	Role      string    `json:"role"`
	Scopes    []Scope   `json:"scopes"`
}

// AppRoleSecretCreated is the answer of a new secret id: the secret, shown
// this once, and the secret id.
type AppRoleSecretCreated struct {
	SecretID string `json:"secret_id"`
	*AppRoleSecretJSON
}

// AppRole is the role j describes.
func (j *AppRoleJSON) AppRole() *AppRole {
	return &AppRole{RoleID: j.RoleID, Name: j.Name, PrincipalID: j.PrincipalID, KeyID: j.KeyID, Scopes: j.Scopes,
		TokenTTL: time.Duration(j.TokenTTL) * time.Second, SecretIDTTL: time.Duration(j.SecretIDTTL) * time.Second,
		SecretIDNumUses: j.SecretIDNumUses, SecretIDBoundCIDRs: j.SecretIDBoundCIDRs, TokenBoundCIDRs: j.TokenBoundCIDRs,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt}
}

// AppRoleSecret is the secret id j describes.
func (j *AppRoleSecretJSON) AppRoleSecret() *AppRoleSecret {
	return &AppRoleSecret{Accessor: j.Accessor, CreatedAt: j.CreatedAt, ExpiresAt: j.ExpiresAt, NumUses: j.NumUses,
		UsesLeft: j.UsesLeft, BoundCIDRs: j.CIDRs, Metadata: j.Metadata}
}
