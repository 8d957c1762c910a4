package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/jwt"
)

var _ coffer.JWTService = (*Service)(nil)

// errJWTLogin is the one answer of every refused JWT login.
var errJWTLogin = coffer.Errorf(coffer.EUNAUTHORIZED, "error validating token")

// jwtID returns 128 random bits in hex: the id of a config or a role.
func jwtID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// jwtRoleKeyHash ties the key keyID to the JWT role roleID, as an AppRole's
// key is tied to its role: nobody holds a token that hashes to it.
func (s *Service) jwtRoleKeyHash(keyID, roleID string) []byte {
	m := hmac.New(sha256.New, s.pepper)
	m.Write([]byte("coffer/jwt-role-key/v1\x00"))
	m.Write([]byte(roleID))
	return s.hashSecret(keyID, m.Sum(nil))
}

// validateJWTName checks a config or role name: 1 to 64 ASCII letters,
// digits, '_', '-' or '.', not "." or "..". Config names are Vault auth
// mounts, so "token" and "approle" are taken.
func validateJWTName(kind, name string) error {
	if name == "" || len(name) > 64 || name == "." || name == ".." {
		return coffer.Errorf(coffer.EINVALID, "%s name must be 1-64 characters", kind)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return coffer.Errorf(coffer.EINVALID, "%s name may hold only letters, digits, '_', '-' and '.'", kind)
		}
	}
	if kind == "config" && (name == "token" || name == "approle") {
		return coffer.Errorf(coffer.EINVALID, "config name %q is reserved", name)
	}
	return nil
}

// httpsURL checks a URL the server would fetch: absolute https, no
// credentials.
func httpsURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(raw) > 2048 {
		return coffer.Errorf(coffer.EINVALID, "%s must be an https URL without credentials", field)
	}
	return nil
}

// validateJWTConfig checks a config as it would be stored.
func (s *Service) validateJWTConfig(c *coffer.JWTConfig) error {
	if err := validateJWTName("config", c.Name); err != nil {
		return err
	}
	if c.Issuer == "" || len(c.Issuer) > 1024 {
		return coffer.Errorf(coffer.EINVALID, "issuer is required (at most 1024 characters)")
	}
	n := 0
	for _, set := range []bool{c.Keys != "", c.JWKSURL != "", c.Discovery} {
		if set {
			n++
		}
	}
	if n != 1 {
		return coffer.Errorf(coffer.EINVALID, "a config needs exactly one of keys (JWKS or PEM), jwks_url and discovery")
	}
	switch {
	case c.Keys != "":
		if len(c.Keys) > 256<<10 {
			return coffer.Errorf(coffer.EINVALID, "keys: at most 256 KiB")
		}
		if _, err := jwt.ParseKeys([]byte(c.Keys)); err != nil {
			return coffer.Errorf(coffer.EINVALID, "keys are not a JWKS or PEM public-key document")
		}
	case s.jwt.opts.NoFetch:
		return coffer.Errorf(coffer.EINVALID, "this server does not fetch keys from URLs: give the keys themselves")
	case c.JWKSURL != "":
		if err := httpsURL("jwks_url", c.JWKSURL); err != nil {
			return err
		}
	default:
		if err := httpsURL("issuer (for discovery)", c.Issuer); err != nil {
			return err
		}
	}
	switch {
	case c.MaxAge < 0 || c.MaxAge > coffer.MaxAccessTokenTTL:
		return coffer.Errorf(coffer.EINVALID, "max_age must be between 0 and %s", coffer.MaxAccessTokenTTL)
	case c.Leeway < 0 || c.Leeway > 5*time.Minute:
		return coffer.Errorf(coffer.EINVALID, "leeway must be between 0 and 5m")
	}
	return nil
}

// validateJWTRole checks a role as it would be stored.
func validateJWTRole(r *coffer.JWTRole) error {
	if err := validateJWTName("role", r.Name); err != nil {
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
	if r.TokenTTL < time.Second || r.TokenTTL > coffer.MaxAccessTokenTTL {
		return coffer.Errorf(coffer.EINVALID, "token_ttl must be between 1s and %s", coffer.MaxAccessTokenTTL)
	}
	if r.BoundClaimsType != "string" && r.BoundClaimsType != "glob" {
		return coffer.Errorf(coffer.EINVALID, "bound_claims_type must be string or glob")
	}
	lists := [][]string{r.BoundAudiences, r.BoundServiceAccountNames, r.BoundServiceAccountNamespaces}
	if len(r.BoundClaims) > 50 {
		return coffer.Errorf(coffer.EINVALID, "at most 50 bound claims")
	}
	for name, vs := range r.BoundClaims {
		if name == "" || len(name) > 256 || len(vs) == 0 {
			return coffer.Errorf(coffer.EINVALID, "a bound claim needs a name (at most 256 characters) and values")
		}
		lists = append(lists, vs)
	}
	for _, l := range lists {
		if len(l) > 100 {
			return coffer.Errorf(coffer.EINVALID, "at most 100 values a binding")
		}
		for _, v := range l {
			if v == "" || len(v) > 1024 {
				return coffer.Errorf(coffer.EINVALID, "binding values are 1-1024 characters")
			}
		}
	}
	if len(r.BoundSubject) > 1024 {
		return coffer.Errorf(coffer.EINVALID, "bound_subject: at most 1024 characters")
	}
	switch r.Kind {
	case coffer.JWTKindJWT:
		if len(r.BoundServiceAccountNames)+len(r.BoundServiceAccountNamespaces) > 0 {
			return coffer.Errorf(coffer.EINVALID, "service-account bindings are for kubernetes roles")
		}
		if len(r.BoundAudiences) == 0 && r.BoundSubject == "" && len(r.BoundClaims) == 0 {
			return coffer.Errorf(coffer.EINVALID, "a jwt role must bind bound_audiences, bound_subject or bound_claims: "+
				"a role bound to nothing would admit every token of its issuer")
		}
	case coffer.JWTKindKubernetes:
		names, spaces := r.BoundServiceAccountNames, r.BoundServiceAccountNamespaces
		switch {
		case len(r.BoundAudiences) == 0:
			return coffer.Errorf(coffer.EINVALID, "a kubernetes role needs bound_audiences")
		case len(names) == 0 || len(spaces) == 0:
			return coffer.Errorf(coffer.EINVALID, "a kubernetes role needs bound_service_account_names and bound_service_account_namespaces")
		case wildcard(names) && wildcard(spaces):
			return coffer.Errorf(coffer.EINVALID, `"*" may stand alone in only one of bound_service_account_names and bound_service_account_namespaces`)
		}
	default:
		return coffer.Errorf(coffer.EINVALID, "kind must be jwt or kubernetes")
	}
	return nil
}

// wildcard reports whether l admits any name.
func wildcard(l []string) bool {
	for _, v := range l {
		if v == "*" {
			return true
		}
	}
	return false
}

// requireAdminRead refuses a caller that is not an admin key.
func requireAdminRead(ctx context.Context) (*coffer.Caller, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Admin {
		return nil, coffer.Errorf(coffer.EFORBIDDEN, "this action needs an admin API key")
	}
	return c, nil
}

// CreateJWTConfig implements coffer.JWTService.
func (s *Service) CreateJWTConfig(ctx context.Context, in *coffer.JWTConfig) (*coffer.JWTConfig, error) {
	c, ev, err := s.adminEvent(ctx, "jwt.config.create", in.Name)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	cfg := *in
	cfg.ID, cfg.AccountID, cfg.CreatedAt, cfg.UpdatedAt = jwtID(), c.AccountID, now, now
	if err := s.validateJWTConfig(&cfg); err != nil {
		return nil, err
	}
	ev.Reason = "admin; issuer " + cfg.Issuer
	if err := s.storage.CreateJWTConfig(ctx, &cfg, ev); err != nil {
		return nil, err
	}
	s.jwtKeys(&cfg)
	return &cfg, nil
}

// JWTConfig implements coffer.JWTService.
func (s *Service) JWTConfig(ctx context.Context, name string) (*coffer.JWTConfig, error) {
	c, err := requireAdminRead(ctx)
	if err != nil {
		return nil, err
	}
	return s.storage.JWTConfig(ctx, c.AccountID, name)
}

// JWTConfigs implements coffer.JWTService.
func (s *Service) JWTConfigs(ctx context.Context) ([]*coffer.JWTConfig, error) {
	c, err := requireAdminRead(ctx)
	if err != nil {
		return nil, err
	}
	return s.storage.JWTConfigs(ctx, c.AccountID)
}

// UpdateJWTConfig implements coffer.JWTService.
func (s *Service) UpdateJWTConfig(ctx context.Context, name string, in *coffer.JWTConfigUpdate) (*coffer.JWTConfig, error) {
	c, ev, err := s.adminEvent(ctx, "jwt.config.update", name)
	if err != nil {
		return nil, err
	}
	cfg, err := s.storage.JWTConfig(ctx, c.AccountID, name)
	if err != nil {
		return nil, err
	}
	if in.Issuer != nil {
		cfg.Issuer = *in.Issuer
	}
	if in.Keys != nil || in.JWKSURL != nil || in.Discovery != nil {
		cfg.Keys, cfg.JWKSURL, cfg.Discovery = "", "", false
		if in.Keys != nil {
			cfg.Keys = *in.Keys
		}
		if in.JWKSURL != nil {
			cfg.JWKSURL = *in.JWKSURL
		}
		if in.Discovery != nil {
			cfg.Discovery = *in.Discovery
		}
	}
	if in.MaxAge != nil {
		cfg.MaxAge = *in.MaxAge
	}
	if in.Leeway != nil {
		cfg.Leeway = *in.Leeway
	}
	if in.SingleUse != nil {
		cfg.SingleUse = *in.SingleUse
	}
	if err := s.validateJWTConfig(cfg); err != nil {
		return nil, err
	}
	cfg.UpdatedAt = s.now().UTC()
	if !cfg.UpdatedAt.After(cfg.CreatedAt) { // a new generation for the key sources
		cfg.UpdatedAt = cfg.CreatedAt.Add(time.Microsecond)
	}
	ev.Reason = "admin; issuer " + cfg.Issuer
	if err := s.storage.UpdateJWTConfig(ctx, cfg, ev); err != nil {
		return nil, err
	}
	s.jwtKeys(cfg)
	return cfg, nil
}

// DeleteJWTConfig implements coffer.JWTService.
func (s *Service) DeleteJWTConfig(ctx context.Context, name string) error {
	c, ev, err := s.adminEvent(ctx, "jwt.config.delete", name)
	if err != nil {
		return err
	}
	cfg, err := s.storage.JWTConfig(ctx, c.AccountID, name)
	if err != nil {
		return err
	}
	roles, err := s.storage.JWTRoles(ctx, cfg.ID)
	if err != nil {
		return err
	}
	keys := make([]string, len(roles))
	for i, r := range roles {
		keys[i] = r.KeyID
	}
	ev.Reason = "admin; role keys revoked: " + strings.Join(keys, ",")
	if err := s.storage.DeleteJWTConfig(ctx, c.AccountID, cfg.ID, s.now().UTC(), ev); err != nil {
		return err
	}
	s.forgetJWTSource(cfg.ID)
	return s.forgetRoleKeys(ctx, keys...)
}

// forgetRoleKeys drops revoked role keys from the key cache and binds
// their revocation (records.go).
func (s *Service) forgetRoleKeys(ctx context.Context, ids ...string) error {
	for _, id := range ids {
		s.forgetKey(id)
		if err := s.bindRevoked(ctx, id); err != nil {
			return fmt.Errorf("bind revoked key: %w", err)
		}
	}
	return nil
}

// jwtRoleKey makes the key that backs role r: of the role's principal, with
// its scopes, never admin, expiring no later than the caller.
func (s *Service) jwtRoleKey(ctx context.Context, c *coffer.Caller, ev *coffer.AuditEvent, config string, r *coffer.JWTRole) (*coffer.APIKey, error) {
	expires, err := s.boundExpiry(ctx, c, ev, nil)
	if err != nil {
		return nil, err
	}
	id, _, _ := s.newToken()
	k := &coffer.APIKey{ID: id, AccountID: r.AccountID, PrincipalID: r.PrincipalID, Name: jwtRoleKeyPrefix + config + "/" + r.Name,
		Scopes: r.Scopes, Hash: s.jwtRoleKeyHash(id, r.ID), CreatedAt: s.now().UTC(), ExpiresAt: expires}
	if k.Scopes == nil {
		k.Scopes = []coffer.Scope{}
	}
	s.bind(ctx, k)
	return k, nil
}

// CreateJWTRole implements coffer.JWTService.
func (s *Service) CreateJWTRole(ctx context.Context, config string, in *coffer.JWTRole) (*coffer.JWTRole, error) {
	c, ev, err := s.adminEvent(ctx, "jwt.role.create", config+"/"+in.Name)
	if err != nil {
		return nil, err
	}
	cfg, err := s.storage.JWTConfig(ctx, c.AccountID, config)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	r := *in
	r.ID, r.AccountID, r.ConfigID, r.CreatedAt, r.UpdatedAt = jwtID(), c.AccountID, cfg.ID, now, now
	if r.Kind == "" {
		r.Kind = coffer.JWTKindJWT
	}
	if r.BoundClaimsType == "" {
		r.BoundClaimsType = "string"
	}
	if r.TokenTTL == 0 {
		r.TokenTTL = coffer.DefaultJWTTokenTTL
	}
	if r.Scopes == nil {
		r.Scopes = []coffer.Scope{}
	}
	if err := validateJWTRole(&r); err != nil {
		return nil, err
	}
	if r.PrincipalID != "" {
		if _, err := s.storage.Principal(ctx, c.AccountID, r.PrincipalID); err != nil {
			return nil, err
		}
	} else {
		id, err := s.rolePrincipal(ctx, c, "jwt-"+config+"-"+r.Name) // approle.go
		if err != nil {
			return nil, err
		}
		r.PrincipalID = id
	}
	k, err := s.jwtRoleKey(ctx, c, ev, config, &r)
	if err != nil {
		return nil, err
	}
	ev.Reason = "admin; role key " + k.ID
	if err := s.storage.CreateJWTRole(ctx, &r, k, ev); err != nil {
		return nil, err
	}
	return &r, nil
}

// jwtRole returns a role of a config of the caller's account.
func (s *Service) jwtRole(ctx context.Context, accountID, config, name string) (*coffer.JWTRole, error) {
	cfg, err := s.storage.JWTConfig(ctx, accountID, config)
	if err != nil {
		return nil, err
	}
	return s.storage.JWTRole(ctx, cfg.ID, name)
}

// JWTRole implements coffer.JWTService.
func (s *Service) JWTRole(ctx context.Context, config, name string) (*coffer.JWTRole, error) {
	c, err := requireAdminRead(ctx)
	if err != nil {
		return nil, err
	}
	return s.jwtRole(ctx, c.AccountID, config, name)
}

// JWTRoles implements coffer.JWTService.
func (s *Service) JWTRoles(ctx context.Context, config string) ([]*coffer.JWTRole, error) {
	c, err := requireAdminRead(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := s.storage.JWTConfig(ctx, c.AccountID, config)
	if err != nil {
		return nil, err
	}
	return s.storage.JWTRoles(ctx, cfg.ID)
}

// UpdateJWTRole implements coffer.JWTService. A change of scopes makes a
// new role key and revokes the old one in the same transaction, so every
// token of the role ends and logins after it get the new scopes.
func (s *Service) UpdateJWTRole(ctx context.Context, config, name string, in *coffer.JWTRoleUpdate) (*coffer.JWTRole, error) {
	c, ev, err := s.adminEvent(ctx, "jwt.role.update", config+"/"+name)
	if err != nil {
		return nil, err
	}
	r, err := s.jwtRole(ctx, c.AccountID, config, name)
	if err != nil {
		return nil, err
	}
	old := r.KeyID
	if in.BoundAudiences != nil {
		r.BoundAudiences = in.BoundAudiences
	}
	if in.BoundSubject != nil {
		r.BoundSubject = *in.BoundSubject
	}
	if in.BoundClaims != nil {
		r.BoundClaims = in.BoundClaims
	}
	if in.BoundClaimsType != nil {
		r.BoundClaimsType = *in.BoundClaimsType
	}
	if in.BoundServiceAccountNames != nil {
		r.BoundServiceAccountNames = in.BoundServiceAccountNames
	}
	if in.BoundServiceAccountNamespaces != nil {
		r.BoundServiceAccountNamespaces = in.BoundServiceAccountNamespaces
	}
	if in.TokenTTL != nil {
		r.TokenTTL = *in.TokenTTL
	}
	changed := in.Scopes != nil && !sameScopes(in.Scopes, r.Scopes)
	if changed {
		r.Scopes = in.Scopes
	}
	if err := validateJWTRole(r); err != nil {
		return nil, err
	}
	var k *coffer.APIKey
	if changed {
		if k, err = s.jwtRoleKey(ctx, c, ev, config, r); err != nil {
			return nil, err
		}
		ev.Reason = "admin; scopes changed: role key " + old + " replaced by " + k.ID
	}
	r.UpdatedAt = s.now().UTC()
	if err := s.storage.UpdateJWTRole(ctx, r, k, ev); err != nil {
		return nil, err
	}
	if k != nil {
		if err := s.forgetRoleKeys(ctx, old); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// DeleteJWTRole implements coffer.JWTService.
func (s *Service) DeleteJWTRole(ctx context.Context, config, name string) error {
	c, ev, err := s.adminEvent(ctx, "jwt.role.delete", config+"/"+name)
	if err != nil {
		return err
	}
	r, err := s.jwtRole(ctx, c.AccountID, config, name)
	if err != nil {
		return err
	}
	ev.Reason = "admin; role key " + r.KeyID + " revoked"
	if err := s.storage.DeleteJWTRole(ctx, c.AccountID, r.ID, s.now().UTC(), ev); err != nil {
		return err
	}
	return s.forgetRoleKeys(ctx, r.KeyID)
}

// unverifiedIssuer reads the iss claim of a compact token without checking
// anything: only to pick the configs whose keys then verify it.
func unverifiedIssuer(token string) (string, bool) {
	if len(token) > jwt.MaxTokenBytes {
		return "", false
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil || c.Iss == "" {
		return "", false
	}
	return c.Iss, true
}

// jwtCandidate is one config a login's token may belong to, and what
// became of it.
type jwtCandidate struct {
	cfg    *coffer.JWTConfig
	role   *coffer.JWTRole
	claims jwt.Claims
	reason string // why it refused; "" when it accepted
}

// bounded returns s cut to n bytes for an audit reason.
func bounded(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// JWTLogin implements coffer.JWTService. Candidates are the configs named
// mount whose issuer is the token's iss (read unverified only to choose
// them): one at most, since config names are unique on the server (storage
// refuses a second account's config of a name in use), so that no tenant
// can make another's logins ambiguous. It verifies the token with its own
// keys and its role's audiences and bindings; the loop over candidates and
// the exactly-one rule stay as a guard. Failures count
// against the client's address and the mount in the limiter of failed
// authentications and are audited in the accounts of the candidates (in the
// operator's account when there is none), within the audit budget. The
// token never reaches an event: only its sub, and the reason of a refusal.
//
// A login's token lives the role's token_ttl, but never past the JWT's own
// exp (Vault does not bind it; coffer does, so a stolen short-lived JWT
// buys no longer access than itself) nor the role key's expiry.
func (s *Service) JWTLogin(ctx context.Context, mount, role, token, remoteIP string) (*coffer.JWTToken, error) {
	now := s.now()
	limit := "jwt:" + bounded(mount, 64)
	wait := s.limiter.wait(now, remoteIP, limit)
	base := coffer.AuditEvent{Time: now.UTC(), AccountID: s.operator, Action: "jwt.login", Remote: remoteIP,
		Name: bounded(mount, 64) + "/" + bounded(role, 64)}
	if c := coffer.CallerFrom(ctx); c != nil {
		base.RequestID, base.Face = c.RequestID, c.Face
	}
	refuse := func(evs ...*coffer.AuditEvent) error {
		if wait > 0 {
			return rateLimited(wait)
		}
		s.limiter.fail(now, remoteIP, limit)
		for _, ev := range evs {
			ev.Outcome = coffer.EUNAUTHORIZED
			if err := s.auditFailure(ctx, ev); err != nil {
				return err
			}
		}
		return errJWTLogin
	}
	fail := func(reason string) error {
		ev := base
		ev.Reason = reason
		return refuse(&ev)
	}
	if validateJWTName("config", mount) != nil || validateJWTName("role", role) != nil {
		return nil, fail("malformed mount or role name")
	}
	iss, ok := unverifiedIssuer(token)
	if !ok {
		return nil, fail("malformed token")
	}
	cfgs, err := s.storage.JWTConfigsNamed(ctx, mount)
	if err != nil {
		return nil, err
	}
	var cands []*jwtCandidate
	for _, cfg := range cfgs {
		if cfg.Issuer == iss {
			cands = append(cands, &jwtCandidate{cfg: cfg})
		}
	}
	if len(cands) == 0 {
		return nil, fail("no trust configuration of this name for the token's issuer")
	}
	var accepted []*jwtCandidate
	for _, cd := range cands {
		if err := s.jwtCheck(ctx, cd, role, token, now); err != nil {
			return nil, err
		}
		if cd.reason == "" {
			accepted = append(accepted, cd)
		}
	}
	if len(accepted) != 1 {
		evs := make([]*coffer.AuditEvent, len(cands))
		for i, cd := range cands {
			ev := base
			ev.AccountID, ev.Reason = cd.cfg.AccountID, cd.reason
			if len(accepted) > 1 {
				ev.Reason = fmt.Sprintf("the token is accepted by %d accounts' configs of this name: refused for all", len(accepted))
			}
			if cd.role != nil {
				ev.PrincipalID, ev.KeyID = cd.role.PrincipalID, cd.role.KeyID
			}
			evs[i] = &ev
		}
		return nil, refuse(evs...)
	}
	cd := accepted[0]
	cfg, r, claims := cd.cfg, cd.role, cd.claims
	ev := base
	ev.AccountID, ev.PrincipalID, ev.KeyID = r.AccountID, r.PrincipalID, r.KeyID
	failIn := func(reason string) error {
		ev.Reason = reason
		return refuse(&ev)
	}
	k, err := s.apiKey(ctx, r.KeyID)
	if err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND {
		return nil, err
	}
	switch {
	case k == nil || k.AccountID != r.AccountID || k.Admin || !hmac.Equal(k.Hash, s.jwtRoleKeyHash(k.ID, r.ID)):
		return nil, failIn("the role's key is missing or not the role's: changed outside coffer")
	case k.RevokedAt != nil || !k.Usable(now):
		return nil, failIn("the role's key is revoked or expired")
	}
	exp := now.Add(r.TokenTTL)
	if claims.Expiry.Before(exp) {
		exp = claims.Expiry
	}
	if k.ExpiresAt != nil && k.ExpiresAt.Before(exp) {
		exp = *k.ExpiresAt
	}
	exp = time.UnixMilli(exp.UnixMilli()).UTC()
	if !exp.After(now) {
		return nil, failIn("the token or the role's key expires within a millisecond")
	}
	if cfg.SingleUse {
		id := claims.ID
		if id == "" {
			sum := sha256.Sum256([]byte(token))
			id = "sha256:" + hex.EncodeToString(sum[:])
		}
		h := sha256.Sum256([]byte(id))
		key := "jwt:" + fmt.Sprintf("%012d", now.Unix()) + ":" + cfg.ID + ":" + hex.EncodeToString(h[:])
		leeway := cfg.Leeway
		if leeway == 0 {
			leeway = jwt.DefaultLeeway
		}
		if err := s.storage.UseNonce(ctx, key, now, claims.Expiry.Add(leeway)); coffer.ErrorCode(err) == coffer.ECONFLICT {
			return nil, failIn("replayed token (single_use)")
		} else if err != nil {
			return nil, fmt.Errorf("record jwt use: %w", err)
		}
	}
	ev.Reason = "role " + r.Name + "; sub " + bounded(claims.Subject, 256) + "; access token until " + exp.Format(time.RFC3339)
	if err := s.storage.Audit(ctx, &ev); err != nil {
		return nil, fmt.Errorf("audit jwt login: %w", err)
	}
	c := s.keyCaller(now, k)
	c.ExpiresAt = &exp
	if pre := coffer.CallerFrom(ctx); pre != nil {
		c.RemoteAddr, c.RequestID, c.Face = pre.RemoteAddr, pre.RequestID, pre.Face
	}
	return &coffer.JWTToken{AccessToken: coffer.AccessToken{Token: s.signAccess(ctx, k.ID, exp), ExpiresAt: exp, Caller: c},
		Role: r, Subject: claims.Subject}, nil
}

// jwtCheck verifies token for candidate cd and its role named role,
// setting cd.reason when it refuses. Only storage failures are returned.
func (s *Service) jwtCheck(ctx context.Context, cd *jwtCandidate, role, token string, now time.Time) error {
	r, err := s.storage.JWTRole(ctx, cd.cfg.ID, role)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		cd.reason = "no role of this name in the config"
		return nil
	} else if err != nil {
		return err
	}
	cd.role = r
	claims, err := jwt.Verify(token, s.jwtKeys(cd.cfg), jwt.Expectations{Issuer: cd.cfg.Issuer,
		Audiences: r.BoundAudiences, Leeway: cd.cfg.Leeway, MaxAge: cd.cfg.MaxAge, Now: func() time.Time { return now }})
	if err != nil {
		cd.reason = err.Error()
		return nil
	}
	if r.BoundSubject != "" && claims.Subject != r.BoundSubject {
		cd.reason = "sub does not match the role's bound_subject"
		return nil
	}
	if err := jwt.MatchClaims(claims, r.BoundClaims, r.BoundClaimsType == "glob"); err != nil {
		cd.reason = err.Error()
		return nil
	}
	if r.Kind == coffer.JWTKindKubernetes {
		id, err := jwt.Kubernetes(claims)
		switch {
		case err != nil:
			cd.reason = err.Error()
			return nil
		case !anyGlob(r.BoundServiceAccountNames, id.ServiceAccount):
			cd.reason = "service account name not bound to the role"
			return nil
		case !anyGlob(r.BoundServiceAccountNamespaces, id.Namespace):
			cd.reason = "service account namespace not bound to the role"
			return nil
		}
	}
	cd.claims = claims
	return nil
}

// anyGlob reports whether s matches one of patterns.
func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if jwt.Glob(p, s) {
			return true
		}
	}
	return false
}
