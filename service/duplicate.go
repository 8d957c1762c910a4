package service

import (
	"context"
	"errors"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
)

var _ coffer.SecretDuplicator = (*Service)(nil)

// DuplicateSecret implements coffer.SecretDuplicator. The value is opened
// and sealed again for the new secret inside the service: it never leaves
// it. One audit event, secret.duplicate, records the new secret and names
// the source in its reason.
func (s *Service) DuplicateSecret(ctx context.Context, storeRef, ref string, in *coffer.SecretDuplicate) (*coffer.Secret, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	comment := ""
	if in.Comment != nil {
		comment = *in.Comment
	}
	if err := coffer.ValidateNewSecretName(in.Name); err != nil {
		return nil, err
	} else if err := coffer.ValidateMeta(comment, nil, in.Scopes); err != nil {
		return nil, err
	} else if err := validateAttributes(in.Attributes); err != nil {
		return nil, err
	}
	ev := s.event(c, "secret.duplicate")
	st, src, err := s.secret(ctx, c, storeRef, ref, coffer.ActionReveal, ev)
	if err != nil {
		return nil, err
	}
	if src.Status == coffer.StatusDeleted {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "secret not found")
	} else if src.Status == coffer.StatusPending {
		return nil, coffer.Errorf(coffer.ECONFLICT, "secret %s has no value to duplicate", src.Name)
	} else if src.Expired(s.now()) {
		return nil, errExpired(src)
	}
	from := ev.Reason
	ev.SecretID, ev.Name = "", in.Name
	if err := s.authorize(ctx, c, coffer.ActionWrite, st, in.Name, ev); err != nil {
		return nil, err
	}
	ev.Reason = "reveal " + from + "; write " + ev.Reason + "; from secret " + src.ID
	old, v, err := s.storage.ReadVersion(ctx, c.AccountID, st.ID, src.ID, 0)
	if err != nil {
		return nil, err
	} else if v.Deleted(s.now()) {
		return nil, errVersionDeleted(old, v)
	}
	plain, err := s.open(ctx, old, v)
	if err != nil {
		return nil, err
	}
	defer envelope.Zero(plain)
	seal, err := s.sealer(ctx, st, plain)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	create := &coffer.Secret{
		ID: coffer.NewID(), AccountID: c.AccountID, StoreID: st.ID, Name: in.Name, Comment: src.Comment,
		Labels: src.Labels, Scopes: in.Scopes, Attributes: in.Attributes, ExpiresAt: src.ExpiresAt, Origin: c.Face,
		CreatedAt: now, UpdatedAt: now, CreatedBy: c.PrincipalID,
	}
	if in.Comment != nil {
		create.Comment = *in.Comment
	}
	w := &coffer.SecretWrite{
		AccountID: c.AccountID, StoreID: st.ID, Name: in.Name, Create: create, CreateOnly: true,
		Seal: seal, By: c.PrincipalID, At: now,
	}
	if in.MaxLiveSecrets <= 0 {
		return s.storage.WriteSecret(ctx, w, ev)
	}
	out, err := s.storage.WriteSecrets(ctx, &coffer.SecretBatch{AccountID: c.AccountID, StoreID: st.ID,
		MaxLiveSecrets: in.MaxLiveSecrets, Items: []coffer.SecretBatchItem{{Write: w, Event: ev}}})
	var ie *coffer.BatchItemError
	if errors.As(err, &ie) {
		return nil, ie.Err // the one item's error is the call's
	} else if err != nil {
		return nil, err
	}
	return out[0], nil
}
