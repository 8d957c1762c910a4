package service

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
)

const defaultPageSize = 100

func pageLimit(n int) (int, error) {
	switch {
	case n == 0:
		return defaultPageSize, nil
	case n < 0 || n > coffer.MaxPageSize:
		return 0, coffer.Errorf(coffer.EINVALID, "limit must be between 1 and %d", coffer.MaxPageSize)
	}
	return n, nil
}

// Cursors are opaque to callers: base64url of the last item's sort key.
func encodeCursor(parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "\x00")))
}

func decodeCursor(c string, n int) ([]string, error) {
	if c == "" {
		return make([]string, n), nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	parts := strings.Split(string(b), "\x00")
	if err != nil || len(parts) != n {
		return nil, coffer.Errorf(coffer.EINVALID, "cursor is not one this server made")
	}
	return parts, nil
}

// CreateStore implements coffer.SecretService.
func (s *Service) CreateStore(ctx context.Context, in *coffer.StoreCreate) (*coffer.Store, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	st, ev, err := s.newStore(c, in)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, c, coffer.ActionAdmin, st, "", ev); err != nil {
		return nil, err
	}
	dek := envelope.GenerateKey()
	defer envelope.Zero(dek)
	wrapped, err := s.wrapStoreKey(st, dek)
	if err != nil {
		return nil, err
	}
	ev.StoreID = st.ID
	if err := s.storage.CreateStore(ctx, st, wrapped, ev); err != nil {
		return nil, err
	}
	return st, nil
}

// newStore checks in and returns the store it creates, with its event.
func (s *Service) newStore(c *coffer.Caller, in *coffer.StoreCreate) (*coffer.Store, *coffer.AuditEvent, error) {
	ev := s.event(c, "store.create")
	ev.Name = in.Name
	if err := coffer.ValidateName("store", in.Name); err != nil {
		return nil, nil, err
	} else if err := coffer.ValidateMeta(in.Comment, nil, nil); err != nil {
		return nil, nil, err
	} else if err := validateAttributes(in.Attributes); err != nil {
		return nil, nil, err
	}
	now := s.now().UTC()
	st := &coffer.Store{ID: coffer.NewID(), AccountID: c.AccountID, Name: in.Name, Comment: in.Comment, Attributes: in.Attributes, KeyID: 1, CreatedAt: now, UpdatedAt: now}
	return st, ev, nil
}

// wrapStoreKey wraps the data key of a new store with the master key.
func (s *Service) wrapStoreKey(st *coffer.Store, dek []byte) ([]byte, error) {
	wrapped, err := s.keyring.Wrap(dek, storeKeyAAD(st.AccountID, st.ID, st.KeyID))
	if err != nil {
		return nil, fmt.Errorf("seal store key: %w", err)
	}
	return wrapped, nil
}

// store resolves a store ref and checks that the caller may do action on it
// (or on the named secret in it).
func (s *Service) store(ctx context.Context, c *coffer.Caller, ref string, action coffer.Action, secret string, ev *coffer.AuditEvent) (*coffer.Store, error) {
	st, err := s.storage.Store(ctx, c.AccountID, ref)
	if err != nil {
		return nil, err
	}
	ev.StoreID = st.ID
	if err := s.authorize(ctx, c, action, st, secret, ev); err != nil {
		return nil, err
	}
	return st, nil
}

// Store implements coffer.SecretService.
func (s *Service) Store(ctx context.Context, ref string) (*coffer.Store, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	return s.store(ctx, c, ref, coffer.ActionList, "", s.event(c, "store.read"))
}

// Stores implements coffer.SecretService. Keys limited to some stores see
// only those.
func (s *Service) Stores(ctx context.Context, p coffer.Page) (*coffer.StorePage, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := pageLimit(p.Limit)
	if err != nil {
		return nil, err
	}
	after, err := decodeCursor(p.Cursor, 1)
	if err != nil {
		return nil, err
	}
	// One more than asked tells whether another page follows.
	stores, err := s.storage.Stores(ctx, c.AccountID, after[0], limit+1)
	if err != nil {
		return nil, err
	}
	page := &coffer.StorePage{Stores: make([]*coffer.Store, 0, len(stores))}
	if len(stores) > limit {
		stores = stores[:limit]
		page.NextCursor = encodeCursor(stores[limit-1].Name)
	}
	for _, st := range stores {
		if ok, _ := c.Allows(coffer.ActionList, st.ID, st.Name, ""); ok {
			page.Stores = append(page.Stores, st)
		}
	}
	return page, nil
}

// UpdateStore implements coffer.SecretService.
func (s *Service) UpdateStore(ctx context.Context, ref string, in *coffer.StoreUpdate) (*coffer.Store, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	comment := ""
	if in.Comment != nil {
		comment = *in.Comment
	}
	if err := coffer.ValidateMeta(comment, nil, nil); err != nil {
		return nil, err
	} else if err := validateAttributes(in.Attributes); err != nil {
		return nil, err
	}
	ev := s.event(c, "store.update")
	st, err := s.store(ctx, c, ref, coffer.ActionAdmin, "", ev)
	if err != nil {
		return nil, err
	}
	ev.Name = st.Name
	u := *in
	u.At = s.now().UTC()
	return s.storage.UpdateStore(ctx, c.AccountID, st.ID, &u, ev)
}

// DeleteStore implements coffer.SecretService.
func (s *Service) DeleteStore(ctx context.Context, ref string, force bool) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	ev := s.event(c, "store.delete")
	st, err := s.store(ctx, c, ref, coffer.ActionAdmin, "", ev)
	if err != nil {
		return err
	}
	ev.Name = st.Name
	if force {
		ev.Reason += "; force"
	}
	return s.storage.DeleteStore(ctx, c.AccountID, st.ID, force, ev)
}

// PutSecret implements coffer.SecretService.
func (s *Service) PutSecret(ctx context.Context, storeRef string, in *coffer.SecretPut) (*coffer.Secret, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := validatePut(in); err != nil {
		return nil, err
	}
	ev := s.event(c, putAction(in))
	ev.Name = in.Name
	st, err := s.store(ctx, c, storeRef, coffer.ActionWrite, in.Name, ev)
	if err != nil {
		return nil, err
	}
	putReason(ev, in)
	return s.write(ctx, c, st, in, ev)
}

// putAction is the audit action of a put: a create without a value
// (NoValue) or a write.
func putAction(in *coffer.SecretPut) string {
	if in.NoValue {
		return "secret.create"
	}
	return "secret.write"
}

// putReason adds to the reason of a put's event what else the write does:
// the versions it keeps (older ones are destroyed) and the deletion it
// schedules.
func putReason(ev *coffer.AuditEvent, in *coffer.SecretPut) {
	if in.NoValue {
		return
	}
	if in.KeepVersions > 0 {
		ev.Reason += "; keep " + strconv.Itoa(in.KeepVersions) + " versions"
	}
	if in.DeleteVersionAfter > 0 {
		ev.Reason += "; delete version after " + in.DeleteVersionAfter.String()
	}
}

// maxDeleteVersionAfter bounds SecretPut.DeleteVersionAfter: storage keeps
// times as Unix nanoseconds, which end in 2262.
const maxDeleteVersionAfter = 100 * 365 * 24 * time.Hour

// validatePut checks the input of a write.
func validatePut(in *coffer.SecretPut) error {
	if err := coffer.ValidateName("secret", in.Name); err != nil {
		return err
	} else if err := coffer.ValidateValue(in.Value); err != nil {
		return err
	}
	comment := ""
	if in.Comment != nil {
		comment = *in.Comment
	}
	if err := coffer.ValidateMeta(comment, in.Labels, in.Scopes); err != nil {
		return err
	} else if err := validateAttributes(in.Attributes); err != nil {
		return err
	} else if in.ID != "" && !coffer.IsID(in.ID) {
		return coffer.Errorf(coffer.EINVALID, "secret id must be 32 lowercase hex digits")
	}
	switch {
	case in.NoValue && len(in.Value) > 0:
		return coffer.Errorf(coffer.EINVALID, "a secret created without a value takes no value")
	case in.NoValue && coffer.IDShaped(in.Name):
		return coffer.ValidateNewSecretName(in.Name) // it only creates
	case in.KeepVersions < 0:
		return coffer.Errorf(coffer.EINVALID, "the number of versions to keep must not be negative")
	case in.DeleteVersionAfter < 0 || in.DeleteVersionAfter > maxDeleteVersionAfter:
		return coffer.Errorf(coffer.EINVALID, "the time after which a version is deleted must be between 0 and %s", maxDeleteVersionAfter)
	}
	return coffer.ValidateExpiry(in.ExpiresAt)
}

// validateAttributes checks face-specific metadata (coffer.ValidateAttributes).
func validateAttributes(attrs map[string]string) error {
	if err := coffer.ValidateAttributes(attrs); err != nil {
		return coffer.Errorf(coffer.EINVALID, "attributes: %s", coffer.ErrorMessage(err))
	}
	return nil
}

// write adds a version holding in.Value, creating the secret when missing.
func (s *Service) write(ctx context.Context, c *coffer.Caller, st *coffer.Store, in *coffer.SecretPut, ev *coffer.AuditEvent) (*coffer.Secret, error) {
	seal, err := s.sealer(ctx, st, in.Value)
	if err != nil {
		return nil, err
	}
	sec, err := s.storage.WriteSecret(ctx, s.secretWrite(c, st, in, seal), ev)
	return sec, idShapedErr(in.Name, err)
}

// secretWrite is the storage write of in, whose value seal seals.
func (s *Service) secretWrite(c *coffer.Caller, st *coffer.Store, in *coffer.SecretPut, seal coffer.SealFunc) *coffer.SecretWrite {
	now := s.now().UTC()
	id := in.ID
	if id == "" {
		id = coffer.NewID()
	}
	create := &coffer.Secret{
		ID: id, AccountID: c.AccountID, StoreID: st.ID, Name: in.Name, Labels: in.Labels,
		Scopes: in.Scopes, Attributes: in.Attributes, Origin: c.Face, CreatedAt: now, UpdatedAt: now, CreatedBy: c.PrincipalID,
	}
	if in.Comment != nil {
		create.Comment = *in.Comment
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.IsZero() {
		create.ExpiresAt = in.ExpiresAt
	}
	w := &coffer.SecretWrite{
		AccountID: c.AccountID, StoreID: st.ID, Name: in.Name, Create: create,
		IfVersion: in.IfVersion, Seal: seal, By: c.PrincipalID, At: now, KeepVersions: in.KeepVersions,
	}
	if in.DeleteVersionAfter > 0 {
		at := now.Add(in.DeleteVersionAfter)
		w.DeleteAt = &at
	}
	if in.NoValue {
		// A pending secret: created, never written to (a live one of the
		// name is ECONFLICT).
		w.Seal, w.CreateOnly = nil, true
	}
	// A name with the shape of an id is never created, so that it cannot
	// be mistaken for an id; a legacy secret of that name, made before
	// this rule, still takes new versions (see idShapedErr).
	if coffer.IDShaped(in.Name) {
		w.Create = nil
	}
	if in.Comment != nil || in.Labels != nil || in.Scopes != nil || in.ExpiresAt != nil || in.ReplaceAttributes {
		w.Update = &coffer.SecretUpdate{Comment: in.Comment, Labels: in.Labels, Scopes: in.Scopes, ExpiresAt: in.ExpiresAt, At: now}
		if in.ReplaceAttributes {
			w.Update.Attributes = in.Attributes
			if w.Update.Attributes == nil {
				w.Update.Attributes = map[string]string{}
			}
		}
	}
	return w
}

// idShapedErr turns the ENOTFOUND of a write to a name of an id's shape,
// which only a legacy secret may have, into the reason it is refused.
func idShapedErr(name string, err error) error {
	if coffer.ErrorCode(err) == coffer.ENOTFOUND && coffer.IDShaped(name) {
		return coffer.ValidateNewSecretName(name)
	}
	return err
}

// secret resolves store and secret refs and checks action on them: on the
// resolved secret's real name, whatever the ref was. A ref resolves as
// storage resolves it (an id first, else a name; see coffer.Storage.Secret),
// which depends on the ref alone, so the cache keyed by ref cannot mix an
// id's lookup with a name's.
func (s *Service) secret(ctx context.Context, c *coffer.Caller, storeRef, ref string, action coffer.Action, ev *coffer.AuditEvent) (*coffer.Store, *coffer.Secret, error) {
	st, err := s.storage.Store(ctx, c.AccountID, storeRef)
	if err != nil {
		return nil, nil, err
	}
	ev.StoreID = st.ID
	key := secretKey{st.ID, ref}
	sec, ok := s.secrets.get(key, st.Gen)
	if !ok {
		if sec, err = s.storage.Secret(ctx, c.AccountID, st.ID, ref); err != nil {
			return nil, nil, err
		}
		s.secrets.put(key, st.Gen, sec)
	}
	// Cached secrets are shared: callers get their own copy (whose maps
	// they must not change).
	cp := *sec
	sec = &cp
	ev.SecretID, ev.Name = sec.ID, sec.Name
	if err := s.authorize(ctx, c, action, st, sec.Name, ev); err != nil {
		return nil, nil, err
	}
	return st, sec, nil
}

// Secret implements coffer.SecretService.
func (s *Service) Secret(ctx context.Context, storeRef, ref string) (*coffer.Secret, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	_, sec, err := s.secret(ctx, c, storeRef, ref, coffer.ActionRead, s.event(c, "secret.read"))
	return sec, err
}

// SecretByID implements coffer.SecretService. A secret the caller may not
// read is refused as Secret refuses it, naming its store only in the audit
// record.
func (s *Service) SecretByID(ctx context.Context, id string) (*coffer.Secret, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	storeID, ok := s.homes.get(id)
	if !ok {
		found, err := s.storage.SecretByID(ctx, c.AccountID, id)
		if err != nil {
			return nil, err
		}
		storeID = found.StoreID
		s.homes.put(id, storeID)
	}
	_, sec, err := s.secret(ctx, c, storeID, id, coffer.ActionRead, s.event(c, "secret.read"))
	if err == nil && sec.ID != id {
		// A live secret of that store is named like the id: not the one asked for.
		sec, err = nil, coffer.Errorf(coffer.ENOTFOUND, "secret not found")
	}
	return sec, err
}

// Secrets implements coffer.SecretService. Keys limited to some secrets see
// only those.
func (s *Service) Secrets(ctx context.Context, storeRef string, q coffer.ListSecrets) (*coffer.SecretPage, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return nil, err
	}
	after, err := decodeCursor(q.Cursor, 2)
	if err != nil {
		return nil, err
	}
	if len(q.Prefix) > coffer.MaxNameLen {
		return nil, coffer.Errorf(coffer.EINVALID, "prefix is longer than %d characters", coffer.MaxNameLen)
	}
	if err := validateListing(q); err != nil {
		return nil, err
	}
	st, err := s.store(ctx, c, storeRef, coffer.ActionList, "", s.event(c, "secret.list"))
	if err != nil {
		return nil, err
	}
	// Callers who may list every secret of the store share cached pages;
	// others get a page filtered to what their scopes show.
	all := c.AllowsEvery(coffer.ActionList, st.ID, st.Name)
	key := listKey{st.ID, q.Prefix, q.Cursor, limit, q.IncludeDeleted, q.Order, q.Desc, q.Offset, q.Contains, q.Total}
	if all {
		if page, ok := s.lists.get(key, st.Gen); ok {
			return page, nil
		}
	}
	if q.Order != coffer.OrderName || q.Desc || q.Offset > 0 || q.Contains != "" || q.Total {
		page, err := s.listing(ctx, c, st, q, limit, after, all)
		if err == nil && all {
			s.lists.put(key, st.Gen, page)
		}
		return page, err
	}
	secrets, err := s.storage.Secrets(ctx, c.AccountID, st.ID, coffer.SecretQuery{
		Prefix: q.Prefix, AfterName: after[0], AfterID: after[1], Limit: limit + 1, IncludeDeleted: q.IncludeDeleted,
	})
	if err != nil {
		return nil, err
	}
	page := &coffer.SecretPage{Secrets: secrets}
	if len(secrets) > limit {
		secrets = secrets[:limit]
		page.Secrets = secrets
		last := secrets[limit-1]
		page.NextCursor = encodeCursor(last.Name, last.ID)
	}
	if all {
		s.lists.put(key, st.Gen, page)
		return page, nil
	}
	filtered := make([]*coffer.Secret, 0, len(secrets))
	for _, sec := range secrets {
		if ok, _ := c.Allows(coffer.ActionList, st.ID, st.Name, sec.Name); ok {
			filtered = append(filtered, sec)
		}
	}
	return &coffer.SecretPage{Secrets: filtered, NextCursor: page.NextCursor}, nil
}

// UpdateSecret implements coffer.SecretService.
func (s *Service) UpdateSecret(ctx context.Context, storeRef, ref string, in *coffer.SecretPatch) (*coffer.Secret, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	comment := ""
	if in.Comment != nil {
		comment = *in.Comment
	}
	if err := coffer.ValidateMeta(comment, in.Labels, in.Scopes); err != nil {
		return nil, err
	} else if err := coffer.ValidateExpiry(in.ExpiresAt); err != nil {
		return nil, err
	} else if err := validateAttributes(in.Attributes); err != nil {
		return nil, err
	}
	ev := s.event(c, "secret.update")
	_, sec, err := s.secret(ctx, c, storeRef, ref, coffer.ActionWrite, ev)
	if err != nil {
		return nil, err
	}
	ev.Version = sec.Version
	// Attributes merge into the stored ones inside the write (the shared
	// rule coffer.Secret.ApplyUpdate), not into sec, which may be stale:
	// concurrent merges of different keys all take effect.
	u := &coffer.SecretUpdate{Comment: in.Comment, Labels: in.Labels, Scopes: in.Scopes, ExpiresAt: in.ExpiresAt,
		MergeAttributes: in.Attributes, IfVersion: in.IfVersion, At: s.now().UTC()}
	return s.storage.UpdateSecret(ctx, c.AccountID, sec.ID, u, ev)
}

// Reveal implements coffer.SecretService. It is the hot path: one storage
// read, a cached data key, and an audit event that is durable before the
// value is returned. The secret's expiry comes with that read: an expired
// secret is refused (ECONFLICT), and the refusal audited, without another
// query.
func (s *Service) Reveal(ctx context.Context, storeRef, ref string, version int) (*coffer.Value, error) {
	r, err := s.reveal(ctx, storeRef, ref, version, false)
	if err != nil {
		return nil, err
	}
	return r.Value, nil
}

var _ coffer.DetailRevealer = (*Service)(nil)

// RevealDetail implements coffer.DetailRevealer.
func (s *Service) RevealDetail(ctx context.Context, storeRef, ref string, version int) (*coffer.Revealed, error) {
	return s.reveal(ctx, storeRef, ref, version, true)
}

// reveal is Reveal, and with detail RevealDetail.
func (s *Service) reveal(ctx context.Context, storeRef, ref string, version int, detail bool) (*coffer.Revealed, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if version < 0 {
		return nil, coffer.Errorf(coffer.EINVALID, "version must be a positive number")
	}
	ev := s.event(c, "secret.reveal")
	ev.Name, ev.Version = ref, version
	st, err := s.storage.Store(ctx, c.AccountID, storeRef)
	if err != nil {
		return nil, err
	}
	// A key that may not reveal the name is refused before storage is asked,
	// so it cannot learn which names exist. Refs that are ids are checked
	// against the real name below.
	if !c.Admin && !coffer.IsID(ref) {
		if err := s.authorize(ctx, c, coffer.ActionReveal, st, ref, ev); err != nil {
			return nil, err
		}
	}
	sec, v, err := s.readVersion(ctx, c.AccountID, st, ref, version)
	if err != nil {
		if code := coffer.ErrorCode(err); code == coffer.ENOTFOUND {
			ev.StoreID, ev.Outcome = st.ID, code
			if aerr := s.audit(ctx, ev); aerr != nil {
				return nil, aerr
			}
		}
		return nil, err
	}
	ev.StoreID, ev.SecretID, ev.Name, ev.Version = sec.StoreID, sec.ID, sec.Name, v.Number
	if c.Admin {
		ev.Reason = "admin"
	} else if coffer.IsID(ref) { // the check above skipped id-shaped refs: check the real name now
		if err := s.authorize(ctx, c, coffer.ActionReveal, st, sec.Name, ev); err != nil {
			return nil, err
		}
	}
	now := s.now()
	if v.Deleted(now) {
		ev.Outcome, ev.Reason = coffer.ENOTFOUND, ev.Reason+"; version deleted"
		if err := s.audit(ctx, ev); err != nil {
			return nil, err
		}
		return nil, errVersionDeleted(sec, v)
	}
	if sec.Expired(now) {
		return nil, s.refuseExpired(ctx, ev, sec)
	}
	plain, err := s.open(ctx, sec, v)
	if err != nil {
		return nil, err
	}
	if err := s.audit(ctx, ev); err != nil {
		envelope.Zero(plain)
		return nil, err
	}
	s.markUsed(ctx, c, sec)
	r := &coffer.Revealed{Value: &coffer.Value{Name: sec.Name, Version: v.Number, Data: plain}}
	if detail {
		rec := *v
		rec.Ciphertext = nil
		r.Version = &rec
		if ok, _ := c.Allows(coffer.ActionRead, st.ID, st.Name, sec.Name); ok {
			r.Secret = sec
		}
	}
	return r, nil
}

// refuseExpired records a refused read of an expired secret's value and
// returns the ECONFLICT it amounts to.
func (s *Service) refuseExpired(ctx context.Context, ev *coffer.AuditEvent, sec *coffer.Secret) error {
	ev.Outcome, ev.Reason = coffer.ECONFLICT, "expired"
	if err := s.audit(ctx, ev); err != nil {
		return err
	}
	return errExpired(sec)
}

// errExpired is the refusal of an expired secret's value.
func errExpired(sec *coffer.Secret) error {
	return coffer.Errorf(coffer.ECONFLICT, "secret %s expired at %s; its value is not served until its expiry is changed",
		sec.Name, sec.ExpiresAt.UTC().Format(time.RFC3339))
}

// markUsed removes the attributes that a first value read removes
// (Options.FirstReadClears) from a secret whose value was just read. Only
// the first read of such a secret writes; a failure is logged, not
// returned, because the read itself succeeded. A read is not a
// modification: the secret's UpdatedAt stays.
func (s *Service) markUsed(ctx context.Context, c *coffer.Caller, sec *coffer.Secret) {
	if !s.vocab.firstReadAttr(sec.Attributes) {
		return
	}
	attrs := s.vocab.afterFirstRead(sec.Attributes)
	ev := s.event(c, "secret.activate")
	ev.StoreID, ev.SecretID, ev.Name, ev.Reason = sec.StoreID, sec.ID, sec.Name, "first value read"
	if _, err := s.storage.UpdateSecret(ctx, c.AccountID, sec.ID, &coffer.SecretUpdate{Attributes: attrs, At: s.now().UTC(), KeepUpdatedAt: true}, ev); err != nil {
		s.log.Warn("mark secret used", "err", err, "secret_id", sec.ID)
	}
}

// readVersion is storage.ReadVersion behind a cache that is valid while the
// store's Gen is unchanged.
func (s *Service) readVersion(ctx context.Context, accountID string, st *coffer.Store, ref string, version int) (*coffer.Secret, *coffer.Version, error) {
	key := versionKey{st.ID, ref, version}
	if hit, ok := s.versions.get(key, st.Gen); ok {
		return hit.sec, hit.v, nil
	}
	sec, v, err := s.storage.ReadVersion(ctx, accountID, st.ID, ref, version)
	if err != nil {
		return nil, nil, err
	}
	s.versions.put(key, st.Gen, versionHit{sec, v})
	return sec, v, nil
}

// RevealMany implements coffer.SecretService.
func (s *Service) RevealMany(ctx context.Context, storeRef string, q *coffer.RevealQuery) (*coffer.ValuePage, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if len(q.Names) > coffer.MaxPageSize {
		return nil, coffer.Errorf(coffer.EINVALID, "at most %d names per request", coffer.MaxPageSize)
	}
	lev := s.event(c, "secret.reveal")
	st, err := s.storage.Store(ctx, c.AccountID, storeRef)
	if err != nil {
		return nil, err
	}
	lev.StoreID = st.ID
	page := &coffer.ValuePage{Values: []*coffer.Value{}}
	names := q.Names
	var refs []string // ids of listed names
	if len(names) == 0 {
		if err := s.authorize(ctx, c, coffer.ActionList, st, "", lev); err != nil {
			return nil, err
		}
		list, err := s.Secrets(ctx, st.ID, coffer.ListSecrets{Page: coffer.Page{Limit: q.Limit, Cursor: q.Cursor}, Prefix: q.Prefix})
		if err != nil {
			return nil, err
		}
		page.NextCursor = list.NextCursor
		for _, sec := range list.Secrets {
			if ok, _ := c.Allows(coffer.ActionReveal, st.ID, st.Name, sec.Name); ok && sec.Status == coffer.StatusActive {
				names, refs = append(names, sec.Name), append(refs, sec.ID)
			}
		}
	} else {
		// As in Reveal, a name the key may not reveal is refused before
		// storage is asked; a ref that is an id is checked against the
		// real name of the secret it resolves to, below.
		for _, n := range names {
			if err := coffer.ValidateName("secret", n); err != nil {
				return nil, err
			}
			if coffer.IsID(n) {
				continue
			}
			if err := s.authorize(ctx, c, coffer.ActionReveal, st, n, s.event(c, "secret.reveal")); err != nil {
				return nil, err
			}
		}
	}
	// Every ref is resolved, and every id checked, before any value is
	// opened or any read audited: a refused request reads nothing.
	type found struct {
		sec *coffer.Secret
		v   *coffer.Version
	}
	hits := make([]found, 0, len(names))
	now := s.now()
	for i, n := range names {
		ref := n
		if len(q.Names) == 0 {
			ref = refs[i] // listed: by id, the secret whose name was checked
		}
		sec, v, err := s.readVersion(ctx, c.AccountID, st, ref, 0)
		if coffer.ErrorCode(err) == coffer.ENOTFOUND || err == nil && v.Deleted(now) {
			// A secret whose latest version is soft-deleted has no value
			// to serve: missing, as one without a version.
			page.Missing = append(page.Missing, n)
			continue
		} else if err != nil {
			return nil, err
		}
		if len(q.Names) > 0 && coffer.IsID(n) {
			ev := s.event(c, "secret.reveal")
			ev.StoreID, ev.SecretID, ev.Name, ev.Version = st.ID, sec.ID, sec.Name, v.Number
			if err := s.authorize(ctx, c, coffer.ActionReveal, st, sec.Name, ev); err != nil {
				return nil, err
			}
		}
		hits = append(hits, found{sec, v})
	}
	var evs []*coffer.AuditEvent
	var used []*coffer.Secret // read for the first time
	for _, h := range hits {
		sec, v := h.sec, h.v
		if sec.Expired(now) {
			ev := s.event(c, "secret.reveal")
			ev.StoreID, ev.SecretID, ev.Name, ev.Version = st.ID, sec.ID, sec.Name, v.Number
			ev.Outcome, ev.Reason = coffer.ECONFLICT, "batch; expired"
			evs = append(evs, ev)
			page.Expired = append(page.Expired, sec.Name)
			continue
		}
		plain, err := s.open(ctx, sec, v)
		if err != nil {
			return nil, err
		}
		ev := s.event(c, "secret.reveal")
		ev.StoreID, ev.SecretID, ev.Name, ev.Version = st.ID, sec.ID, sec.Name, v.Number
		ev.Reason = "batch"
		evs = append(evs, ev)
		if s.vocab.firstReadAttr(sec.Attributes) {
			used = append(used, sec)
		}
		page.Values = append(page.Values, &coffer.Value{Name: sec.Name, Version: v.Number, Data: plain})
	}
	if len(evs) > 0 {
		if err := s.audit(ctx, evs...); err != nil {
			return nil, err
		}
	}
	for _, sec := range used {
		s.markUsed(ctx, c, sec)
	}
	return page, nil
}

// Versions implements coffer.SecretService.
func (s *Service) Versions(ctx context.Context, storeRef, ref string) ([]*coffer.Version, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	st, sec, err := s.secret(ctx, c, storeRef, ref, coffer.ActionRead, s.event(c, "secret.versions"))
	if err != nil {
		return nil, err
	}
	vs, ok := s.history.get(sec.ID, st.Gen)
	if !ok {
		if vs, err = s.storage.Versions(ctx, c.AccountID, sec.ID); err != nil {
			return nil, err
		}
		s.history.put(sec.ID, st.Gen, vs)
	}
	// Shared like cached secrets: the caller gets its own slice of copies.
	out := make([]*coffer.Version, len(vs))
	for i, v := range vs {
		cp := *v
		out[i] = &cp
	}
	return out, nil
}

// Rollback implements coffer.SecretService.
func (s *Service) Rollback(ctx context.Context, storeRef, ref string, to, ifVersion int) (*coffer.Secret, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if to <= 0 {
		return nil, coffer.Errorf(coffer.EINVALID, "version must be a positive number")
	}
	ev := s.event(c, "secret.rollback")
	st, sec, err := s.secret(ctx, c, storeRef, ref, coffer.ActionWrite, ev)
	if err != nil {
		return nil, err
	}
	if sec.Status == coffer.StatusDeleted {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "secret not found")
	}
	old, v, err := s.storage.ReadVersion(ctx, c.AccountID, st.ID, sec.ID, to)
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
	ev.Reason += "; from version " + strconv.Itoa(to)
	return s.write(ctx, c, st, &coffer.SecretPut{Name: sec.Name, Value: plain, IfVersion: ifVersion}, ev)
}

// DeleteSecret implements coffer.SecretService.
func (s *Service) DeleteSecret(ctx context.Context, storeRef, ref string, ifVersion int) (*coffer.Secret, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ev := s.event(c, "secret.delete")
	_, sec, err := s.secret(ctx, c, storeRef, ref, coffer.ActionDelete, ev)
	if err != nil {
		return nil, err
	}
	ev.Version = sec.Version
	deleted := coffer.StatusDeleted
	return s.storage.UpdateSecret(ctx, c.AccountID, sec.ID, &coffer.SecretUpdate{Status: &deleted, IfVersion: ifVersion, At: s.now().UTC()}, ev)
}

// deleted resolves ref to a deleted secret: by id, or the most recently
// deleted secret of that name.
func (s *Service) deleted(ctx context.Context, c *coffer.Caller, storeRef, ref string, action coffer.Action, ev *coffer.AuditEvent) (*coffer.Secret, error) {
	st, err := s.storage.Store(ctx, c.AccountID, storeRef)
	if err != nil {
		return nil, err
	}
	ev.StoreID = st.ID
	sec, err := s.storage.Secret(ctx, c.AccountID, st.ID, ref)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		sec, err = s.lastDeleted(ctx, c.AccountID, st.ID, ref)
	}
	if err != nil {
		return nil, err
	}
	ev.SecretID, ev.Name = sec.ID, sec.Name
	if err := s.authorize(ctx, c, action, st, sec.Name, ev); err != nil {
		return nil, err
	}
	if sec.Status != coffer.StatusDeleted {
		return nil, coffer.Errorf(coffer.ECONFLICT, "secret %s is not deleted", sec.Name)
	}
	return sec, nil
}

func (s *Service) lastDeleted(ctx context.Context, accountID, storeID, name string) (*coffer.Secret, error) {
	var found *coffer.Secret
	q := coffer.SecretQuery{Prefix: name, Limit: coffer.MaxPageSize, IncludeDeleted: true}
	for {
		list, err := s.storage.Secrets(ctx, accountID, storeID, q)
		if err != nil {
			return nil, err
		}
		for _, sec := range list {
			if sec.Name == name && sec.Status == coffer.StatusDeleted && (found == nil || sec.DeletedAt.After(*found.DeletedAt)) {
				found = sec
			}
		}
		if len(list) < q.Limit || list[len(list)-1].Name != name {
			break
		}
		q.AfterName, q.AfterID = list[len(list)-1].Name, list[len(list)-1].ID
	}
	if found == nil {
		return nil, coffer.Errorf(coffer.ENOTFOUND, "secret not found")
	}
	return found, nil
}

// UndeleteSecret implements coffer.SecretService.
func (s *Service) UndeleteSecret(ctx context.Context, storeRef, ref string) (*coffer.Secret, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ev := s.event(c, "secret.undelete")
	sec, err := s.deleted(ctx, c, storeRef, ref, coffer.ActionWrite, ev)
	if err != nil {
		return nil, err
	}
	active := coffer.StatusActive
	return s.storage.UpdateSecret(ctx, c.AccountID, sec.ID, &coffer.SecretUpdate{Status: &active, At: s.now().UTC()}, ev)
}

// PurgeSecret implements coffer.SecretService.
func (s *Service) PurgeSecret(ctx context.Context, storeRef, ref string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	ev := s.event(c, "secret.purge")
	sec, err := s.deleted(ctx, c, storeRef, ref, coffer.ActionDelete, ev)
	if err != nil {
		return err
	}
	return s.storage.PurgeSecret(ctx, c.AccountID, sec.ID, ev)
}

// DestroyVersion implements coffer.SecretService.
func (s *Service) DestroyVersion(ctx context.Context, storeRef, ref string, version int) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	if version <= 0 {
		return coffer.Errorf(coffer.EINVALID, "version must be a positive number")
	}
	ev := s.event(c, "version.destroy")
	ev.Version = version
	_, sec, err := s.secret(ctx, c, storeRef, ref, coffer.ActionDelete, ev)
	if err != nil {
		return err
	}
	return s.storage.DestroyVersion(ctx, c.AccountID, sec.ID, version, s.now().UTC(), ev)
}

// AuditEvents implements coffer.AuditService.
func (s *Service) AuditEvents(ctx context.Context, q coffer.AuditQuery) (*coffer.AuditPage, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Admin {
		return nil, coffer.Errorf(coffer.EFORBIDDEN, "this action needs an admin API key")
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	limit, err := pageLimit(q.Limit)
	if err != nil {
		return nil, err
	}
	var page *coffer.AuditPage
	if q.Filtered() {
		page, err = s.auditWindow(ctx, c.AccountID, q, limit)
	} else {
		page, err = s.auditPage(ctx, c.AccountID, q, limit)
	}
	if err != nil {
		return nil, err
	}
	// A page with no match lists no events: [], never null.
	if page.Events == nil {
		page.Events = []*coffer.AuditEvent{}
	}
	return page, nil
}

// auditPage answers an unfiltered query: limit events from the cursor.
func (s *Service) auditPage(ctx context.Context, accountID string, q coffer.AuditQuery, limit int) (*coffer.AuditPage, error) {
	q.Limit = limit + 1
	evs, err := s.storage.AuditEvents(ctx, accountID, q)
	if err != nil {
		return nil, err
	}
	page := &coffer.AuditPage{Events: evs}
	if len(evs) > limit {
		page.Events = evs[:limit]
		page.Next = evs[limit-1].Seq
	}
	return page, nil
}

// auditWindow answers a filtered query over at most s.window sequence
// numbers next to its cursor: the page is full, or the window
// reached the end of the log (Next 0), or it ends at the window with Next
// continuing from there.
func (s *Service) auditWindow(ctx context.Context, accountID string, q coffer.AuditQuery, limit int) (*coffer.AuditPage, error) {
	head, err := s.storage.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	var last int64 // the newest event when the request came
	if head != nil {
		last = head.Seq
	}
	// The window is seq in (lo, hi); the query's bounds narrow it.
	lo, hi := q.After, last+1
	if q.Before > 0 && q.Before < hi {
		hi = q.Before
	}
	var next int64 // where the search continues when the window ends first
	if q.Newest {
		if hi-lo-1 > s.window {
			lo = hi - s.window - 1
			next = lo + 1 // pass as Before
		}
	} else if hi-lo-1 > s.window {
		hi = lo + s.window + 1
		next = hi - 1 // pass as After
	}
	q.After, q.Before, q.Limit = lo, hi, limit+1
	evs, err := s.storage.AuditEvents(ctx, accountID, q)
	if err != nil {
		return nil, err
	}
	page := &coffer.AuditPage{Events: evs, Next: next}
	if len(evs) > limit {
		page.Events = evs[:limit]
		page.Next = evs[limit-1].Seq
	}
	return page, nil
}

// VerifyAudit implements coffer.AuditService. The chain spans every account,
// so the whole log is read; events are checked a page at a time.
func (s *Service) VerifyAudit(ctx context.Context) (*coffer.AuditReport, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Admin {
		return nil, coffer.Errorf(coffer.EFORBIDDEN, "this action needs an admin API key")
	}
	return s.verifyAudit(ctx)
}

func (s *Service) verifyAudit(ctx context.Context) (*coffer.AuditReport, error) {
	head, err := s.storage.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	var v coffer.ChainVerifier
	var after int64
	for {
		evs, err := s.storage.AuditEvents(ctx, "", coffer.AuditQuery{After: after, Limit: coffer.MaxPageSize})
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if !v.Add(e) {
				break
			}
		}
		if len(evs) < coffer.MaxPageSize {
			break
		}
		after = evs[len(evs)-1].Seq
	}
	return v.Finish(head, s.headMACOK), nil
}

// HeadMAC returns the function that authenticates the audit chain's head;
// storage records its MAC with the head so that events cut off the end of
// the log are detected.
func HeadMAC(kr *envelope.Keyring) func(msg []byte) []byte {
	return func(msg []byte) []byte { return kr.MAC("audit-head", msg) }
}

func (s *Service) headMACOK(h *coffer.AuditHead) bool {
	return s.keyring.VerifyMAC("audit-head", headMessage(h), h.MAC)
}

// headMessage is what HeadMAC covers: 8-byte big-endian seq || hash.
func headMessage(h *coffer.AuditHead) []byte {
	b := make([]byte, 8, 8+len(h.Hash))
	for i := 0; i < 8; i++ {
		b[i] = byte(h.Seq >> (56 - 8*i))
	}
	return append(b, h.Hash...)
}
