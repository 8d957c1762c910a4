package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
)

var _ coffer.AppRoleService = (*Service)(nil)

// AppRole secret ids are "csi_" + 64 hex digits (256 random bits), shown
// once; storage keeps only appRoleSecretHash. Role ids and accessors are
// UUID-shaped 128 random bits: identifiers, not secrets.
//
// A role's key is bound to its role without a MAC of the role record: the
// key's hash (which the key's own record MAC covers) is derived from the
// role id under the server pepper (appRoleKeyHash), so a role row pointed at
// another key in the database, or a role id changed there, fails the login;
// and a secret id's hash names its role id, so it logs into that role only.
const secretIDPrefix = "csi_"

// roleKeyPrefix starts the name of every role key, and of no other key
// (validateKeyCreate refuses it).
const roleKeyPrefix = "approle:"

// roleCaller reports whether c authenticated with a role key (an AppRole
// or JWT login's token). Such a caller mints no key: a key it made would outlive
// the role's deletion and changes.
func (s *Service) roleCaller(ctx context.Context, c *coffer.Caller) bool {
	if c.KeyID == "" || c.Admin {
		return false
	}
	k, err := s.apiKey(ctx, c.KeyID)
	return err == nil && isRoleKeyName(k.Name)
}

// jwtRoleKeyPrefix starts the name of every JWT role's key (jwt.go).
const jwtRoleKeyPrefix = "jwt:"

// isRoleKeyName reports whether name is that of a role's key: an AppRole's
// or a JWT role's, which no other key may take.
func isRoleKeyName(name string) bool {
	return strings.HasPrefix(name, roleKeyPrefix) || strings.HasPrefix(name, jwtRoleKeyPrefix)
}

var errAppRoleLogin = coffer.Errorf(coffer.EUNAUTHORIZED, "invalid role_id or secret_id")

// newUUID returns 128 random bits shaped as a UUID (version 4).
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// appRoleKeyHash is the hash of the role key keyID of role roleID: what
// the key's token secret would hash to if it were the role id's keyed
// digest. Nobody holds that token; the hash ties the key to the role.
func (s *Service) appRoleKeyHash(keyID, roleID string) []byte {
	m := hmac.New(sha256.New, s.pepper)
	m.Write([]byte("coffer/approle-key/v1\x00"))
	m.Write([]byte(roleID))
	return s.hashSecret(keyID, m.Sum(nil))
}

// appRoleSecretHash is the stored form of secret id secret of role roleID.
func (s *Service) appRoleSecretHash(roleID string, secret []byte) []byte {
	m := hmac.New(sha256.New, s.pepper)
	m.Write([]byte("coffer/approle-secret-id/v1\x00"))
	m.Write([]byte(roleID))
	m.Write([]byte{0})
	m.Write(secret)
	return m.Sum(nil)
}

// parseSecretID returns the 32 random bytes of a secret id.
func parseSecretID(secretID string) ([]byte, bool) {
	h, ok := strings.CutPrefix(secretID, secretIDPrefix)
	if !ok || len(h) != 64 || !isLowerHex(h) {
		return nil, false
	}
	b, err := hex.DecodeString(h)
	return b, err == nil
}

// validateAppRole checks the settings a role is created or updated with.
func validateAppRole(r *coffer.AppRole) error {
	if err := coffer.ValidateAppRoleName(r.Name); err != nil {
		return err
	}
	if len(r.Scopes) > 100 {
		return coffer.Errorf(coffer.EINVALID, "at most 100 scopes")
	}
	for i := range r.Scopes {
		if err := r.Scopes[i].Validate(); err != nil {
			return err
		}
	}
	switch {
	case r.TokenTTL < time.Second || r.TokenTTL > coffer.MaxAccessTokenTTL:
		return coffer.Errorf(coffer.EINVALID, "token_ttl must be between 1s and %s", coffer.MaxAccessTokenTTL)
	case r.SecretIDTTL < 0:
		return coffer.Errorf(coffer.EINVALID, "secret_id_ttl may not be negative")
	case r.SecretIDNumUses < 0 || r.SecretIDNumUses > 1<<30:
		return coffer.Errorf(coffer.EINVALID, "secret_id_num_uses must be between 0 (unlimited) and 2^30")
	}
	if err := coffer.ValidateCIDRs("secret_id_bound_cidrs", r.SecretIDBoundCIDRs); err != nil {
		return err
	}
	return coffer.ValidateCIDRs("token_bound_cidrs", r.TokenBoundCIDRs)
}

// adminEvent starts the audit event of a role's management and refuses
// callers that are not admin.
func (s *Service) adminEvent(ctx context.Context, action, name string) (*coffer.Caller, *coffer.AuditEvent, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	ev := s.event(c, action)
	ev.Name = name
	if err := s.requireAdmin(ctx, c, ev); err != nil {
		return nil, nil, err
	}
	return c, ev, nil
}

// roleKey makes the key that backs role r: of the role's principal, with
// its scopes, never admin, expiring no later than the caller.
func (s *Service) roleKey(ctx context.Context, c *coffer.Caller, ev *coffer.AuditEvent, r *coffer.AppRole) (*coffer.APIKey, error) {
	expires, err := s.boundExpiry(ctx, c, ev, nil)
	if err != nil {
		return nil, err
	}
	id, _, _ := s.newToken()
	k := &coffer.APIKey{ID: id, AccountID: r.AccountID, PrincipalID: r.PrincipalID, Name: roleKeyPrefix + r.Name,
		Scopes: r.Scopes, Hash: s.appRoleKeyHash(id, r.RoleID), CreatedAt: s.now().UTC(), ExpiresAt: expires}
	if k.Scopes == nil {
		k.Scopes = []coffer.Scope{}
	}
	s.bind(ctx, k)
	return k, nil
}

// CreateAppRole implements coffer.AppRoleService.
func (s *Service) CreateAppRole(ctx context.Context, in *coffer.AppRoleCreate) (*coffer.AppRole, error) {
	c, ev, err := s.adminEvent(ctx, "approle.create", in.Name)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	r := &coffer.AppRole{RoleID: newUUID(), AccountID: c.AccountID, Name: in.Name, PrincipalID: in.PrincipalID,
		Scopes: in.Scopes, TokenTTL: in.TokenTTL, SecretIDTTL: in.SecretIDTTL, SecretIDNumUses: in.SecretIDNumUses,
		SecretIDBoundCIDRs: in.SecretIDBoundCIDRs, TokenBoundCIDRs: in.TokenBoundCIDRs, CreatedAt: now, UpdatedAt: now}
	if r.TokenTTL == 0 {
		r.TokenTTL = coffer.DefaultAppRoleTokenTTL
	}
	if r.Scopes == nil {
		r.Scopes = []coffer.Scope{}
	}
	if err := validateAppRole(r); err != nil {
		return nil, err
	}
	if r.PrincipalID != "" {
		if _, err := s.storage.Principal(ctx, c.AccountID, r.PrincipalID); err != nil {
			return nil, err
		}
	} else if r.PrincipalID, err = s.rolePrincipal(ctx, c, "approle-"+r.Name); err != nil {
		return nil, err
	}
	k, err := s.roleKey(ctx, c, ev, r)
	if err != nil {
		return nil, err
	}
	ev.Reason = "admin; role key " + k.ID
	if err := s.storage.CreateAppRole(ctx, r, k, ev); err != nil {
		return nil, err
	}
	return r, nil
}

// rolePrincipal returns the id of the account's service principal named
// name, made now unless a role of that name made it before (a role deleted
// and made again acts as the same principal).
func (s *Service) rolePrincipal(ctx context.Context, c *coffer.Caller, name string) (string, error) {
	p, err := s.CreatePrincipal(ctx, &coffer.PrincipalCreate{Name: name, Kind: "service"})
	if err == nil {
		return p.ID, nil
	} else if coffer.ErrorCode(err) != coffer.ECONFLICT {
		return "", err
	}
	all, lerr := s.storage.Principals(ctx, c.AccountID)
	if lerr != nil {
		return "", lerr
	}
	for _, p := range all {
		if p.Name == name && p.Kind == "service" {
			return p.ID, nil
		}
	}
	return "", err
}

// AppRole implements coffer.AppRoleService.
func (s *Service) AppRole(ctx context.Context, name string) (*coffer.AppRole, error) {
	c, err := requireAdminRead(ctx)
	if err != nil {
		return nil, err
	}
	return s.storage.AppRole(ctx, c.AccountID, name)
}

// AppRoles implements coffer.AppRoleService.
func (s *Service) AppRoles(ctx context.Context) ([]*coffer.AppRole, error) {
	c, err := requireAdminRead(ctx)
	if err != nil {
		return nil, err
	}
	return s.storage.AppRoles(ctx, c.AccountID)
}

// UpdateAppRole implements coffer.AppRoleService. A change of scopes makes
// a new role key and revokes the old one in the same transaction: keys are
// not narrowed in place (SetPowers), so every token of the role ends and
// logins after it get the new scopes.
func (s *Service) UpdateAppRole(ctx context.Context, name string, in *coffer.AppRoleUpdate) (*coffer.AppRole, error) {
	c, ev, err := s.adminEvent(ctx, "approle.update", name)
	if err != nil {
		return nil, err
	}
	r, err := s.storage.AppRole(ctx, c.AccountID, name)
	if err != nil {
		return nil, err
	}
	old := r.KeyID
	if in.TokenTTL != nil {
		r.TokenTTL = *in.TokenTTL
	}
	if in.SecretIDTTL != nil {
		r.SecretIDTTL = *in.SecretIDTTL
	}
	if in.SecretIDNumUses != nil {
		r.SecretIDNumUses = *in.SecretIDNumUses
	}
	if in.SecretIDBoundCIDRs != nil {
		r.SecretIDBoundCIDRs = in.SecretIDBoundCIDRs
	}
	if in.TokenBoundCIDRs != nil {
		r.TokenBoundCIDRs = in.TokenBoundCIDRs
	}
	var k *coffer.APIKey
	if in.Scopes != nil && !sameScopes(in.Scopes, r.Scopes) {
		r.Scopes = in.Scopes
		if err := validateAppRole(r); err != nil {
			return nil, err
		}
		if k, err = s.roleKey(ctx, c, ev, r); err != nil {
			return nil, err
		}
		ev.Reason = "admin; scopes changed: role key " + old + " replaced by " + k.ID
	} else if err := validateAppRole(r); err != nil {
		return nil, err
	}
	r.UpdatedAt = s.now().UTC()
	if err := s.storage.UpdateAppRole(ctx, r, k, ev); err != nil {
		return nil, err
	}
	if k != nil {
		s.forgetKey(old)
		if err := s.bindRevoked(ctx, old); err != nil { // records.go
			return nil, fmt.Errorf("bind revoked key: %w", err)
		}
	}
	return r, nil
}

func sameScopes(a, b []coffer.Scope) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].String() != b[i].String() {
			return false
		}
	}
	return true
}

// DeleteAppRole implements coffer.AppRoleService.
func (s *Service) DeleteAppRole(ctx context.Context, name string) error {
	c, ev, err := s.adminEvent(ctx, "approle.delete", name)
	if err != nil {
		return err
	}
	r, err := s.storage.AppRole(ctx, c.AccountID, name)
	if err != nil {
		return err
	}
	ev.Reason = "admin; role key " + r.KeyID + " revoked"
	if err := s.storage.DeleteAppRole(ctx, c.AccountID, r.RoleID, s.now().UTC(), ev); err != nil {
		return err
	}
	s.forgetKey(r.KeyID)
	if err := s.bindRevoked(ctx, r.KeyID); err != nil { // records.go
		return fmt.Errorf("bind revoked key: %w", err)
	}
	return nil
}

// CreateAppRoleSecret implements coffer.AppRoleService.
func (s *Service) CreateAppRoleSecret(ctx context.Context, name string, in *coffer.AppRoleSecretCreate) (*coffer.AppRoleSecret, string, error) {
	c, ev, err := s.adminEvent(ctx, "approle.secret-id.create", name)
	if err != nil {
		return nil, "", err
	}
	if err := coffer.ValidateCIDRs("cidr_list", in.CIDRs); err != nil {
		return nil, "", err
	}
	if len(in.Metadata) > coffer.MaxLabels {
		return nil, "", coffer.Errorf(coffer.EINVALID, "at most %d metadata entries", coffer.MaxLabels)
	}
	for k, v := range in.Metadata {
		if k == "" || len(k) > 128 || len(v) > 512 {
			return nil, "", coffer.Errorf(coffer.EINVALID, "metadata keys are 1-128 characters, values at most 512")
		}
	}
	r, err := s.storage.AppRole(ctx, c.AccountID, name)
	if err != nil {
		return nil, "", err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	now := s.now().UTC()
	sec := &coffer.AppRoleSecret{Accessor: newUUID(), AccountID: c.AccountID, RoleID: r.RoleID,
		Hash: s.appRoleSecretHash(r.RoleID, b[:]), CreatedAt: now, NumUses: r.SecretIDNumUses,
		UsesLeft: r.SecretIDNumUses, BoundCIDRs: in.CIDRs, Metadata: in.Metadata}
	if r.SecretIDTTL > 0 {
		exp := now.Add(r.SecretIDTTL)
		sec.ExpiresAt = &exp
	}
	ev.Reason = "admin; accessor " + sec.Accessor
	if err := s.storage.CreateAppRoleSecret(ctx, sec, ev); err != nil {
		return nil, "", err
	}
	return sec, secretIDPrefix + hex.EncodeToString(b[:]), nil
}

// AppRoleSecrets implements coffer.AppRoleService.
func (s *Service) AppRoleSecrets(ctx context.Context, name string) ([]*coffer.AppRoleSecret, error) {
	r, err := s.AppRole(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.storage.AppRoleSecrets(ctx, r.AccountID, r.RoleID)
}

// DestroyAppRoleSecret implements coffer.AppRoleService.
func (s *Service) DestroyAppRoleSecret(ctx context.Context, name, accessor string) error {
	c, ev, err := s.adminEvent(ctx, "approle.secret-id.destroy", name)
	if err != nil {
		return err
	}
	r, err := s.storage.AppRole(ctx, c.AccountID, name)
	if err != nil {
		return err
	}
	ev.Reason = "admin; accessor " + accessor
	return s.storage.DeleteAppRoleSecret(ctx, c.AccountID, r.RoleID, accessor, ev)
}

// AppRoleLogin implements coffer.AppRoleService. Failures count against
// the client's address and the role id in the limiter of failed
// authentications, and are audited within the account's budget, as failed
// API keys are; a valid login is never refused by the limiter.
func (s *Service) AppRoleLogin(ctx context.Context, roleID, secretID, remoteIP string) (*coffer.AppRoleToken, error) {
	now := s.now()
	limit := "approle:" + roleID
	if len(roleID) > 64 {
		limit = "approle:" + roleID[:64]
	}
	wait := s.limiter.wait(now, remoteIP, limit)
	ev := &coffer.AuditEvent{Time: now.UTC(), AccountID: s.operator, Action: "approle.login", Remote: remoteIP}
	if c := coffer.CallerFrom(ctx); c != nil {
		ev.RequestID, ev.Face = c.RequestID, c.Face
	}
	fail := func(reason string) error {
		if wait > 0 {
			return rateLimited(wait)
		}
		s.limiter.fail(now, remoteIP, limit)
		ev.Outcome, ev.Reason = coffer.EUNAUTHORIZED, reason
		if err := s.auditFailure(ctx, ev); err != nil {
			return err
		}
		return errAppRoleLogin
	}
	secret, ok := parseSecretID(secretID)
	if !ok {
		secret = make([]byte, 32) // the same work as a well-formed one
	}
	var r *coffer.AppRole
	if len(roleID) == 36 {
		var err error
		if r, err = s.storage.AppRoleByID(ctx, roleID); err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND {
			return nil, err
		}
	}
	hash := s.appRoleSecretHash(roleID, secret)
	if r == nil {
		return nil, fail("unknown role_id")
	}
	ev.AccountID, ev.PrincipalID, ev.KeyID, ev.Name = r.AccountID, r.PrincipalID, r.KeyID, r.Name
	if !ok {
		return nil, fail("malformed secret_id")
	}
	sec, err := s.storage.AppRoleSecret(ctx, r.RoleID, hash)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return nil, fail("unknown secret_id")
	} else if err != nil {
		return nil, err
	}
	ev.Reason = "accessor " + sec.Accessor
	switch {
	case !hmac.Equal(sec.Hash, hash):
		return nil, fail("unknown secret_id")
	case sec.ExpiresAt != nil && !now.Before(*sec.ExpiresAt):
		return nil, fail("expired secret_id (accessor " + sec.Accessor + ")")
	case !coffer.InNetworks(remoteIP, sec.BoundCIDRs) || !coffer.InNetworks(remoteIP, r.SecretIDBoundCIDRs):
		return nil, fail("login from outside the secret_id's networks (accessor " + sec.Accessor + ")")
	case !coffer.InNetworks(remoteIP, r.TokenBoundCIDRs):
		return nil, fail("login from outside the role's token networks")
	}
	k, err := s.apiKey(ctx, r.KeyID)
	if err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND {
		return nil, err
	}
	switch {
	case k == nil || k.AccountID != r.AccountID || k.Admin || !hmac.Equal(k.Hash, s.appRoleKeyHash(k.ID, r.RoleID)):
		return nil, fail("the role's key is missing or not the role's: changed outside coffer")
	case k.RevokedAt != nil || !k.Usable(now):
		return nil, fail("the role's key is revoked or expired")
	}
	exp := now.Add(r.TokenTTL)
	if k.ExpiresAt != nil && k.ExpiresAt.Before(exp) {
		exp = *k.ExpiresAt
	}
	exp = time.UnixMilli(exp.UnixMilli()).UTC()
	if !exp.After(now) {
		return nil, fail("the role's key expires within a millisecond")
	}
	ev.Reason = "accessor " + sec.Accessor + "; access token until " + exp.Format(time.RFC3339)
	if err := s.storage.UseAppRoleSecret(ctx, r.RoleID, sec.Accessor, ev); err != nil {
		if code := coffer.ErrorCode(err); code == coffer.ENOTFOUND || code == coffer.ECONFLICT {
			// The refused use is audited by storage with its outcome.
			if wait > 0 {
				return nil, rateLimited(wait)
			}
			s.limiter.fail(now, remoteIP, limit)
			return nil, errAppRoleLogin
		}
		return nil, err
	}
	c := s.keyCaller(now, k)
	c.ExpiresAt = &exp
	if pre := coffer.CallerFrom(ctx); pre != nil {
		c.RemoteAddr, c.RequestID, c.Face = pre.RemoteAddr, pre.RequestID, pre.Face
	}
	return &coffer.AppRoleToken{AccessToken: coffer.AccessToken{Token: s.signAccess(ctx, k.ID, exp), ExpiresAt: exp, Caller: c}, Role: r}, nil
}
