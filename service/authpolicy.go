package service

// This file holds the authentication policy every face goes through: a
// verified client certificate mapped to an API key may stand in for a
// token, a credential sent with one must be of the certificate's
// principal, RequireClientCert refuses requests without one, and every
// authenticated request drains its account's rate limit. The HTTP layer
// only maps certificates to key ids (WithClientCertKey).

import (
	"context"
	"time"

	"github.com/coffer-dev/coffer"
)

type clientCertKey struct{}

// WithClientCertKey returns ctx carrying the id of the API key that the
// request's verified TLS client certificate maps to. The server's HTTP
// layer sets it; Authenticate, AuthenticateHotkey and IssueAccessToken
// apply it.
func WithClientCertKey(ctx context.Context, keyID string) context.Context {
	return context.WithValue(ctx, clientCertKey{}, keyID)
}

var (
	errCertRequired = coffer.Errorf(coffer.EUNAUTHORIZED, "this server requires a client certificate mapped to an API key")
	errCertMismatch = coffer.Errorf(coffer.EUNAUTHORIZED, "the credential does not belong to the client certificate's principal")
)

// certCaller applies the client certificate rules that come before any
// credential is used: a verified certificate mapped to a key stands for
// that key, which must be usable (revoking the key stops the certificate,
// whatever else the request carries); with RequireClientCert, a request
// without a mapped certificate gets no further. It returns the
// certificate's caller, or nil when there is no mapped certificate.
func (s *Service) certCaller(ctx context.Context, remoteIP string) (*coffer.Caller, error) {
	id, _ := ctx.Value(clientCertKey{}).(string)
	switch {
	case id != "":
		return s.AuthenticateKey(ctx, id, remoteIP)
	case s.requireCert:
		return nil, errCertRequired
	}
	return nil, nil
}

// sameHolder refuses a credential c presented together with a mapped
// certificate cc (nil when none) unless both belong to one principal: a
// token stolen from someone else is useless to the holder of another
// certificate, in either client-auth mode. A token of the certificate's
// own principal may narrow what the request does (or widen it to what
// that principal's other key allows).
func sameHolder(cc, c *coffer.Caller) error {
	if cc != nil && (cc.AccountID != c.AccountID || cc.PrincipalID != c.PrincipalID) {
		return errCertMismatch
	}
	return nil
}

// Authenticate implements coffer.Authenticator: it authenticates a token,
// or the mapped client certificate when the request carries no token. With
// a mapped certificate, its key must be usable and a token given besides
// must be of its principal; the token then decides. The caller's account
// must be within its request rate limit (ERATELIMIT with RetryAfter).
func (s *Service) Authenticate(ctx context.Context, cred coffer.Credential) (*coffer.Caller, error) {
	cc, err := s.certCaller(ctx, cred.RemoteIP)
	if err != nil {
		return nil, err
	}
	c := cc
	if cred.Token != "" || cc == nil {
		if c, err = s.authenticate(ctx, cred); err != nil {
			return nil, err
		}
		if err := sameHolder(cc, c); err != nil {
			return nil, err
		}
	}
	return c, s.limitAccount(c)
}

// IssueAccessToken implements coffer.AccessTokenIssuer. An exchange of a
// key for a token (ByteNite's POST /access_token) is a request like any
// other, so RequireClientCert refuses it without a mapped certificate, and
// the key exchanged must be of the certificate's principal. It does not
// drain the account's rate limit.
func (s *Service) IssueAccessToken(ctx context.Context, cred coffer.Credential, ttl time.Duration) (*coffer.AccessToken, error) {
	cc, err := s.certCaller(ctx, cred.RemoteIP)
	if err != nil {
		return nil, err
	}
	if cc != nil {
		c, err := s.authenticate(ctx, cred)
		if err != nil {
			return nil, err
		}
		if err := sameHolder(cc, c); err != nil {
			return nil, err
		}
	}
	return s.issueAccessToken(ctx, cred, ttl)
}

// AuthenticateHotkey implements coffer.HotkeyAuthenticator for the Chutes
// face: a hotkey signature (see authenticateHotkey) under the same client
// certificate and rate rules as Authenticate.
func (s *Service) AuthenticateHotkey(ctx context.Context, p coffer.HotkeyProof) (*coffer.Caller, error) {
	cc, err := s.certCaller(ctx, p.RemoteIP)
	if err != nil {
		return nil, err
	}
	c, err := s.authenticateHotkey(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := sameHolder(cc, c); err != nil {
		return nil, err
	}
	return c, s.limitAccount(c)
}

// limitAccount takes one request from the caller's account's rate limit.
func (s *Service) limitAccount(c *coffer.Caller) error {
	if s.rate == nil {
		return nil
	}
	if wait := s.rate.wait(c.AccountID); wait > 0 {
		return &coffer.Error{Code: coffer.ERATELIMIT, Message: "too many requests for this account; slow down", RetryAfter: wait}
	}
	return nil
}
