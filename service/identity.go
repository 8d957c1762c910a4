package service

import (
	"context"

	"github.com/coffer-dev/coffer"
)

var _ coffer.IdentityService = (*Service)(nil)

// Whoami implements coffer.IdentityService.
func (s *Service) Whoami(ctx context.Context) (*coffer.Account, *coffer.Principal, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	a, err := s.storage.Account(ctx, c.AccountID)
	if err != nil {
		return nil, nil, err
	}
	p, err := s.storage.Principal(ctx, c.AccountID, c.PrincipalID)
	if err != nil {
		return nil, nil, err
	}
	return a, p, nil
}

// Principal implements coffer.IdentityService.
func (s *Service) Principal(ctx context.Context, id string) (*coffer.Principal, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.storage.Principal(ctx, c.AccountID, id)
}
