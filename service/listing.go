package service

import (
	"context"

	"github.com/coffer-dev/coffer"
)

// maxOffset bounds ListSecrets.Offset.
const maxOffset = 1 << 30

// validateListing checks the ordering, filter and offset of a listing.
func validateListing(q coffer.ListSecrets) error {
	switch {
	case !q.Order.Valid():
		return coffer.Errorf(coffer.EINVALID, "unknown order %q", q.Order)
	case q.Offset < 0 || q.Offset > maxOffset:
		return coffer.Errorf(coffer.EINVALID, "offset must be between 0 and %d", maxOffset)
	case q.Offset > 0 && q.Cursor != "":
		return coffer.Errorf(coffer.EINVALID, "a listing pages by cursor or by offset, not both")
	case q.Cursor != "" && q.Order != coffer.OrderName:
		return coffer.Errorf(coffer.EINVALID, "a cursor pages only a listing by name")
	case len(q.Contains) > coffer.MaxNameLen:
		return coffer.Errorf(coffer.EINVALID, "contains is longer than %d characters", coffer.MaxNameLen)
	}
	return nil
}

// listing answers a listing with an order, a direction, an offset, a
// substring or a total. A caller who may list every secret of the store
// has storage do it all; for any other, the store's matching secrets are
// read in order and those the caller's scopes show are counted and paged,
// so that offsets and the total count only what the caller may list.
func (s *Service) listing(ctx context.Context, c *coffer.Caller, st *coffer.Store, q coffer.ListSecrets, limit int, after []string, all bool) (*coffer.SecretPage, error) {
	sq := coffer.SecretQuery{
		Prefix: q.Prefix, IncludeDeleted: q.IncludeDeleted, Contains: q.Contains, Order: q.Order, Desc: q.Desc,
		AfterName: after[0], AfterID: after[1],
	}
	page := &coffer.SecretPage{}
	if all {
		sq.Limit, sq.Offset = limit+1, q.Offset
		secrets, err := s.storage.Secrets(ctx, c.AccountID, st.ID, sq)
		if err != nil {
			return nil, err
		}
		page.Secrets = secrets
		if len(secrets) > limit {
			page.Secrets = secrets[:limit]
			page.NextCursor = nextCursor(q, page.Secrets)
		}
		if q.Total {
			if page.Total, err = s.storage.CountSecrets(ctx, c.AccountID, st.ID, sq); err != nil {
				return nil, err
			}
		}
		if page.Secrets == nil {
			page.Secrets = []*coffer.Secret{}
		}
		return page, nil
	}
	page.Secrets = make([]*coffer.Secret, 0, min(limit, 64))
	sq.Limit = coffer.MaxPageSize
	visible, more := 0, false
	for {
		secrets, err := s.storage.Secrets(ctx, c.AccountID, st.ID, sq)
		if err != nil {
			return nil, err
		}
		for _, sec := range secrets {
			if ok, _ := c.Allows(coffer.ActionList, st.ID, st.Name, sec.Name); !ok {
				continue
			}
			switch {
			case visible < q.Offset:
			case len(page.Secrets) < limit:
				page.Secrets = append(page.Secrets, sec)
			default:
				more = true
			}
			visible++
		}
		if len(secrets) < sq.Limit || more && !q.Total {
			break
		}
		if q.Order == coffer.OrderName {
			last := secrets[len(secrets)-1]
			sq.AfterName, sq.AfterID = last.Name, last.ID
		} else {
			sq.Offset += len(secrets)
		}
	}
	if more {
		page.NextCursor = nextCursor(q, page.Secrets)
	}
	if q.Total {
		page.Total = visible
	}
	return page, nil
}

// nextCursor is the cursor after the last of a page, for a listing by name.
func nextCursor(q coffer.ListSecrets, secrets []*coffer.Secret) string {
	if q.Order != coffer.OrderName || len(secrets) == 0 {
		return ""
	}
	last := secrets[len(secrets)-1]
	return encodeCursor(last.Name, last.ID)
}

var _ coffer.StoreLister = (*Service)(nil)

// ListStores implements coffer.StoreLister. An admin caller has storage
// do it all; for any other, the matching stores are read in order and
// those its scopes show are counted and paged.
func (s *Service) ListStores(ctx context.Context, q coffer.ListStores) (*coffer.StorePage, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return nil, err
	}
	switch {
	case !q.Order.Valid():
		return nil, coffer.Errorf(coffer.EINVALID, "unknown order %q", q.Order)
	case q.Offset < 0 || q.Offset > maxOffset:
		return nil, coffer.Errorf(coffer.EINVALID, "offset must be between 0 and %d", maxOffset)
	case len(q.Contains) > coffer.MaxNameLen || len(q.Name) > coffer.MaxNameLen:
		return nil, coffer.Errorf(coffer.EINVALID, "a store name is at most %d characters", coffer.MaxNameLen)
	}
	sq := coffer.StoreQuery{Name: q.Name, Contains: q.Contains, Order: q.Order, Desc: q.Desc}
	page := &coffer.StorePage{Stores: []*coffer.Store{}}
	if c.Admin {
		sq.Offset, sq.Limit = q.Offset, limit
		stores, err := s.storage.ListStores(ctx, c.AccountID, sq)
		if err != nil {
			return nil, err
		}
		page.Stores = append(page.Stores, stores...)
		if q.Total {
			if page.Total, err = s.storage.CountStores(ctx, c.AccountID, sq); err != nil {
				return nil, err
			}
		}
		return page, nil
	}
	sq.Limit = coffer.MaxPageSize
	visible := 0
	for {
		stores, err := s.storage.ListStores(ctx, c.AccountID, sq)
		if err != nil {
			return nil, err
		}
		for _, st := range stores {
			if ok, _ := c.Allows(coffer.ActionList, st.ID, st.Name, ""); !ok {
				continue
			}
			if visible >= q.Offset && len(page.Stores) < limit {
				page.Stores = append(page.Stores, st)
			}
			visible++
		}
		if len(stores) < sq.Limit || !q.Total && len(page.Stores) == limit {
			break
		}
		sq.Offset += len(stores)
	}
	if q.Total {
		page.Total = visible
	}
	return page, nil
}
