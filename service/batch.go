package service

import (
	"context"
	"errors"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
)

var _ coffer.SecretBatcher = (*Service)(nil)

// PutSecrets implements coffer.SecretBatcher.
func (s *Service) PutSecrets(ctx context.Context, storeRef string, in *coffer.SecretBatchPut) ([]*coffer.Secret, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := validateBatch(in); err != nil {
		return nil, err
	}
	st, err := s.storage.Store(ctx, c.AccountID, storeRef)
	if err != nil {
		return nil, err
	}
	b := &coffer.SecretBatch{AccountID: c.AccountID, StoreID: st.ID, MaxLiveSecrets: in.MaxLiveSecrets}
	if err := s.authorizePuts(ctx, c, st, in.Puts, b); err != nil {
		return nil, err
	}
	for _, ref := range in.Deletes {
		ev := s.event(c, "secret.delete")
		_, sec, err := s.secret(ctx, c, st.ID, ref, coffer.ActionDelete, ev)
		if coffer.ErrorCode(err) == coffer.ENOTFOUND || err == nil && sec.Status == coffer.StatusDeleted {
			continue // gone already
		} else if err != nil {
			return nil, err
		}
		ev.Version = sec.Version
		deleted := coffer.StatusDeleted
		b.Items = append(b.Items, coffer.SecretBatchItem{SecretID: sec.ID, Update: &coffer.SecretUpdate{Status: &deleted, At: s.now().UTC()}, Event: ev})
	}
	if len(b.Items) == 0 {
		return nil, nil
	}
	for i, put := range in.Puts {
		seal, err := s.sealer(ctx, st, put.Value)
		if err != nil {
			return nil, err
		}
		b.Items[i].Write = s.secretWrite(c, st, put, seal)
	}
	return s.writeBatch(ctx, b, in)
}

// CreateStoreWithSecrets implements coffer.SecretBatcher.
func (s *Service) CreateStoreWithSecrets(ctx context.Context, sc *coffer.StoreCreate, in *coffer.SecretBatchPut) (*coffer.Store, []*coffer.Secret, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	if len(in.Deletes) > 0 {
		return nil, nil, coffer.Errorf(coffer.EINVALID, "a new store has no secrets to delete")
	}
	st, ev, err := s.newStore(c, sc)
	if err != nil {
		return nil, nil, err
	}
	if err := validateBatch(in); err != nil {
		return nil, nil, err
	}
	b := &coffer.SecretBatch{AccountID: c.AccountID, StoreID: st.ID, Store: st, StoreEvent: ev, MaxLiveSecrets: in.MaxLiveSecrets}
	// The store has no id yet for its scopes: a scope can name it only by
	// its name.
	if err := s.authorizePuts(ctx, c, &coffer.Store{AccountID: st.AccountID, Name: st.Name}, in.Puts, b); err != nil {
		return nil, nil, err
	}
	if err := s.authorize(ctx, c, coffer.ActionAdmin, st, "", ev); err != nil {
		return nil, nil, err
	}
	ev.StoreID = st.ID
	dek := envelope.GenerateKey()
	defer envelope.Zero(dek)
	if b.StoreKey, err = s.wrapStoreKey(st, dek); err != nil {
		return nil, nil, err
	}
	ci, err := envelope.NewCipher(uint32(st.KeyID), dek)
	if err != nil {
		return nil, nil, err
	}
	for i, put := range in.Puts {
		b.Items[i].Write = s.secretWrite(c, st, put, func(sec *coffer.Secret, version int) ([]byte, int, error) {
			return ci.Seal(put.Value, valueAAD(sec, version)), st.KeyID, nil
		})
		b.Items[i].Event.StoreID = st.ID
	}
	out, err := s.writeBatch(ctx, b, in)
	if err != nil {
		return nil, nil, err
	}
	return st, out, nil
}

// validateBatch checks the input of a batch: at least one item, at most
// MaxPageSize of each kind, each put as PutSecret checks it.
func validateBatch(in *coffer.SecretBatchPut) error {
	switch {
	case len(in.Puts)+len(in.Deletes) == 0:
		return coffer.Errorf(coffer.EINVALID, "a batch needs at least one secret")
	case len(in.Puts) > coffer.MaxPageSize || len(in.Deletes) > coffer.MaxPageSize:
		return coffer.Errorf(coffer.EINVALID, "a batch holds at most %d writes and %d deletes", coffer.MaxPageSize, coffer.MaxPageSize)
	case in.MaxLiveSecrets < 0:
		return coffer.Errorf(coffer.EINVALID, "the secret limit must not be negative")
	}
	for i, put := range in.Puts {
		if err := validatePut(put); err != nil {
			return &coffer.BatchItemError{Index: i, Err: err}
		}
	}
	return nil
}

// authorizePuts checks ActionWrite on every put's name in st, auditing the
// first refusal, and adds an item with its event to b for each.
func (s *Service) authorizePuts(ctx context.Context, c *coffer.Caller, st *coffer.Store, puts []*coffer.SecretPut, b *coffer.SecretBatch) error {
	for _, put := range puts {
		ev := s.event(c, putAction(put))
		ev.Name, ev.StoreID = put.Name, st.ID
		if err := s.authorize(ctx, c, coffer.ActionWrite, st, put.Name, ev); err != nil {
			return err
		}
		putReason(ev, put)
		b.Items = append(b.Items, coffer.SecretBatchItem{Event: ev})
	}
	return nil
}

// writeBatch writes b and explains the failure of a put to a name of an
// id's shape.
func (s *Service) writeBatch(ctx context.Context, b *coffer.SecretBatch, in *coffer.SecretBatchPut) ([]*coffer.Secret, error) {
	out, err := s.storage.WriteSecrets(ctx, b)
	var ie *coffer.BatchItemError
	if errors.As(err, &ie) && ie.Index < len(in.Puts) {
		if e := idShapedErr(in.Puts[ie.Index].Name, ie.Err); e != ie.Err {
			return nil, &coffer.BatchItemError{Index: ie.Index, Err: e}
		}
	}
	return out, err
}

// CreateStores implements coffer.SecretBatcher.
func (s *Service) CreateStores(ctx context.Context, in []*coffer.StoreCreate, maxStores int) ([]*coffer.Store, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case len(in) == 0:
		return nil, coffer.Errorf(coffer.EINVALID, "a batch needs at least one store")
	case len(in) > coffer.MaxPageSize:
		return nil, coffer.Errorf(coffer.EINVALID, "a batch holds at most %d stores", coffer.MaxPageSize)
	case maxStores < 0:
		return nil, coffer.Errorf(coffer.EINVALID, "the store limit must not be negative")
	}
	b := &coffer.StoreBatch{AccountID: c.AccountID, MaxStores: maxStores, Items: make([]coffer.StoreBatchItem, len(in))}
	out := make([]*coffer.Store, len(in))
	for i, sc := range in {
		st, ev, err := s.newStore(c, sc)
		if err != nil {
			return nil, &coffer.BatchItemError{Index: i, Err: err}
		}
		if err := s.authorize(ctx, c, coffer.ActionAdmin, st, "", ev); err != nil {
			return nil, err
		}
		ev.StoreID = st.ID
		b.Items[i], out[i] = coffer.StoreBatchItem{Store: st, Event: ev}, st
	}
	for i := range b.Items {
		dek := envelope.GenerateKey()
		b.Items[i].Key, err = s.wrapStoreKey(b.Items[i].Store, dek)
		envelope.Zero(dek)
		if err != nil {
			return nil, err
		}
	}
	if err := s.storage.CreateStores(ctx, b); err != nil {
		return nil, err
	}
	return out, nil
}
