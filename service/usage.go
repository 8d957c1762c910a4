package service

import (
	"context"

	"github.com/coffer-dev/coffer"
)

var _ coffer.UsageCounter = (*Service)(nil)

// Usage implements coffer.UsageCounter. It pages through the account's
// stores and, for each, its live secrets, straight from storage: the
// caller's scopes filter nothing, and only the counts leave. A store's
// count is kept while its Gen is unchanged, so counting again after a write
// to one store lists that store only.
func (s *Service) Usage(ctx context.Context) (*coffer.Usage, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var u coffer.Usage
	after := ""
	for {
		stores, err := s.storage.Stores(ctx, c.AccountID, after, coffer.MaxPageSize)
		if err != nil {
			return nil, err
		}
		for _, st := range stores {
			n, err := s.liveSecrets(ctx, st)
			if err != nil {
				return nil, err
			}
			u.Stores++
			u.Secrets += n
		}
		if len(stores) < coffer.MaxPageSize {
			return &u, nil
		}
		after = stores[len(stores)-1].Name
	}
}

// liveSecrets counts the live secrets of a store. A store deleted since it
// was listed counts none.
func (s *Service) liveSecrets(ctx context.Context, st *coffer.Store) (int, error) {
	if n, ok := s.counts.get(st.ID, st.Gen); ok {
		return n, nil
	}
	n, err := s.storage.CountSecrets(ctx, st.AccountID, st.ID, coffer.SecretQuery{})
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	s.counts.put(st.ID, st.Gen, n)
	return n, nil
}
