package service

import (
	"bytes"
	"context"

	"github.com/coffer-dev/coffer"
)

// SameValues implements coffer.SecretBatcher. It decides which secrets the
// caller may have compared (ActionReveal on the real name of each), then
// reads those through RevealMany, which checks and audits every one as any
// reveal is.
func (s *Service) SameValues(ctx context.Context, storeRef string, values map[string][]byte) (map[string]bool, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.storage.Store(ctx, c.AccountID, storeRef)
	if err != nil {
		return nil, err
	}
	same := make(map[string]bool, len(values))
	var ids []string
	idOf := map[string]string{} // real name → id
	for id := range values {
		if !coffer.IsID(id) {
			continue
		}
		sec, err := s.storage.Secret(ctx, c.AccountID, st.ID, id)
		if coffer.ErrorCode(err) == coffer.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		if sec.ID != id || sec.Status == coffer.StatusDeleted || sec.Version == 0 {
			continue
		}
		if ok, _ := c.Allows(coffer.ActionReveal, st.ID, st.Name, sec.Name); !ok {
			continue // comparing would tell the value
		}
		ids = append(ids, id)
		idOf[sec.Name] = id
	}
	for len(ids) > 0 {
		n := min(len(ids), coffer.MaxPageSize)
		page, err := s.RevealMany(ctx, st.ID, &coffer.RevealQuery{Names: ids[:n]})
		if coffer.ErrorCode(err) == coffer.EFORBIDDEN {
			return same, nil // refused after all (audited): the rest is written
		} else if err != nil {
			return nil, err
		}
		for _, v := range page.Values {
			if id, ok := idOf[v.Name]; ok {
				same[id] = bytes.Equal(v.Data, values[id])
			}
		}
		ids = ids[n:]
	}
	return same, nil
}
