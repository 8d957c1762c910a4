package service

// This file rotates keys online. Master-key rotation rewraps data keys (the
// data keys themselves, and so every ciphertext, stay as they are, and the
// cipher cache stays valid), replaces the auth secret (records.go: access
// tokens end, records are MACed again) and, when asked to reseal, gives
// every store a new data key and re-seals its values with it. Store data-key rotation
// adds a key; re-encryption re-seals versions with it. Every write is a
// compare-and-set on what was read, so concurrent writers, other servers and
// a second run of the same rotation are all safe, and a stopped run resumes
// by running again.

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
)

// rotateBatch is how many store keys a rotation reads at a time.
const rotateBatch = 100

// sealedSettings are the meta settings sealed by the master key, with the
// associated data they were sealed with.
var sealedSettings = []struct {
	key string
	aad []byte
}{
	{metaPepper, pepperAAD},
	{metaAuthSecret, authAADReady},
	{metaAuthPrev, authAADPrev},
}

func keyIDString(id uint32) string { return fmt.Sprintf("%08x", id) }

// ErrMissingMasterKey is returned by CheckMasterKeys when data is wrapped by
// a master key the server was not given.
var ErrMissingMasterKey = errors.New("data is wrapped by a master key that was not given")

// CheckMasterKeys walks every wrapped data key and sealed setting and
// returns an error wrapping ErrMissingMasterKey that names the key ids the
// keyring lacks, if any. The server runs it at start, so that retiring a
// master key too early fails loudly instead of failing reads later.
func (s *Service) CheckMasterKeys(ctx context.Context) error {
	st, err := s.masterKeyStatus(ctx)
	if err != nil {
		return err
	}
	var missing []string
	for _, k := range st.Keys {
		if !k.Loaded {
			missing = append(missing, fmt.Sprintf("%s (%d store keys, %d settings)", k.ID, k.StoreKeys, k.Settings))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: master key id %v; loaded are %v", ErrMissingMasterKey, missing, st.Loaded)
	}
	return nil
}

// masterKeyStatus counts what each master key wraps.
func (s *Service) masterKeyStatus(ctx context.Context) (*coffer.MasterKeyStatus, error) {
	type use struct{ storeKeys, settings int }
	uses := map[uint32]*use{}
	count := func(wrapped []byte) *use {
		id, err := envelope.WrappedKeyID(wrapped)
		if err != nil {
			id = 0 // not a wrapped key: counted under id 00000000
		}
		u := uses[id]
		if u == nil {
			u = &use{}
			uses[id] = u
		}
		return u
	}
	for _, ss := range sealedSettings {
		wrapped, err := s.storage.Meta(ctx, ss.key)
		if coffer.ErrorCode(err) == coffer.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("read %s: %w", ss.key, err)
		} else if len(wrapped) == 0 {
			continue // metaAuthPrev once a rotation ended
		}
		count(wrapped).settings++
	}
	afterStore, afterKey := "", 0
	for {
		page, err := s.storage.StoreKeys(ctx, afterStore, afterKey, 1000)
		if err != nil {
			return nil, fmt.Errorf("list store keys: %w", err)
		}
		for _, k := range page {
			count(k.Wrapped).storeKeys++
		}
		if len(page) < 1000 {
			break
		}
		afterStore, afterKey = page[len(page)-1].StoreID, page[len(page)-1].ID
	}
	st := &coffer.MasterKeyStatus{Active: keyIDString(s.keyring.ActiveID())}
	for _, id := range s.keyring.IDs() {
		st.Loaded = append(st.Loaded, keyIDString(id))
	}
	ids := make([]uint32, 0, len(uses))
	for id := range uses {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		st.Keys = append(st.Keys, coffer.MasterKeyUse{ID: keyIDString(id), StoreKeys: uses[id].storeKeys,
			Settings: uses[id].settings, Loaded: s.keyring.Has(id)})
	}
	return st, nil
}

// MasterKeyStatus implements coffer.KeyRotationService.
func (s *Service) MasterKeyStatus(ctx context.Context) (*coffer.MasterKeyStatus, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Operator {
		return nil, coffer.Errorf(coffer.EFORBIDDEN, "only the server operator may see the master key status")
	}
	return s.masterKeyStatus(ctx)
}

// RotateMasterKey implements coffer.KeyRotationService. It writes one audit
// event per rewrapped store key (store.rewrap-key) and one for the run
// (master-key.rotate), all in the operator's account; none holds key
// material, only key ids and counts.
func (s *Service) RotateMasterKey(ctx context.Context, reseal bool) (*coffer.MasterKeyReport, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ev := s.event(c, "master-key.rotate")
	if !c.Operator {
		return nil, s.refuse(ctx, ev, "only the server operator may rotate the master key")
	}
	active := s.keyring.ActiveID()
	rep := &coffer.MasterKeyReport{Active: keyIDString(active)}
	if err := s.rewrapSetting(ctx, metaPepper, pepperAAD, rep); err != nil {
		return nil, err
	}
	if err := s.rotateAuthSecret(ctx, rep); err != nil {
		return nil, err
	}
	var stores []*coffer.AccountStoreKey // one per store, for reseal
	afterStore, afterKey := "", 0
	for {
		page, err := s.storage.StoreKeys(ctx, afterStore, afterKey, rotateBatch)
		if err != nil {
			return nil, fmt.Errorf("list store keys: %w", err)
		}
		for _, k := range page {
			if err := s.rewrapStoreKey(ctx, c, k, rep); err != nil {
				return nil, err
			}
			if reseal && (len(stores) == 0 || stores[len(stores)-1].StoreID != k.StoreID) {
				stores = append(stores, k)
			}
		}
		if len(page) < rotateBatch {
			break
		}
		afterStore, afterKey = page[len(page)-1].StoreID, page[len(page)-1].ID
	}
	for _, k := range stores {
		if err := s.resealStore(ctx, c, k.AccountID, k.StoreID, rep); err != nil {
			return nil, err
		}
	}
	ev.Reason = fmt.Sprintf("active master key %s: rewrapped %d store keys and %d settings; %d current, %d gone, %d unreadable; "+
		"new auth secret (access tokens ended), %d records bound again, %d records fail their MAC",
		rep.Active, rep.Rewrapped, rep.Settings, rep.Current, rep.Gone, rep.Unreadable, rep.Rebound, rep.RecordsFailed)
	if reseal {
		ev.Reason += fmt.Sprintf("; resealed: %d stores given a new data key, %d versions re-encrypted, %d skipped",
			rep.Rekeyed, rep.Reencrypted, rep.ReencryptSkipped)
	}
	if err := s.audit(ctx, ev); err != nil {
		return nil, err
	}
	if rep.Status, err = s.masterKeyStatus(ctx); err != nil {
		return nil, err
	}
	return rep, nil
}

// rewrapSetting rewraps one sealed setting under the active key.
func (s *Service) rewrapSetting(ctx context.Context, key string, aad []byte, rep *coffer.MasterKeyReport) error {
	for try := 0; ; try++ {
		wrapped, err := s.storage.Meta(ctx, key)
		if coffer.ErrorCode(err) == coffer.ENOTFOUND {
			return nil
		} else if err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
		if id, err := envelope.WrappedKeyID(wrapped); err == nil && id == s.keyring.ActiveID() {
			return nil
		}
		fresh, err := s.rewrap(wrapped, aad)
		if err != nil {
			return fmt.Errorf("rewrap %s: %w", key, err)
		}
		err = s.storage.SwapMeta(ctx, key, wrapped, fresh)
		if err == nil {
			rep.Settings++
			return nil
		} else if coffer.ErrorCode(err) != coffer.EPRECONDITION || try == 3 {
			return fmt.Errorf("rewrap %s: %w", key, err)
		}
	}
}

// rewrapStoreKey rewraps one store data key under the active key, reading it
// again when another writer changed it meanwhile.
func (s *Service) rewrapStoreKey(ctx context.Context, c *coffer.Caller, k *coffer.AccountStoreKey, rep *coffer.MasterKeyReport) error {
	aad := storeKeyAAD(k.AccountID, k.StoreID, k.ID)
	wrapped := k.Wrapped
	for try := 0; ; try++ {
		id, err := envelope.WrappedKeyID(wrapped)
		switch {
		case err == nil && id == s.keyring.ActiveID():
			rep.Current++
			return nil
		case err == nil && !s.keyring.Has(id):
			rep.Unreadable++
			s.log.Warn("store key wrapped by a master key this server does not hold", "store", k.StoreID, "key", k.ID, "master_key_id", keyIDString(id))
			return nil
		}
		fresh, err := s.rewrap(wrapped, aad)
		if err != nil {
			return fmt.Errorf("rewrap key %d of store %s: %w", k.ID, k.StoreID, err)
		}
		ev := s.event(c, "store.rewrap-key")
		ev.StoreID = k.StoreID
		ev.Reason = fmt.Sprintf("account %s, data key %d, from master key %s to %s", k.AccountID, k.ID, keyIDString(id), keyIDString(s.keyring.ActiveID()))
		err = s.storage.RewrapStoreKey(ctx, k.AccountID, k.StoreID, k.ID, wrapped, fresh, ev)
		switch coffer.ErrorCode(err) {
		case "":
			rep.Rewrapped++
			return nil
		case coffer.ENOTFOUND:
			rep.Gone++
			return nil
		case coffer.EPRECONDITION:
			if try == 3 {
				return fmt.Errorf("rewrap key %d of store %s: %w", k.ID, k.StoreID, err)
			}
			if wrapped, err = s.storage.StoreKey(ctx, k.AccountID, k.StoreID, k.ID); coffer.ErrorCode(err) == coffer.ENOTFOUND {
				rep.Gone++
				return nil
			} else if err != nil {
				return fmt.Errorf("read key %d of store %s: %w", k.ID, k.StoreID, err)
			}
		default:
			return fmt.Errorf("rewrap key %d of store %s: %w", k.ID, k.StoreID, err)
		}
	}
}

// rewrap unwraps with whichever key wrapped and wraps with the active key.
func (s *Service) rewrap(wrapped, aad []byte) ([]byte, error) {
	dek, err := s.keyring.Unwrap(wrapped, aad)
	if err != nil {
		return nil, err
	}
	defer envelope.Zero(dek)
	return s.keyring.Wrap(dek, aad)
}

// RotateStoreKey implements coffer.KeyRotationService. It writes a
// store.rotate-key event, and a secret.reencrypt event per re-sealed
// version.
func (s *Service) RotateStoreKey(ctx context.Context, ref string, reencrypt bool) (*coffer.StoreKeyRotation, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ev := s.event(c, "store.rotate-key")
	ev.Name = ref
	st, err := s.store(ctx, c, ref, coffer.ActionAdmin, "", ev)
	if err != nil {
		return nil, err
	}
	ev.Name = st.Name
	return s.rekeyStore(ctx, c, st, reencrypt, ev)
}

// rekeyStore gives the store st a new data key and, with reencrypt,
// re-seals its live versions with it; ev is its store.rotate-key event.
func (s *Service) rekeyStore(ctx context.Context, c *coffer.Caller, st *coffer.Store, reencrypt bool, ev *coffer.AuditEvent) (*coffer.StoreKeyRotation, error) {
	keyID := st.KeyID + 1
	dek := envelope.GenerateKey()
	wrapped, err := s.keyring.Wrap(dek, storeKeyAAD(st.AccountID, st.ID, keyID))
	envelope.Zero(dek)
	if err != nil {
		return nil, fmt.Errorf("seal store key: %w", err)
	}
	ev.Reason = fmt.Sprintf("data key %d replaces %d for new versions", keyID, st.KeyID)
	st, err = s.storage.AddStoreKey(ctx, st.AccountID, st.ID, keyID, wrapped, ev)
	if err != nil {
		return nil, err
	}
	out := &coffer.StoreKeyRotation{Store: st, KeyID: keyID}
	if reencrypt {
		if err := s.reencryptStore(ctx, c, st, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// reencryptStore re-seals every version of the store's live secrets that an
// older data key sealed with the store's key out.KeyID. Versions of deleted
// secrets keep their keys (storage reads no deleted secret's value); the
// old data keys stay, so they remain readable after an undelete.
func (s *Service) reencryptStore(ctx context.Context, c *coffer.Caller, st *coffer.Store, out *coffer.StoreKeyRotation) error {
	ci, err := s.cipher(ctx, st.AccountID, st.ID, out.KeyID)
	if err != nil {
		return err
	}
	q := coffer.SecretQuery{Limit: rotateBatch}
	for {
		page, err := s.storage.Secrets(ctx, st.AccountID, st.ID, q)
		if err != nil {
			return fmt.Errorf("list secrets: %w", err)
		}
		for _, sec := range page {
			if err := s.reencryptSecret(ctx, c, st, sec, ci, out); err != nil {
				return err
			}
		}
		if len(page) < rotateBatch {
			return nil
		}
		q.AfterName, q.AfterID = page[len(page)-1].Name, page[len(page)-1].ID
	}
}

func (s *Service) reencryptSecret(ctx context.Context, c *coffer.Caller, st *coffer.Store, sec *coffer.Secret, ci *envelope.Cipher, out *coffer.StoreKeyRotation) error {
	versions, err := s.storage.Versions(ctx, st.AccountID, sec.ID)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return nil // purged meanwhile
	} else if err != nil {
		return fmt.Errorf("list versions: %w", err)
	}
	for _, v := range versions {
		if v.DestroyedAt != nil || v.KeyID >= out.KeyID {
			continue
		}
		cur, ver, err := s.storage.ReadVersion(ctx, st.AccountID, st.ID, sec.ID, v.Number)
		if coffer.ErrorCode(err) == coffer.ENOTFOUND {
			out.Skipped++ // deleted or destroyed meanwhile
			continue
		} else if err != nil {
			return fmt.Errorf("read version: %w", err)
		}
		if ver.KeyID >= out.KeyID {
			continue
		}
		plain, err := s.open(ctx, cur, ver)
		if err != nil {
			return err
		}
		ct := ci.Seal(plain, valueAAD(cur, ver.Number))
		envelope.Zero(plain)
		ev := s.event(c, "secret.reencrypt")
		ev.StoreID, ev.SecretID, ev.Name, ev.Version = st.ID, cur.ID, cur.Name, ver.Number
		ev.Reason = fmt.Sprintf("from data key %d to %d", ver.KeyID, out.KeyID)
		err = s.storage.ReencryptVersion(ctx, st.AccountID, cur.ID, ver.Number, ver.Ciphertext, ct, out.KeyID, ev)
		switch coffer.ErrorCode(err) {
		case "":
			out.Reencrypted++
		case coffer.EPRECONDITION, coffer.ENOTFOUND:
			out.Skipped++
		default:
			return fmt.Errorf("re-encrypt version: %w", err)
		}
	}
	return nil
}

// resealStore is the reseal of a master-key rotation for one store: a new
// data key, and every live version re-sealed with it, so that values no
// longer depend on a data key that a master key now retired wrapped. The
// older data keys stay wrapped by the active master key (versions of
// deleted secrets still need them).
func (s *Service) resealStore(ctx context.Context, c *coffer.Caller, accountID, storeID string, rep *coffer.MasterKeyReport) error {
	for try := 0; ; try++ {
		st, err := s.storage.Store(ctx, accountID, storeID)
		if coffer.ErrorCode(err) == coffer.ENOTFOUND {
			return nil // deleted meanwhile
		} else if err != nil {
			return fmt.Errorf("read store %s: %w", storeID, err)
		}
		ev := s.event(c, "store.rotate-key")
		ev.AccountID, ev.StoreID, ev.Name = st.AccountID, st.ID, st.Name
		out, err := s.rekeyStore(ctx, c, st, true, ev)
		switch coffer.ErrorCode(err) {
		case "":
			rep.Rekeyed++
			rep.Reencrypted += out.Reencrypted
			rep.ReencryptSkipped += out.Skipped
			return nil
		case coffer.ENOTFOUND:
			return nil
		case coffer.EPRECONDITION:
			if try < 3 {
				continue // another rotation of this store: read it again
			}
		}
		return fmt.Errorf("reseal store %s: %w", storeID, err)
	}
}

// rotateSettle is how long a rotation waits, after replacing the auth
// secret, before MACing records again: every other server of the database
// reads the new secret within keyCacheTTL, so records they create after the
// wait carry MACs under it.
var rotateSettle = keyCacheTTL + 250*time.Millisecond

// rotateAuthSecret replaces the auth secret: access tokens signed with the
// old one stop verifying at once here and within keyCacheTTL on every other
// server, and every record MACed under the old one is MACed under the new
// one. A record whose MAC verifies under neither is left as it is, counted
// in RecordsFailed (and refused wherever it is used).
func (s *Service) rotateAuthSecret(ctx context.Context, rep *coffer.MasterKeyReport) error {
	cur, err := s.readAuthKeys(ctx, nil)
	if err != nil {
		return err
	}
	secret, err := s.keyring.Unwrap(cur.wrapped, authAADReady)
	if err != nil {
		return fmt.Errorf("unseal auth secret: %w", err)
	}
	defer envelope.Zero(secret)
	prevWrapped, err := s.keyring.Wrap(secret, authAADPrev)
	if err != nil {
		return fmt.Errorf("seal auth secret: %w", err)
	}
	if !cur.prevSet {
		err = s.storage.SetMeta(ctx, metaAuthPrev, prevWrapped)
	} else {
		err = s.storage.SwapMeta(ctx, metaAuthPrev, append([]byte{}, cur.wrappedPrev...), prevWrapped)
	}
	if code := coffer.ErrorCode(err); code == coffer.ECONFLICT || code == coffer.EPRECONDITION {
		s.log.Info("master-key rotation: another run replaces the auth secret")
		return nil
	} else if err != nil {
		return fmt.Errorf("store auth secret: %w", err)
	}
	fresh := envelope.GenerateKey()
	defer envelope.Zero(fresh)
	wrapped, err := s.keyring.Wrap(fresh, authAADReady)
	if err != nil {
		return fmt.Errorf("seal auth secret: %w", err)
	}
	if err := s.storage.SwapMeta(ctx, metaAuthSecret, cur.wrapped, wrapped); coffer.ErrorCode(err) == coffer.EPRECONDITION {
		s.log.Info("master-key rotation: another run replaces the auth secret")
		return nil
	} else if err != nil {
		return fmt.Errorf("store auth secret: %w", err)
	}
	nk := deriveAuthKeys(fresh, secret)
	if err := s.reloadAuthKeys(ctx); err != nil {
		return err
	}
	rep.Settings++
	old := [][]byte{cur.record}
	if cur.prevRecord != nil { // an earlier rotation that stopped
		old = append(old, cur.prevRecord)
	}
	select {
	case <-time.After(rotateSettle):
	case <-ctx.Done():
		return ctx.Err()
	}
	valid := func(f func([]byte) []byte, stored []byte) bool {
		for _, k := range old {
			if len(stored) > 0 && hmac.Equal(f(k), stored) {
				return true
			}
		}
		return false
	}
	err = s.forEachRecord(ctx, func(rec any) error {
		f, kind, id, stored := macFunc(rec)
		mac := f(nk.record)
		switch {
		case hmac.Equal(mac, stored):
			return nil
		case !valid(f, stored):
			rep.RecordsFailed++
			s.log.Warn("master-key rotation: record fails its MAC, left as it is", "kind", kind.String(), "id", id)
			return nil
		}
		err := s.storage.SetRecordMAC(ctx, kind, id, stored, mac)
		switch coffer.ErrorCode(err) {
		case "":
			rep.Rebound++
		case coffer.ENOTFOUND, coffer.EPRECONDITION: // gone or changed meanwhile
		default:
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if op, err := s.storage.Meta(ctx, metaOperator); err == nil {
		stored, _ := s.storage.Meta(ctx, metaOperatorMAC)
		f := func(key []byte) []byte { return operatorMAC(key, string(op)) }
		if valid(f, stored) {
			if err := s.storage.SwapMeta(ctx, metaOperatorMAC, stored, f(nk.record)); err != nil {
				return fmt.Errorf("bind operator account: %w", err)
			}
			rep.Rebound++
		} else if !hmac.Equal(f(nk.record), stored) {
			rep.RecordsFailed++
		}
	}
	if err := s.storage.SwapMeta(ctx, metaAuthPrev, prevWrapped, []byte{}); err != nil && coffer.ErrorCode(err) != coffer.EPRECONDITION {
		return fmt.Errorf("store auth secret: %w", err) // EPRECONDITION: a concurrent run owns it now
	}
	return s.reloadAuthKeys(ctx)
}

// reloadAuthKeys reads the auth secrets from storage and makes their keys
// current, under the refresh lock. A rotation makes its changes current
// this way rather than storing the keys it derived: another run may have
// replaced the secret since (a second rotation that started during this
// one's settling), and keys derived here would then put an older secret
// back in use, refusing every record the other run binds until the next
// refresh.
func (s *Service) reloadAuthKeys(ctx context.Context) error {
	s.auth.refresh.Lock()
	defer s.auth.refresh.Unlock()
	k, err := s.readAuthKeys(ctx, nil)
	if err != nil {
		return err
	}
	s.auth.cur.Store(k)
	return nil
}
