package service

import (
	"context"
	"fmt"
	"slices"

	"github.com/coffer-dev/coffer"
)

var _ coffer.PowerSetter = (*Service)(nil)

// SetPowers implements coffer.PowerSetter. The new key is made first and
// the old ones revoked after it, each revocation audited (key.revoke) with
// the new key named as the reason; if a revocation fails, the new key is
// revoked too, so the principal never holds keys of two settings and a
// retry converges. Keys cannot be narrowed in place (their scopes are part
// of what they are), so narrowing is revoking and replacing.
func (s *Service) SetPowers(ctx context.Context, principalID, name string, p coffer.Powers) (*coffer.APIKey, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	ev := s.event(c, "key.create")
	ev.Name = name
	if err := s.requireAdmin(ctx, c, ev); err != nil {
		return nil, "", err
	}
	if _, err := s.storage.Principal(ctx, c.AccountID, principalID); err != nil {
		return nil, "", err
	}
	if p.ExpiresAt, err = s.boundExpiry(ctx, c, ev, p.ExpiresAt); err != nil {
		return nil, "", err
	}
	all, err := s.storage.APIKeys(ctx, c.AccountID)
	if err != nil {
		return nil, "", err
	}
	var keys []*coffer.APIKey
	for _, k := range all {
		if k.PrincipalID == principalID && k.RevokedAt == nil {
			keys = append(keys, k)
		}
	}
	slices.SortStableFunc(keys, func(a, b *coffer.APIKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	if k := coffer.SettledKey(keys, p, s.now()); k != nil {
		return k, "", nil
	}
	k, token, err := s.CreateAPIKey(ctx, &coffer.APIKeyCreate{Name: name, PrincipalID: principalID, Admin: p.Admin, Scopes: p.Scopes, ExpiresAt: p.ExpiresAt})
	if err != nil {
		return nil, "", err
	}
	for _, old := range keys {
		if err := s.revokeReplaced(ctx, c, old.ID, "the principal's powers changed; replaced by key "+k.ID); err != nil {
			if uerr := s.revokeReplaced(ctx, c, k.ID, "undo: an old key could not be revoked"); uerr != nil {
				return nil, "", uerr
			}
			return nil, "", err
		}
	}
	return k, token, nil
}

// revokeReplaced revokes key id of the caller's account, audited with why;
// a key already gone is no error.
func (s *Service) revokeReplaced(ctx context.Context, c *coffer.Caller, id, why string) error {
	ev := s.event(c, "key.revoke")
	ev.Name, ev.Reason = id, why
	err := s.storage.RevokeAPIKey(ctx, c.AccountID, id, s.now().UTC(), ev)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	s.forgetKey(id)
	if err := s.bindRevoked(ctx, id); err != nil { // records.go
		return fmt.Errorf("bind revoked key: %w", err)
	}
	return nil
}
