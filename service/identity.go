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
	a, err := s.account(ctx, c.AccountID)
	if err != nil {
		return nil, nil, err
	}
	p, err := s.principal(ctx, c.AccountID, c.PrincipalID)
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
	return s.principal(ctx, c.AccountID, id)
}

// maxIdentities bounds each identity cache; past it the cache starts over.
const maxIdentities = 10000

// account returns an account by id, from memory once read. Callers get a
// copy.
func (s *Service) account(ctx context.Context, id string) (*coffer.Account, error) {
	s.idMu.RLock()
	a := s.accounts[id]
	s.idMu.RUnlock()
	if a == nil {
		var err error
		if a, err = s.storage.Account(ctx, id); err != nil {
			return nil, err
		}
		s.idMu.Lock()
		if len(s.accounts) >= maxIdentities {
			s.accounts = map[string]*coffer.Account{}
		}
		s.accounts[id] = a
		s.idMu.Unlock()
	}
	c := *a
	return &c, nil
}

// principal returns a principal of the account by id, from memory once
// read. Callers get a copy.
func (s *Service) principal(ctx context.Context, accountID, id string) (*coffer.Principal, error) {
	s.idMu.RLock()
	p := s.principals[id]
	s.idMu.RUnlock()
	if p == nil {
		var err error
		if p, err = s.storage.Principal(ctx, accountID, id); err != nil {
			return nil, err
		}
		s.idMu.Lock()
		if len(s.principals) >= maxIdentities {
			s.principals = map[string]*coffer.Principal{}
		}
		s.principals[id] = p
		s.idMu.Unlock()
	}
	if p.AccountID != accountID {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "principal not found")
	}
	c := *p
	return &c, nil
}
