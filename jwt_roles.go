package coffer

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// JWTConfig is a trust configuration of an account (issue 20): an issuer of
// JSON Web Tokens (a CI system's OIDC provider, a Kubernetes cluster's
// service-account issuer) and where its public keys come from. Its Name is
// the mount a login names (Vault's auth mount path: "jwt", "kubernetes",
// "github"); several accounts may trust the same issuer under the same name,
// and a login is accepted only when exactly one of them accepts it.
type JWTConfig struct {
	ID        string
	AccountID string
	Name      string
	// Issuer must equal the token's iss exactly.
	Issuer string
	// Keys are from exactly one of: Keys (a JWKS or PEM document kept in
	// the database), JWKSURL, or Discovery (the issuer's OIDC discovery
	// document, Issuer + "/.well-known/openid-configuration"). URL sources
	// are fetched by the server in the background, never on a login.
	Keys      string
	JWKSURL   string
	Discovery bool
	// MaxAge, when > 0, refuses tokens issued longer ago (iat), even
	// unexpired: the replay bound. Leeway is the clock skew allowed (0:
	// the verifier's default of 60s).
	MaxAge time.Duration
	Leeway time.Duration
	// SingleUse accepts each token once (by jti, or its digest), across
	// every server of the database.
	SingleUse bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// JWTRole kinds.
const (
	JWTKindJWT        = "jwt"
	JWTKindKubernetes = "kubernetes"
)

// JWTRole binds the claims of tokens a config accepts to a principal and
// scopes. Like an AppRole it is backed by KeyID, an API key of PrincipalID
// with the role's Scopes (never admin, named "jwt:<config>/<role>"), whose
// own secret nobody holds: every login token is an access token of that key,
// so changing the role's scopes or deleting the role or its config narrows
// or ends every token at once.
type JWTRole struct {
	ID          string
	AccountID   string
	ConfigID    string
	Name        string
	Kind        string // JWTKindJWT or JWTKindKubernetes
	PrincipalID string
	KeyID       string
	Scopes      []Scope
	// BoundAudiences: the token's aud must hold one of them (required for
	// kubernetes; without any, a token carrying aud is refused).
	BoundAudiences []string
	BoundSubject   string
	// BoundClaims maps a claim name to the values it may take: exact
	// strings, or globs ('*') when BoundClaimsType is "glob".
	BoundClaims     map[string][]string
	BoundClaimsType string // "string" (default) or "glob"
	// Kubernetes roles: globs of the service accounts' names and namespaces.
	BoundServiceAccountNames      []string
	BoundServiceAccountNamespaces []string
	// TokenTTL is the life of a login's token (at most MaxAccessTokenTTL);
	// the token never outlives the JWT it was exchanged for.
	TokenTTL  time.Duration
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DefaultJWTTokenTTL is the token life of a role that names none.
const DefaultJWTTokenTTL = time.Hour

// JWTConfigUpdate changes a config; nil fields are left alone. Setting one
// key source clears the others.
type JWTConfigUpdate struct {
	Issuer    *string
	Keys      *string
	JWKSURL   *string
	Discovery *bool
	MaxAge    *time.Duration
	Leeway    *time.Duration
	SingleUse *bool
}

// JWTRoleUpdate changes a role; nil fields are left alone. A change of
// scopes replaces the role's key, ending every token of the old one.
type JWTRoleUpdate struct {
	Scopes                        []Scope
	BoundAudiences                []string
	BoundSubject                  *string
	BoundClaims                   map[string][]string
	BoundClaimsType               *string
	BoundServiceAccountNames      []string
	BoundServiceAccountNamespaces []string
	TokenTTL                      *time.Duration
}

// JWTToken is the answer of a JWT login: the access token and its role.
type JWTToken struct {
	AccessToken
	Role *JWTRole
	// Subject is the JWT's sub, for the caller's metadata.
	Subject string
}

// JWTService manages trust configurations and their roles (admin keys of
// the account only: EFORBIDDEN, audited) and logs workloads in with tokens
// their issuers signed.
type JWTService interface {
	// CreateJWTConfig adds a config (EINVALID; ECONFLICT for a taken name).
	CreateJWTConfig(ctx context.Context, c *JWTConfig) (*JWTConfig, error)
	// JWTConfig returns a config of the caller's account (ENOTFOUND).
	JWTConfig(ctx context.Context, name string) (*JWTConfig, error)
	// JWTConfigs lists the configs of the caller's account by name.
	JWTConfigs(ctx context.Context) ([]*JWTConfig, error)
	// UpdateJWTConfig changes a config (ENOTFOUND, EINVALID).
	UpdateJWTConfig(ctx context.Context, name string, in *JWTConfigUpdate) (*JWTConfig, error)
	// DeleteJWTConfig removes a config and its roles and revokes their
	// keys, ending every token of them (ENOTFOUND).
	DeleteJWTConfig(ctx context.Context, name string) error
	// CreateJWTRole adds a role to a config, with its key (EINVALID;
	// ECONFLICT for a taken name; ENOTFOUND for the config or principal).
	CreateJWTRole(ctx context.Context, config string, r *JWTRole) (*JWTRole, error)
	// JWTRole returns a role of a config of the caller's account.
	JWTRole(ctx context.Context, config, name string) (*JWTRole, error)
	// JWTRoles lists the roles of a config by name.
	JWTRoles(ctx context.Context, config string) ([]*JWTRole, error)
	// UpdateJWTRole changes a role (ENOTFOUND, EINVALID).
	UpdateJWTRole(ctx context.Context, config, name string, in *JWTRoleUpdate) (*JWTRole, error)
	// DeleteJWTRole removes a role and revokes its key (ENOTFOUND).
	DeleteJWTRole(ctx context.Context, config, name string) error
	// JWTLogin exchanges a token for an access token of the key of role
	// in the config named mount whose issuer signed it. It needs no
	// caller. Every refusal is the same EUNAUTHORIZED (ERATELIMIT after too
	// many), audited with its reason; a success is audited as jwt.login.
	// The token never reaches a log or an event.
	JWTLogin(ctx context.Context, mount, role, token, remoteIP string) (*JWTToken, error)
}

// JWTStorage is the part of Storage that keeps trust configurations and
// JWT roles. Every write takes its audit event, as Storage's do.
type JWTStorage interface {
	// CreateJWTConfig adds a config (ECONFLICT when the account has one of
	// that name).
	CreateJWTConfig(ctx context.Context, c *JWTConfig, ev *AuditEvent) error
	// JWTConfig returns a config of the account by name (ENOTFOUND).
	JWTConfig(ctx context.Context, accountID, name string) (*JWTConfig, error)
	// JWTConfigs lists the configs of an account by name; with accountID
	// "" the configs of every account.
	JWTConfigs(ctx context.Context, accountID string) ([]*JWTConfig, error)
	// JWTConfigsNamed lists the configs of that name in every account.
	JWTConfigsNamed(ctx context.Context, name string) ([]*JWTConfig, error)
	// UpdateJWTConfig replaces the settings of the config c names (by
	// account and ID) (ENOTFOUND).
	UpdateJWTConfig(ctx context.Context, c *JWTConfig, ev *AuditEvent) error
	// DeleteJWTConfig removes a config and its roles and revokes the
	// roles' keys at at, in one transaction (ENOTFOUND).
	DeleteJWTConfig(ctx context.Context, accountID, id string, at time.Time, ev *AuditEvent) error
	// CreateJWTRole adds a role and its key k in one transaction
	// (ECONFLICT when the config has a role of that name; ENOTFOUND for a
	// missing config or principal).
	CreateJWTRole(ctx context.Context, r *JWTRole, k *APIKey, ev *AuditEvent) error
	// JWTRole returns a role of a config by name (ENOTFOUND).
	JWTRole(ctx context.Context, configID, name string) (*JWTRole, error)
	// JWTRoles lists the roles of a config by name.
	JWTRoles(ctx context.Context, configID string) ([]*JWTRole, error)
	// UpdateJWTRole replaces the settings of the role r names (by account
	// and ID). When k is not nil, k is added and becomes the role's key and
	// the former key is revoked at r.UpdatedAt, in one transaction
	// (ENOTFOUND).
	UpdateJWTRole(ctx context.Context, r *JWTRole, k *APIKey, ev *AuditEvent) error
	// DeleteJWTRole removes a role and revokes its key at at (ENOTFOUND).
	DeleteJWTRole(ctx context.Context, accountID, id string, at time.Time, ev *AuditEvent) error
}

// jwtConfigSettings is how storage keeps a config's key source and limits
// (one JSON column on both engines).
type jwtConfigSettings struct {
	Keys      string `json:"keys,omitempty"`
	JWKSURL   string `json:"jwks_url,omitempty"`
	Discovery bool   `json:"discovery,omitempty"`
	MaxAge    int64  `json:"max_age,omitempty"`
	Leeway    int64  `json:"leeway,omitempty"`
	SingleUse bool   `json:"single_use,omitempty"`
}

// Settings encodes the settings of c that storage keeps as one JSON value.
func (c *JWTConfig) Settings() (string, error) {
	b, err := json.Marshal(jwtConfigSettings{Keys: c.Keys, JWKSURL: c.JWKSURL, Discovery: c.Discovery,
		MaxAge: int64(c.MaxAge), Leeway: int64(c.Leeway), SingleUse: c.SingleUse})
	return string(b), err
}

// SetSettings decodes what Settings encoded into c.
func (c *JWTConfig) SetSettings(s string) error {
	var v jwtConfigSettings
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return fmt.Errorf("decode jwt config settings: %w", err)
	}
	c.Keys, c.JWKSURL, c.Discovery = v.Keys, v.JWKSURL, v.Discovery
	c.MaxAge, c.Leeway, c.SingleUse = time.Duration(v.MaxAge), time.Duration(v.Leeway), v.SingleUse
	return nil
}

// jwtRoleSettings is how storage keeps a role's kind, scopes and bindings.
type jwtRoleSettings struct {
	Kind         string              `json:"kind"`
	Scopes       []Scope             `json:"scopes"`
	Audiences    []string            `json:"bound_audiences,omitempty"`
	Subject      string              `json:"bound_subject,omitempty"`
	Claims       map[string][]string `json:"bound_claims,omitempty"`
	ClaimsType   string              `json:"bound_claims_type,omitempty"`
	SANames      []string            `json:"bound_service_account_names,omitempty"`
	SANamespaces []string            `json:"bound_service_account_namespaces,omitempty"`
	TokenTTL     int64               `json:"token_ttl"`
}

// Settings encodes the settings of r that storage keeps as one JSON value.
func (r *JWTRole) Settings() (string, error) {
	scopes := r.Scopes
	if scopes == nil {
		scopes = []Scope{}
	}
	b, err := json.Marshal(jwtRoleSettings{Kind: r.Kind, Scopes: scopes, Audiences: r.BoundAudiences,
		Subject: r.BoundSubject, Claims: r.BoundClaims, ClaimsType: r.BoundClaimsType,
		SANames: r.BoundServiceAccountNames, SANamespaces: r.BoundServiceAccountNamespaces, TokenTTL: int64(r.TokenTTL)})
	return string(b), err
}

// SetSettings decodes what Settings encoded into r.
func (r *JWTRole) SetSettings(s string) error {
	var v jwtRoleSettings
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return fmt.Errorf("decode jwt role settings: %w", err)
	}
	r.Kind, r.Scopes, r.BoundAudiences, r.BoundSubject = v.Kind, v.Scopes, v.Audiences, v.Subject
	r.BoundClaims, r.BoundClaimsType = v.Claims, v.ClaimsType
	r.BoundServiceAccountNames, r.BoundServiceAccountNamespaces = v.SANames, v.SANamespaces
	r.TokenTTL = time.Duration(v.TokenTTL)
	return nil
}
