package service

import (
	"context"
	"slices"
	"time"

	"github.com/coffer-dev/coffer"
)

var (
	_ coffer.AccessChecker = (*Service)(nil)
	_ coffer.OwnKeyService = (*Service)(nil)
	_ coffer.SecretPurger  = (*Service)(nil)
)

// RequireAccount implements coffer.AccessChecker.
func (s *Service) RequireAccount(ctx context.Context, accountID string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if accountID == c.AccountID {
		return nil
	}
	ev := s.event(c, "account.access")
	ev.Name = accountID
	return s.refuse(ctx, ev, "the path names an account other than the key's")
}

// RequireAdmin implements coffer.AccessChecker.
func (s *Service) RequireAdmin(ctx context.Context, action, name, reason string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if c.Admin {
		return nil
	}
	ev := s.event(c, action)
	ev.Name = name
	return s.refuse(ctx, ev, reason)
}

// RequireObjectScope implements coffer.AccessChecker.
func (s *Service) RequireObjectScope(ctx context.Context, objectType string, action coffer.Action, event string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if c.Admin {
		return nil
	}
	for _, sc := range c.Scopes {
		if sc.ObjectType == objectType && (len(sc.Actions) == 0 || slices.Contains(sc.Actions, action)) {
			return nil
		}
	}
	return s.refuse(ctx, s.event(c, event), "no "+objectType+" scope")
}

// AuthorizeNewStore implements coffer.AccessChecker.
func (s *Service) AuthorizeNewStore(ctx context.Context, action coffer.Action, name string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if ok, _ := c.Allows(action, "", name, ""); ok {
		return nil
	}
	ev := s.event(c, "secret."+string(action))
	ev.Name = name
	return s.refuse(ctx, ev, "no scope grants "+string(action))
}

// CheckStoreAdmin implements coffer.AccessChecker.
func (s *Service) CheckStoreAdmin(ctx context.Context, id, name string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if !c.AllowsEvery(coffer.ActionAdmin, id, name) {
		return coffer.Errorf(coffer.EFORBIDDEN, "this API key may not %s here", coffer.ActionAdmin)
	}
	return nil
}

// OwnAPIKeys implements coffer.OwnKeyService.
func (s *Service) OwnAPIKeys(ctx context.Context) ([]*coffer.APIKey, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := s.APIKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []*coffer.APIKey
	for _, k := range keys {
		if k.PrincipalID == c.PrincipalID && k.RevokedAt == nil {
			out = append(out, k)
		}
	}
	slices.SortStableFunc(out, func(a, b *coffer.APIKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}

// CreateOwnAPIKey implements coffer.OwnKeyService.
func (s *Service) CreateOwnAPIKey(ctx context.Context, name string, expiresAt *time.Time) (*coffer.APIKey, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	in := &coffer.APIKeyCreate{Name: name, Admin: c.Admin, ExpiresAt: expiresAt}
	if !c.Admin {
		in.Scopes = slices.Clone(c.Scopes)
	}
	return s.CreateAPIKey(ctx, in)
}

// RevokeOwnAPIKey implements coffer.OwnKeyService.
func (s *Service) RevokeOwnAPIKey(ctx context.Context, id string) error {
	keys, err := s.OwnAPIKeys(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(keys, func(k *coffer.APIKey) bool { return k.ID == id }) {
		return coffer.Errorf(coffer.ENOTFOUND, "no such API key")
	}
	return s.RevokeAPIKey(ctx, id)
}

// PurgeIfAllowed implements coffer.SecretPurger. Whether the caller may
// delete is asked of the secret's own name, as PurgeSecret asks it.
func (s *Service) PurgeIfAllowed(ctx context.Context, storeRef, ref string) (bool, error) {
	c, err := caller(ctx)
	if err != nil {
		return false, err
	}
	st, err := s.storage.Store(ctx, c.AccountID, storeRef)
	if err != nil {
		return false, err
	}
	sec, err := s.storage.Secret(ctx, c.AccountID, st.ID, ref)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		sec, err = s.lastDeleted(ctx, c.AccountID, st.ID, ref)
	}
	if err != nil {
		return false, err
	}
	if ok, _ := c.Allows(coffer.ActionDelete, st.ID, st.Name, sec.Name); !ok {
		return false, nil
	}
	if err := s.PurgeSecret(ctx, st.ID, sec.ID); err != nil {
		return false, err
	}
	return true, nil
}
