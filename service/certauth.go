package service

import (
	"context"

	"github.com/coffer-dev/coffer"
)

// AuthenticateKey authenticates a caller who proved by other means than the
// key's token that it may act as the API key with the given id: the server
// verified a TLS client certificate that the operator mapped to that key.
// The key must exist and be usable, so revoking (or letting expire) the key
// also stops the certificate from working. Failures are audited like a bad
// token and answer EUNAUTHORIZED; a client address or key id with too many
// failures answers ERATELIMIT.
func (s *Service) AuthenticateKey(ctx context.Context, id, remoteIP string) (*coffer.Caller, error) {
	now := s.now()
	cred := coffer.Credential{RemoteIP: remoteIP}
	wait := s.limiter.wait(now, remoteIP, id)
	k, err := s.apiKey(ctx, id)
	if err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND {
		return nil, err
	}
	reason := ""
	switch {
	case k == nil:
		reason = "certificate maps to an unknown key"
	case k.RevokedAt != nil:
		reason = "certificate maps to a revoked key"
	case !k.Usable(now):
		reason = "certificate maps to an expired key"
	}
	if reason != "" {
		return nil, s.failed(ctx, now, wait, cred, id, k, reason, remoteIP, id)
	}
	return s.keyCaller(now, k), nil
}
