package service

import (
	"context"
	"maps"
	"sort"
	"strings"

	"github.com/coffer-dev/coffer"
)

var (
	_ coffer.IdentityService = (*Service)(nil)
	_ coffer.ProfileService  = (*Service)(nil)
)

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
		if !s.bound(ctx, a) { // records.go
			return nil, coffer.Errorf(coffer.ENOTFOUND, "account not found")
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
		if !s.bound(ctx, p) { // records.go
			return nil, coffer.Errorf(coffer.ENOTFOUND, "principal not found")
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
	c.Attributes = maps.Clone(p.Attributes)
	return &c, nil
}

// Profile implements coffer.ProfileService.
func (s *Service) Profile(ctx context.Context) (*coffer.Principal, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.storage.Principal(ctx, c.AccountID, c.PrincipalID)
	if err != nil {
		return nil, err
	}
	if !s.bound(ctx, p) { // records.go
		return nil, coffer.Errorf(coffer.ENOTFOUND, "principal not found")
	}
	s.rememberPrincipal(p)
	cp := *p
	cp.Attributes = maps.Clone(p.Attributes)
	return &cp, nil
}

// UpdateProfile implements coffer.ProfileService.
func (s *Service) UpdateProfile(ctx context.Context, changes map[string]string) (*coffer.Principal, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if len(changes) > coffer.MaxLabels {
		return nil, coffer.Errorf(coffer.EINVALID, "at most %d profile attributes", coffer.MaxLabels)
	} else if err := coffer.ValidateAttributes(changes); err != nil {
		return nil, coffer.Errorf(coffer.EINVALID, "profile attributes: %s", coffer.ErrorMessage(err))
	}
	keys := make([]string, 0, len(changes))
	for k := range changes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ev := s.event(c, "principal.update")
	ev.Name, ev.Reason = c.PrincipalID, "own profile: "+strings.Join(keys, ", ")
	p, err := s.storage.UpdatePrincipal(ctx, c.AccountID, c.PrincipalID, changes, ev)
	if err != nil {
		return nil, err
	}
	s.rememberPrincipal(p)
	cp := *p
	cp.Attributes = maps.Clone(p.Attributes)
	return &cp, nil
}

// rememberPrincipal replaces a cached principal with one just read.
func (s *Service) rememberPrincipal(p *coffer.Principal) {
	s.idMu.Lock()
	if len(s.principals) >= maxIdentities {
		s.principals = map[string]*coffer.Principal{}
	}
	s.principals[p.ID] = p
	s.idMu.Unlock()
}
