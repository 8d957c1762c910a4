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

// Native tokens are "cfr_" + 16 hex digits of key id + "_" + 64 hex digits
// of secret (256 bits). The id finds the key; only a keyed hash of the secret
// is stored. Faces with token shapes of their own add parsers next to
// parseToken.
const (
	tokenPrefix  = "cfr_"
	keyIDLen     = 16
	secretLen    = 32
	nativeTokLen = len(tokenPrefix) + keyIDLen + 1 + 2*secretLen
)

var errUnauthorized = coffer.Errorf(coffer.EUNAUTHORIZED, "invalid or missing API key")

// parseToken splits a token into key id and secret by its format: one of
// the faces' formats (vocab.go), else coffer's own.
func (s *Service) parseToken(tok string) (id string, secret []byte, ok bool) {
	for _, f := range s.vocab.formats {
		if id, secret, ok := f.ParseToken(tok); ok {
			return id, secret, true
		}
	}
	if len(tok) != nativeTokLen || !strings.HasPrefix(tok, tokenPrefix) || tok[len(tokenPrefix)+keyIDLen] != '_' {
		return "", nil, false
	}
	id = tok[len(tokenPrefix) : len(tokenPrefix)+keyIDLen]
	if !isLowerHex(id) {
		return "", nil, false
	}
	secret, err := hex.DecodeString(tok[len(tokenPrefix)+keyIDLen+1:])
	if err != nil {
		return "", nil, false
	}
	return id, secret, true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// newToken makes a key id, its token and the token secret's keyed hash.
func (s *Service) newToken() (id, token string, hash []byte) {
	var b [keyIDLen/2 + secretLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	id = hex.EncodeToString(b[:keyIDLen/2])
	secret := b[keyIDLen/2:]
	token = tokenPrefix + id + "_" + hex.EncodeToString(secret)
	return id, token, s.hashSecret(id, secret)
}

// hashSecret is HMAC-SHA256 keyed by the server pepper over id and secret.
// Tokens carry 256 random bits, so a fast keyed hash is as strong as a slow
// one and costs a microsecond per request.
func (s *Service) hashSecret(id string, secret []byte) []byte {
	m := hmac.New(sha256.New, s.pepper)
	m.Write([]byte("coffer/api-key/v1\x00"))
	m.Write([]byte(id))
	m.Write([]byte{0})
	m.Write(secret)
	return m.Sum(nil)
}

// authenticate checks a token (see Service.Authenticate, which adds the
// client certificate and rate rules). Unknown, revoked and expired keys and
// wrong secrets all answer the same EUNAUTHORIZED after the same work; each
// failure is audited and counts against the client's address and the key
// id the token names.
func (s *Service) authenticate(ctx context.Context, cred coffer.Credential) (*coffer.Caller, error) {
	now := s.now()
	if strings.HasPrefix(cred.Token, accessPrefix) {
		return s.authenticateAccess(ctx, cred, now)
	}
	id, secret, ok := s.parseToken(cred.Token)
	// Addresses and key ids share the limiter; their shapes cannot collide
	// (key ids are 16 hex digits, addresses hold '.' or ':').
	wait := s.limiter.wait(now, cred.RemoteIP, id)
	var k *coffer.APIKey
	reason := "no credential"
	cached := false
	if ok {
		var err error
		cached = s.keyCached(id)
		k, err = s.apiKey(ctx, id)
		if err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND {
			return nil, err
		}
		sum := s.hashSecret(id, secret) // also for unknown ids: the same work either way
		switch {
		case k == nil:
			reason = "unknown key"
		case !hmac.Equal(sum, k.Hash):
			reason = "wrong secret"
		case k.RevokedAt != nil:
			reason = "revoked key"
		case !k.Usable(now):
			reason = "expired key"
		default:
			reason = ""
		}
	} else if cred.Token != "" {
		reason = "malformed token"
	}
	if reason != "" {
		if cached {
			s.padLookup(ctx, id)
		}
		return nil, s.failed(ctx, now, wait, cred, id, k, reason, cred.RemoteIP, id)
	}
	return s.keyCaller(now, k), nil
}

// keyCached reports whether apiKey would answer for id from its cache,
// without a storage lookup.
func (s *Service) keyCached(id string) bool {
	now := s.now()
	s.keysMu.RLock()
	ck, ok := s.keys[id]
	s.keysMu.RUnlock()
	return ok && now.Sub(ck.fetched) < keyCacheTTL && now.Sub(ck.fetched) >= 0
}

// padLookup makes the storage lookup that a failed attempt on a cached key
// did not need, and discards it: every failed attempt with a well-formed
// token then costs one lookup and one hash, whether its key id is unknown
// (never cached, so looked up) or real (a wrong secret, a revoked or
// expired key), and its timing does not tell which (issue 17). It looks up
// an id no key has ("-" is not a hex digit), as an unknown id's lookup
// finds no row.
func (s *Service) padLookup(ctx context.Context, id string) {
	_, _ = s.storage.APIKey(ctx, id+"-")
}

// failed refuses a failed authentication. While one of the limiter's keys
// (the client's address, the key id) has no failures left, it answers
// ERATELIMIT and records nothing; otherwise the failure counts against
// them and is audited (EUNAUTHORIZED). A credential that is valid is never
// refused by the limiter: its secrets are too long to guess at any speed,
// so refusing it would only let anyone who knows a key id, or shares a
// proxy's address with others, lock a working key out.
func (s *Service) failed(ctx context.Context, now time.Time, wait time.Duration, cred coffer.Credential, id string,
	k *coffer.APIKey, reason string, keys ...string) error {
	if wait > 0 {
		return rateLimited(wait)
	}
	s.limiter.fail(now, keys...)
	return s.authFail(ctx, now, cred, id, k, reason)
}

// keyCaller records that the usable key k authenticated a request at now
// and returns its caller.
func (s *Service) keyCaller(now time.Time, k *coffer.APIKey) *coffer.Caller {
	s.usedMu.Lock()
	s.used[k.ID] = now
	s.usedMu.Unlock()
	return &coffer.Caller{
		AccountID: k.AccountID, PrincipalID: k.PrincipalID, KeyID: k.ID, Admin: k.Admin,
		Operator: k.Admin && k.AccountID == s.operator, Scopes: k.Scopes, ExpiresAt: k.ExpiresAt,
	}
}

// rateLimited is the refusal of an attempt that must wait.
func rateLimited(wait time.Duration) error {
	secs := (wait + time.Second - 1) / time.Second
	return &coffer.Error{Code: coffer.ERATELIMIT, Message: "too many failed authentications; try again later", RetryAfter: secs * time.Second}
}

// authFail audits a failed authentication and returns EUNAUTHORIZED. The
// event goes to the account of the key k when the credential named a real
// key, else to the operator account.
func (s *Service) authFail(ctx context.Context, now time.Time, cred coffer.Credential, id string, k *coffer.APIKey, reason string) error {
	ev := &coffer.AuditEvent{Time: now.UTC(), AccountID: s.operator, KeyID: id, Action: "auth.fail",
		Outcome: coffer.EUNAUTHORIZED, Reason: reason, Remote: cred.RemoteIP}
	if k != nil {
		ev.AccountID, ev.PrincipalID = k.AccountID, k.PrincipalID
	}
	if c := coffer.CallerFrom(ctx); c != nil {
		ev.RequestID, ev.Face = c.RequestID, c.Face
	}
	if err := s.auditFailure(ctx, ev); err != nil {
		return err
	}
	return errUnauthorized
}

// apiKey returns a key from a cache that is at most keyCacheTTL old, so a
// revocation made by another server takes effect within that time.
func (s *Service) apiKey(ctx context.Context, id string) (*coffer.APIKey, error) {
	now := s.now()
	s.keysMu.RLock()
	ck, ok := s.keys[id]
	s.keysMu.RUnlock()
	if ok && now.Sub(ck.fetched) < keyCacheTTL && now.Sub(ck.fetched) >= 0 {
		return ck.key, nil
	}
	k, err := s.storage.APIKey(ctx, id)
	if err != nil {
		return nil, err
	}
	if !s.bound(ctx, k) { // records.go: changed outside coffer
		return nil, coffer.Errorf(coffer.ENOTFOUND, "api key not found")
	}
	s.keysMu.Lock()
	if len(s.keys) >= maxCachedKeys {
		s.evictKeys(now)
	}
	s.keys[id] = cachedKey{key: k, fetched: now}
	s.keysMu.Unlock()
	return k, nil
}

// maxCachedKeys bounds the key cache.
const maxCachedKeys = 100000

// evictKeys makes room in a full key cache, with keysMu held: entries past
// keyCacheTTL (which would be fetched again anyway) go first, then others
// until a tenth of the cache is free, so the keys in use stay cached rather
// than all being dropped at once.
func (s *Service) evictKeys(now time.Time) {
	for id, ck := range s.keys {
		if d := now.Sub(ck.fetched); d >= keyCacheTTL || d < 0 {
			delete(s.keys, id)
		}
	}
	for id := range s.keys { // map order: an arbitrary choice
		if len(s.keys) < maxCachedKeys*9/10 {
			break
		}
		delete(s.keys, id)
	}
}

func (s *Service) forgetKey(id string) {
	s.keysMu.Lock()
	delete(s.keys, id)
	s.keysMu.Unlock()
}

// requireAdmin refuses callers without the admin flag, recording why.
func (s *Service) requireAdmin(ctx context.Context, c *coffer.Caller, ev *coffer.AuditEvent) error {
	if c.Admin {
		ev.Reason = "admin"
		return nil
	}
	return s.refuse(ctx, ev, "this action needs an admin API key")
}

// CreateAPIKey implements coffer.KeyService. An admin key mints keys for
// any principal of its account. Any other key mints only keys for itself that
// are not admin and whose scopes its own cover: a key never makes a key with
// more power than its own. No key, admin or not, makes a key that outlives it
// (boundExpiry).
func (s *Service) CreateAPIKey(ctx context.Context, in *coffer.APIKeyCreate) (*coffer.APIKey, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	ev := s.event(c, "key.create")
	ev.Name = in.Name
	if err := s.validateKeyCreate(in, s.now()); err != nil {
		return nil, "", err
	}
	if s.roleCaller(ctx, c) { // approle.go
		return nil, "", s.refuse(ctx, ev, "a token of an AppRole login cannot mint keys: they would outlive the role")
	}
	principal := c.PrincipalID
	if in.PrincipalID != "" && in.PrincipalID != c.PrincipalID {
		if !c.Admin {
			return nil, "", s.refuse(ctx, ev, "only an admin key may mint keys for another principal")
		}
		if _, err := s.storage.Principal(ctx, c.AccountID, in.PrincipalID); err != nil {
			return nil, "", err
		}
		principal = in.PrincipalID
	}
	if !c.Admin {
		switch {
		case in.Admin:
			return nil, "", s.refuse(ctx, ev, "a key that is not admin cannot mint an admin key")
		case !coffer.CoveredBy(in.Scopes, c.Scopes):
			return nil, "", s.refuse(ctx, ev, "the new key's scopes are wider than this key's")
		}
		ev.Reason = "narrower than the minting key"
	} else {
		ev.Reason = "admin"
	}
	expires, err := s.boundExpiry(ctx, c, ev, in.ExpiresAt)
	if err != nil {
		return nil, "", err
	}
	var id, token string
	var hash []byte
	if f := s.vocab.format(in.Format); f != nil {
		var secret []byte
		id, token, secret = f.NewToken(principal)
		hash = s.hashSecret(id, secret)
	} else {
		id, token, hash = s.newToken()
	}
	k := &coffer.APIKey{
		ID: id, AccountID: c.AccountID, PrincipalID: principal, Name: in.Name,
		Admin: in.Admin, Scopes: in.Scopes, Hash: hash, CreatedAt: s.now().UTC(), ExpiresAt: expires,
	}
	if k.Scopes == nil {
		k.Scopes = []coffer.Scope{}
	}
	ev.Reason += "; new key " + id
	s.bind(ctx, k)
	if err := s.storage.CreateAPIKey(ctx, k, ev); err != nil {
		return nil, "", err
	}
	return k, token, nil
}

// boundExpiry applies the rule that no key outlives the key (or access
// token) that made it, admin or not: a maker that expires mints only keys
// that expire no later than it does. Asked for no expiry, the new key gets
// the maker's; asked for a later one, the mint is refused (EFORBIDDEN,
// audited) rather than silently shortened.
func (s *Service) boundExpiry(ctx context.Context, c *coffer.Caller, ev *coffer.AuditEvent, asked *time.Time) (*time.Time, error) {
	switch {
	case c.ExpiresAt == nil:
		return asked, nil
	case asked == nil:
		exp := c.ExpiresAt.UTC()
		return &exp, nil
	case asked.After(*c.ExpiresAt):
		return nil, s.refuse(ctx, ev, "the new key may not outlive the key that makes it")
	}
	return asked, nil
}

// Refuse implements coffer.Refuser.
func (s *Service) Refuse(ctx context.Context, action, name, reason string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	ev := s.event(c, action)
	ev.Name = name
	return s.refuse(ctx, ev, reason)
}

// refuse records a refused action in the audit log and returns EFORBIDDEN
// with why.
func (s *Service) refuse(ctx context.Context, ev *coffer.AuditEvent, why string) error {
	ev.Outcome, ev.Reason = coffer.EFORBIDDEN, why
	if err := s.storage.Audit(ctx, ev); err != nil {
		return fmt.Errorf("audit refusal: %w", err)
	}
	return coffer.Errorf(coffer.EFORBIDDEN, "%s", why)
}

func (s *Service) validateKeyCreate(in *coffer.APIKeyCreate, now time.Time) error {
	if in.Format != coffer.FormatNative && s.vocab.format(in.Format) == nil {
		return coffer.Errorf(coffer.EINVALID, "key format must be empty (native)%s", s.vocab.formatNames())
	}
	if in.Name == "" || len(in.Name) > 128 {
		return coffer.Errorf(coffer.EINVALID, "key name must be 1-128 characters")
	}
	if isRoleKeyName(in.Name) {
		return coffer.Errorf(coffer.EINVALID, "key names starting %q or %q are the roles' own", roleKeyPrefix, jwtRoleKeyPrefix)
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		return coffer.Errorf(coffer.EINVALID, "expires_at is in the past")
	}
	if len(in.Scopes) > 100 {
		return coffer.Errorf(coffer.EINVALID, "at most 100 scopes")
	}
	for i := range in.Scopes {
		if err := in.Scopes[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}

// APIKeys implements coffer.KeyService. An admin key lists every key of
// its account; any other key lists the keys of its own principal that it
// could have minted (not admin, scopes within its own): a user's personal
// access tokens, never a wider key's existence.
func (s *Service) APIKeys(ctx context.Context) ([]*coffer.APIKey, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := s.storage.APIKeys(ctx, c.AccountID)
	if err != nil || c.Admin {
		return keys, err
	}
	own := keys[:0]
	for _, k := range keys {
		if k.PrincipalID == c.PrincipalID && !k.Admin && coffer.CoveredBy(k.Scopes, c.Scopes) {
			own = append(own, k)
		}
	}
	return own, nil
}

// RevokeAPIKey implements coffer.KeyService. An admin key revokes any key of
// its account; any other key revokes only keys of its own principal that it
// could have minted (not admin, scopes within its own), so that a leaked
// narrow key cannot cut off its owner's wider keys. The revocation is
// effective at once on this server and within keyCacheTTL on every other.
func (s *Service) RevokeAPIKey(ctx context.Context, id string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	ev := s.event(c, "key.revoke")
	ev.Name = id
	if c.Admin {
		ev.Reason = "admin"
	} else {
		k, err := s.storage.APIKey(ctx, id)
		if coffer.ErrorCode(err) == coffer.ENOTFOUND || err == nil && k.AccountID != c.AccountID {
			return coffer.Errorf(coffer.ENOTFOUND, "API key not found")
		} else if err != nil {
			return err
		}
		switch {
		case k.PrincipalID != c.PrincipalID:
			return s.refuse(ctx, ev, "only an admin key may revoke another principal's keys")
		case k.Admin || !coffer.CoveredBy(k.Scopes, c.Scopes):
			return s.refuse(ctx, ev, "a key may revoke only keys no wider than itself")
		}
		ev.Reason = "own principal's key"
	}
	if err := s.storage.RevokeAPIKey(ctx, c.AccountID, id, s.now().UTC(), ev); err != nil {
		return err
	}
	s.forgetKey(id)
	if err := s.bindRevoked(ctx, id); err != nil { // records.go
		return fmt.Errorf("bind revoked key: %w", err)
	}
	return nil
}

// Bootstrap creates the first account, its root principal and an admin key
// when the database has no account yet. It returns the new key's token, or
// "" when the database was already set up.
func (s *Service) Bootstrap(ctx context.Context) (string, error) {
	accts, err := s.storage.Accounts(ctx, "", 1)
	if err != nil {
		return "", err
	} else if len(accts) > 0 {
		return "", nil
	}
	now := s.now().UTC()
	sys := &coffer.Caller{PrincipalID: "system", Face: "bootstrap"}
	a := &coffer.Account{ID: coffer.NewID(), Name: "default", CreatedAt: now}
	ev := s.event(sys, "account.create")
	ev.AccountID, ev.Name = a.ID, a.Name
	s.bind(ctx, a)
	if err := s.storage.CreateAccount(ctx, a, ev); err != nil {
		return "", err
	}
	if err := s.storage.SetMeta(ctx, metaOperatorMAC, operatorMAC(s.authKeys(ctx).record, a.ID)); err != nil {
		return "", fmt.Errorf("record operator account: %w", err)
	}
	if err := s.storage.SetMeta(ctx, metaOperator, []byte(a.ID)); err != nil {
		return "", fmt.Errorf("record operator account: %w", err)
	}
	s.operator = a.ID
	p := &coffer.Principal{ID: coffer.NewID(), AccountID: a.ID, Name: "root", Kind: "user", CreatedAt: now}
	ev = s.event(sys, "principal.create")
	ev.AccountID, ev.Name = a.ID, p.Name
	s.bind(ctx, p)
	if err := s.storage.CreatePrincipal(ctx, p, ev); err != nil {
		return "", err
	}
	id, token, hash := s.newToken()
	k := &coffer.APIKey{ID: id, AccountID: a.ID, PrincipalID: p.ID, Name: "root", Admin: true, Scopes: []coffer.Scope{}, Hash: hash, CreatedAt: now}
	ev = s.event(sys, "key.create")
	ev.AccountID, ev.Name, ev.Reason = a.ID, k.Name, "first start; new key "+id
	s.bind(ctx, k)
	if err := s.storage.CreateAPIKey(ctx, k, ev); err != nil {
		return "", err
	}
	return token, nil
}
