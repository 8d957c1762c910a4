package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
)

// Access tokens (coffer.AccessTokenIssuer) are "cat_" + base64url(payload)
// + "." + base64url(HMAC-SHA256(tokenKey, payload)), unpadded, where payload
// is
//
//	[1 byte version = 1][8 bytes expiry, Unix milliseconds, big endian][12 bytes random nonce][key id]
//
// Nothing about a token is stored: the MAC proves that this server's
// database issued it, the expiry bounds it, and the key it names must still
// be usable at every use. The nonce makes two tokens of one key issued in
// the same millisecond differ.
const (
	accessPrefix   = "cat_"
	accessVersion  = 1
	accessNonceLen = 12
	accessHeadLen  = 1 + 8 + accessNonceLen
	maxKeyIDLen    = 64
	// accessClockSkew is how far the clocks of the servers of a database
	// may differ: a token is refused when its expiry is further than
	// MaxAccessTokenTTL and this from now.
	accessClockSkew = 5 * time.Second
)

// signAccess makes an access token for the key id that expires at exp.
func (s *Service) signAccess(ctx context.Context, id string, exp time.Time) string {
	payload := make([]byte, accessHeadLen, accessHeadLen+len(id))
	payload[0] = accessVersion
	binary.BigEndian.PutUint64(payload[1:9], uint64(exp.UnixMilli()))
	if _, err := rand.Read(payload[9:accessHeadLen]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	payload = append(payload, id...)
	m := hmac.New(sha256.New, s.authKeys(ctx).token)
	m.Write(payload)
	enc := base64.RawURLEncoding
	return accessPrefix + enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil))
}

// parseAccess checks an access token's MAC, in constant time, and returns
// the key id and expiry it carries. ok is false for anything this server's
// database did not sign.
func (s *Service) parseAccess(ctx context.Context, tok string) (id string, exp time.Time, ok bool) {
	p, sig, found := strings.Cut(strings.TrimPrefix(tok, accessPrefix), ".")
	enc := base64.RawURLEncoding.Strict()
	if !found || len(p) > enc.EncodedLen(accessHeadLen+maxKeyIDLen) || len(sig) != enc.EncodedLen(sha256.Size) {
		return "", time.Time{}, false
	}
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || len(payload) <= accessHeadLen || payload[0] != accessVersion {
		return "", time.Time{}, false
	}
	m := hmac.New(sha256.New, s.authKeys(ctx).token)
	m.Write(payload)
	if !hmac.Equal(m.Sum(nil), mac) {
		return "", time.Time{}, false
	}
	ms := binary.BigEndian.Uint64(payload[1:9])
	if ms > 1<<62 {
		return "", time.Time{}, false
	}
	return string(payload[accessHeadLen:]), time.UnixMilli(int64(ms)).UTC(), true
}

// authenticateAccess is Authenticate for access tokens. A token that does
// not verify, has expired, or names a key that is unknown, revoked or
// expired answers the same EUNAUTHORIZED, audited with the reason. Failures
// count against the client's address only, not against the key id: an
// expired token that a client keeps sending must not lock its key out.
func (s *Service) authenticateAccess(ctx context.Context, cred coffer.Credential, now time.Time) (*coffer.Caller, error) {
	id, exp, ok := s.parseAccess(ctx, cred.Token)
	wait := s.limiter.wait(now, cred.RemoteIP, id)
	var k *coffer.APIKey
	if ok {
		var err error
		if k, err = s.apiKey(ctx, id); err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND {
			return nil, err
		}
	}
	reason := ""
	switch {
	case !ok:
		reason = "malformed or forged access token"
	case k == nil:
		reason = "access token of an unknown key"
	case !now.Before(exp):
		reason = "expired access token"
	case exp.Sub(now) > coffer.MaxAccessTokenTTL+accessClockSkew:
		// No token this server issues lives longer (IssueAccessToken);
		// one that claims to was not made by it, whatever its MAC.
		reason = "access token lives longer than any token issued"
	case k.RevokedAt != nil:
		reason = "access token of a revoked key"
	case !k.Usable(now):
		reason = "access token of an expired key"
	}
	if reason != "" {
		return nil, s.failed(ctx, now, wait, cred, id, k, reason, cred.RemoteIP)
	}
	s.usedMu.Lock()
	s.used[id] = now
	s.usedMu.Unlock()
	if k.ExpiresAt != nil && k.ExpiresAt.Before(exp) {
		exp = *k.ExpiresAt
	}
	return &coffer.Caller{
		AccountID: k.AccountID, PrincipalID: k.PrincipalID, KeyID: k.ID, Admin: k.Admin,
		Operator: k.Admin && k.AccountID == s.operator, Scopes: k.Scopes, ExpiresAt: &exp,
	}, nil
}

// issueAccessToken exchanges an API key for an access token (see
// Service.IssueAccessToken, which adds the client certificate rules).
func (s *Service) issueAccessToken(ctx context.Context, cred coffer.Credential, ttl time.Duration) (*coffer.AccessToken, error) {
	if ttl <= 0 || ttl > coffer.MaxAccessTokenTTL {
		return nil, coffer.Errorf(coffer.EINVALID, "an access token lives between 1 second and %s", coffer.MaxAccessTokenTTL)
	}
	if strings.HasPrefix(cred.Token, accessPrefix) {
		now := s.now()
		if wait := s.limiter.wait(now, cred.RemoteIP); wait > 0 {
			return nil, rateLimited(wait)
		}
		s.limiter.fail(now, cred.RemoteIP)
		return nil, s.authFail(ctx, now, cred, "", nil, "access token given where an API key is needed")
	}
	c, err := s.authenticate(ctx, cred)
	if err != nil {
		return nil, err
	}
	if pre := coffer.CallerFrom(ctx); pre != nil {
		c.RemoteAddr, c.RequestID, c.Face = pre.RemoteAddr, pre.RequestID, pre.Face
	}
	now := s.now()
	exp := now.Add(ttl)
	if c.ExpiresAt != nil && c.ExpiresAt.Before(exp) {
		exp = *c.ExpiresAt
	}
	exp = time.UnixMilli(exp.UnixMilli()).UTC() // whole milliseconds, never later than the key
	if !exp.After(now) {
		return nil, s.authFail(ctx, now, cred, c.KeyID, &coffer.APIKey{AccountID: c.AccountID, PrincipalID: c.PrincipalID}, "the key expires within a millisecond")
	}
	ev := s.event(c, "token.issue")
	ev.Reason = "access token until " + exp.Format(time.RFC3339)
	if err := s.audit(ctx, ev); err != nil {
		return nil, err
	}
	c.ExpiresAt = &exp
	return &coffer.AccessToken{Token: s.signAccess(ctx, c.KeyID, exp), ExpiresAt: exp, Caller: c}, nil
}
