package service

import (
	"context"

	"github.com/coffer-dev/coffer"
)

// validateLabel checks account and principal names: 1-64 letters, digits,
// '_', '-' and '.'.
func validateLabel(kind, name string) error {
	if name == "" || len(name) > 64 {
		return coffer.Errorf(coffer.EINVALID, "%s name must be 1-64 characters", kind)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return coffer.Errorf(coffer.EINVALID, "%s name may contain only letters, digits, '_', '-' and '.'", kind)
		}
	}
	return nil
}

// CreateAccount implements coffer.AccountService.
func (s *Service) CreateAccount(ctx context.Context, in *coffer.AccountCreate) (*coffer.AccountCreated, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ev := s.event(c, "account.create")
	ev.Name = in.Name
	if !c.Operator {
		return nil, s.refuse(ctx, ev, "only the server operator may create accounts")
	}
	if err := validateLabel("account", in.Name); err != nil {
		return nil, err
	}
	// The new account's admin key is minted by the operator's key, and
	// outlives it no more than any other key would.
	expires, err := s.boundExpiry(ctx, c, ev, nil)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	a := &coffer.Account{ID: coffer.NewID(), Name: in.Name, CreatedAt: now}
	ev.Reason = "operator; new account " + a.ID
	s.bind(ctx, a)
	if err := s.storage.CreateAccount(ctx, a, ev); err != nil {
		return nil, err
	}
	p := &coffer.Principal{ID: coffer.NewID(), AccountID: a.ID, Name: "admin", Kind: "user", CreatedAt: now}
	pev := s.event(c, "principal.create")
	pev.Name, pev.Reason = p.Name, "first principal of account "+a.ID
	s.bind(ctx, p)
	if err := s.storage.CreatePrincipal(ctx, p, pev); err != nil {
		return nil, err
	}
	id, token, hash := s.newToken()
	k := &coffer.APIKey{ID: id, AccountID: a.ID, PrincipalID: p.ID, Name: "admin", Admin: true, Scopes: []coffer.Scope{}, Hash: hash, CreatedAt: now, ExpiresAt: expires}
	kev := s.event(c, "key.create")
	kev.Name, kev.Reason = k.Name, "first key of account "+a.ID+"; new key "+id
	s.bind(ctx, k)
	if err := s.storage.CreateAPIKey(ctx, k, kev); err != nil {
		return nil, err
	}
	return &coffer.AccountCreated{Account: a, Principal: p, Key: k, Token: token}, nil
}

// Accounts implements coffer.AccountService.
func (s *Service) Accounts(ctx context.Context) ([]*coffer.Account, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Operator {
		return nil, coffer.Errorf(coffer.EFORBIDDEN, "only the server operator may list accounts")
	}
	var out []*coffer.Account
	for after := ""; ; {
		page, err := s.storage.Accounts(ctx, after, coffer.MaxPageSize)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < coffer.MaxPageSize {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// CreatePrincipal implements coffer.AccountService.
func (s *Service) CreatePrincipal(ctx context.Context, in *coffer.PrincipalCreate) (*coffer.Principal, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ev := s.event(c, "principal.create")
	ev.Name = in.Name
	if err := s.requireAdmin(ctx, c, ev); err != nil {
		return nil, err
	}
	if err := validateLabel("principal", in.Name); err != nil {
		return nil, err
	}
	if in.Kind != "user" && in.Kind != "service" {
		return nil, coffer.Errorf(coffer.EINVALID, "principal kind must be user or service")
	}
	p := &coffer.Principal{ID: coffer.NewID(), AccountID: c.AccountID, Name: in.Name, Kind: in.Kind, CreatedAt: s.now().UTC()}
	s.bind(ctx, p)
	if err := s.storage.CreatePrincipal(ctx, p, ev); err != nil {
		return nil, err
	}
	return p, nil
}

// Principals implements coffer.AccountService.
func (s *Service) Principals(ctx context.Context) ([]*coffer.Principal, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Admin {
		return nil, coffer.Errorf(coffer.EFORBIDDEN, "this action needs an admin API key")
	}
	return s.storage.Principals(ctx, c.AccountID)
}
