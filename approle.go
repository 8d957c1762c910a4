package coffer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// AppRole is a machine login of an account (issue 20): a workload presents
// the role's RoleID and one of its secret ids and gets an access token of the
// role's key. The role is backed by KeyID, an API key of PrincipalID with the
// role's Scopes (never admin), named "approle:<name>", whose own token is
// never shown: every login token is an access token of that key, so changing
// the role's scopes or deleting the role narrows or ends every token at once.
type AppRole struct {
	// RoleID is the login's identifier (UUID-shaped, 128 random bits,
	// unique on the server). It is not a secret, but is never logged whole.
	RoleID      string
	AccountID   string
	Name        string
	PrincipalID string
	KeyID       string
	Scopes      []Scope
	// TokenTTL is the life of a login's token (at most MaxAccessTokenTTL).
	TokenTTL time.Duration
	// SecretIDTTL, when > 0, is the life of a new secret id.
	SecretIDTTL time.Duration
	// SecretIDNumUses, when > 0, is how many logins a new secret id allows.
	SecretIDNumUses int
	// SecretIDBoundCIDRs and TokenBoundCIDRs, when set, are the networks a
	// login must come from (both are checked at login; coffer has no
	// per-token network rule at use).
	SecretIDBoundCIDRs []string
	TokenBoundCIDRs    []string
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// AppRoleSecret is a secret id of a role as storage keeps it: only a keyed
// hash of the secret, found again by Accessor.
type AppRoleSecret struct {
	Accessor  string
	AccountID string
	RoleID    string
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt *time.Time // nil: never
	// NumUses is how many logins it allowed when made (0: unlimited);
	// UsesLeft how many remain.
	NumUses    int
	UsesLeft   int
	BoundCIDRs []string
	Metadata   map[string]string
}

// AppRoleCreate is what CreateAppRole makes. Zero fields take the defaults:
// a new service principal "approle-<name>", a token TTL of
// DefaultAppRoleTokenTTL, secret ids that never expire and have no use limit.
type AppRoleCreate struct {
	Name               string
	PrincipalID        string
	Scopes             []Scope
	TokenTTL           time.Duration
	SecretIDTTL        time.Duration
	SecretIDNumUses    int
	SecretIDBoundCIDRs []string
	TokenBoundCIDRs    []string
}

// AppRoleUpdate changes a role; nil fields are left alone.
type AppRoleUpdate struct {
	Scopes             []Scope
	TokenTTL           *time.Duration
	SecretIDTTL        *time.Duration
	SecretIDNumUses    *int
	SecretIDBoundCIDRs []string
	TokenBoundCIDRs    []string
}

// AppRoleSecretCreate is what CreateAppRoleSecret makes: Metadata is kept
// with the secret id; CIDRs, when set, narrow the role's SecretIDBoundCIDRs.
type AppRoleSecretCreate struct {
	Metadata map[string]string
	CIDRs    []string
}

// DefaultAppRoleTokenTTL is the token life of a role that names none.
const DefaultAppRoleTokenTTL = time.Hour

// MaxAppRoleNameLen bounds a role name.
const MaxAppRoleNameLen = 64

// ValidateAppRoleName checks a role name: 1 to 64 ASCII letters, digits,
// '_', '-' or '.', not "." or "..".
func ValidateAppRoleName(name string) error {
	if name == "" || len(name) > MaxAppRoleNameLen || name == "." || name == ".." {
		return Errorf(EINVALID, "role name must be 1-%d characters", MaxAppRoleNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return Errorf(EINVALID, "role name may hold only letters, digits, '_', '-' and '.'")
		}
	}
	return nil
}

// ValidateCIDRs checks a list of networks (CIDR or single addresses).
func ValidateCIDRs(field string, cidrs []string) error {
	if len(cidrs) > 100 {
		return Errorf(EINVALID, "%s: at most 100 networks", field)
	}
	for _, c := range cidrs {
		if _, err := ParseNetwork(c); err != nil {
			return Errorf(EINVALID, "%s: %q is not a CIDR network or address", field, c)
		}
	}
	return nil
}

// ParseNetwork parses a CIDR network, or an address as the network of it
// alone.
func ParseNetwork(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// InNetworks reports whether ip is in one of cidrs; an empty list allows
// every address, a malformed address none.
func InNetworks(ip string, cidrs []string) bool {
	if len(cidrs) == 0 {
		return true
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, c := range cidrs {
		if p, err := ParseNetwork(c); err == nil && p.Contains(a) {
			return true
		}
	}
	return false
}

// AppRoleService manages AppRole roles and their secret ids (admin keys of
// the account only: EFORBIDDEN, audited) and logs workloads in with them.
type AppRoleService interface {
	// CreateAppRole makes a role and its key (EINVALID; ECONFLICT when the
	// account has a role of that name; ENOTFOUND for an unknown principal).
	CreateAppRole(ctx context.Context, in *AppRoleCreate) (*AppRole, error)
	// AppRole returns a role of the caller's account by name (ENOTFOUND).
	AppRole(ctx context.Context, name string) (*AppRole, error)
	// AppRoles lists the roles of the caller's account by name.
	AppRoles(ctx context.Context) ([]*AppRole, error)
	// UpdateAppRole changes a role (ENOTFOUND, EINVALID). A change of scopes
	// replaces the role's key: every token of the old one ends at once.
	UpdateAppRole(ctx context.Context, name string, in *AppRoleUpdate) (*AppRole, error)
	// DeleteAppRole removes a role and its secret ids and revokes its key,
	// ending every token of it (ENOTFOUND).
	DeleteAppRole(ctx context.Context, name string) error
	// CreateAppRoleSecret makes a secret id of a role and returns it with
	// the secret, shown this once (ENOTFOUND, EINVALID).
	CreateAppRoleSecret(ctx context.Context, name string, in *AppRoleSecretCreate) (*AppRoleSecret, string, error)
	// AppRoleSecrets lists the secret ids of a role, without secrets.
	AppRoleSecrets(ctx context.Context, name string) ([]*AppRoleSecret, error)
	// DestroyAppRoleSecret removes a secret id by accessor (ENOTFOUND).
	DestroyAppRoleSecret(ctx context.Context, name, accessor string) error
	// AppRoleLogin exchanges a role id and a secret id for an access token
	// of the role's key. It needs no caller. Every refusal answers the same
	// EUNAUTHORIZED "invalid role_id or secret_id" (ERATELIMIT after too
	// many), audited with its reason; a success is audited as
	// approle.login. Neither secret ever reaches a log or an event.
	AppRoleLogin(ctx context.Context, roleID, secretID, remoteIP string) (*AppRoleToken, error)
}

// AppRoleToken is the answer of a login: the access token and its role.
type AppRoleToken struct {
	AccessToken
	Role *AppRole
}

// AppRoleStorage is the part of Storage that keeps AppRole roles and secret
// ids. Every write takes its audit event, as Storage's do.
type AppRoleStorage interface {
	// CreateAppRole adds a role and its key k in one transaction
	// (ECONFLICT when the account has a role of that name; ENOTFOUND for a
	// missing account or principal).
	CreateAppRole(ctx context.Context, r *AppRole, k *APIKey, ev *AuditEvent) error
	// AppRole returns a role of the account by name (ENOTFOUND).
	AppRole(ctx context.Context, accountID, name string) (*AppRole, error)
	// AppRoleByID returns a role by role id, in any account (ENOTFOUND).
	AppRoleByID(ctx context.Context, roleID string) (*AppRole, error)
	// AppRoles lists the roles of an account ordered by name.
	AppRoles(ctx context.Context, accountID string) ([]*AppRole, error)
	// UpdateAppRole replaces the settings of the role r names (by account
	// and RoleID): its scopes, TTLs, limits and UpdatedAt. When k is not
	// nil, k is added and becomes the role's key, and the role's former key
	// is revoked at r.UpdatedAt, in the same transaction (ENOTFOUND).
	UpdateAppRole(ctx context.Context, r *AppRole, k *APIKey, ev *AuditEvent) error
	// DeleteAppRole removes a role of the account and its secret ids and
	// revokes its key at at, in one transaction (ENOTFOUND).
	DeleteAppRole(ctx context.Context, accountID, roleID string, at time.Time, ev *AuditEvent) error
	// CreateAppRoleSecret adds a secret id to its role (ENOTFOUND for a
	// role not of the account; ECONFLICT when the accessor or hash exists).
	CreateAppRoleSecret(ctx context.Context, sec *AppRoleSecret, ev *AuditEvent) error
	// AppRoleSecret returns the secret id of a role with that hash
	// (ENOTFOUND).
	AppRoleSecret(ctx context.Context, roleID string, hash []byte) (*AppRoleSecret, error)
	// AppRoleSecrets lists the secret ids of a role of the account, oldest
	// first.
	AppRoleSecrets(ctx context.Context, accountID, roleID string) ([]*AppRoleSecret, error)
	// DeleteAppRoleSecret removes a secret id of a role of the account by
	// accessor (ENOTFOUND).
	DeleteAppRoleSecret(ctx context.Context, accountID, roleID, accessor string, ev *AuditEvent) error
	// UseAppRoleSecret spends one use of a secret id, recording ev, in one
	// transaction: ENOTFOUND when it is gone, ECONFLICT when it has no use
	// left (a limited one is removed with its last use). Concurrent uses of
	// the last use succeed exactly once.
	UseAppRoleSecret(ctx context.Context, roleID, accessor string, ev *AuditEvent) error
}

// EncodeLists returns the JSON texts storage keeps a role's lists in: its
// scopes and its two CIDR lists, each a JSON array (never null).
func (r *AppRole) EncodeLists() (scopes, secretCIDRs, tokenCIDRs string, err error) {
	var b [3][]byte
	for i, v := range []any{nonNilSlice(r.Scopes), nonNilSlice(r.SecretIDBoundCIDRs), nonNilSlice(r.TokenBoundCIDRs)} {
		if b[i], err = json.Marshal(v); err != nil {
			return "", "", "", fmt.Errorf("encode approle: %w", err)
		}
	}
	return string(b[0]), string(b[1]), string(b[2]), nil
}

// DecodeLists sets a role's lists from the texts EncodeLists made.
func (r *AppRole) DecodeLists(scopes, secretCIDRs, tokenCIDRs string) error {
	if err := json.Unmarshal([]byte(scopes), &r.Scopes); err != nil {
		return fmt.Errorf("decode scopes of approle: %w", err)
	}
	if err := json.Unmarshal([]byte(secretCIDRs), &r.SecretIDBoundCIDRs); err != nil {
		return fmt.Errorf("decode cidrs of approle: %w", err)
	}
	if err := json.Unmarshal([]byte(tokenCIDRs), &r.TokenBoundCIDRs); err != nil {
		return fmt.Errorf("decode cidrs of approle: %w", err)
	}
	return nil
}

// EncodeLists returns the JSON texts storage keeps a secret id's CIDR list
// and metadata in.
func (s *AppRoleSecret) EncodeLists() (cidrs, metadata string, err error) {
	md := s.Metadata
	if md == nil {
		md = map[string]string{}
	}
	c, err := json.Marshal(nonNilSlice(s.BoundCIDRs))
	if err != nil {
		return "", "", fmt.Errorf("encode secret id: %w", err)
	}
	m, err := json.Marshal(md)
	if err != nil {
		return "", "", fmt.Errorf("encode secret id: %w", err)
	}
	return string(c), string(m), nil
}

// DecodeLists sets a secret id's CIDR list and metadata from the texts
// EncodeLists made.
func (s *AppRoleSecret) DecodeLists(cidrs, metadata string) error {
	if err := json.Unmarshal([]byte(cidrs), &s.BoundCIDRs); err != nil {
		return fmt.Errorf("decode secret id: %w", err)
	}
	if err := json.Unmarshal([]byte(metadata), &s.Metadata); err != nil {
		return fmt.Errorf("decode secret id: %w", err)
	}
	return nil
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
