package service

// This file holds the server's auth secret and the record MACs it keys.
//
// The auth secret is 32 random bytes sealed by the master key in the meta
// setting "auth_secret". Two keys derive from it: one signs access tokens
// (cat_), one MACs the records that grant power: every account (id, name),
// principal (id, account, name, kind), API key (id, account, principal,
// admin flag, scopes, expiry, revocation, secret hash) and hotkey (address, account,
// principal), and the operator account setting. A record whose MAC does not
// verify is refused where it is used, as if it did not exist, and reported
// by `coffer doctor`: whoever can write the database but does not hold the
// master key can no longer move a key to another account, make it admin,
// widen its scopes, lift its expiry, or add a key, principal, account or
// hotkey of their own.
//
// A master-key rotation replaces the auth secret (ending every access
// token) and re-MACs every record; see rotateAuthSecret. While it runs, the
// secret it replaced is kept sealed in "auth_secret_prev" and records MACed
// with it still verify; the run empties that setting at its end.
//
// Databases made before record MACs are bound once, at the first start of
// this version, when the pepper is still sealed in its first form (AAD
// "pepper"): the start writes the auth secret sealed as "upgrade", MACs
// every record without one, re-seals the pepper in its second form (AAD
// "pepper", "v2") and then the auth secret as "ready". Afterwards a record
// without a MAC fails like a record with a wrong one: emptying a MAC (or
// deleting the auth secret) never gets a record bound again, since neither
// sealed form can be made without the master key.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
)

// Meta keys of the auth secret.
const (
	metaAuthSecret  = "auth_secret"
	metaAuthPrev    = "auth_secret_prev"     // while a rotation runs; empty otherwise
	metaOperatorMAC = "operator_account_mac" // binds metaOperator
)

var (
	pepperAADv1    = envelope.AAD("pepper")
	pepperAAD      = envelope.AAD("pepper", "v2")
	authAADReady   = envelope.AAD("auth-secret", "ready")
	authAADUpgrade = envelope.AAD("auth-secret", "upgrade")
	authAADPrev    = envelope.AAD("auth-secret", "prev")
)

// authKeys are the keys derived from the auth secret, as this server last
// read it.
type authKeys struct {
	wrapped, wrappedPrev []byte // as read from meta, to notice a change
	prevSet              bool   // metaAuthPrev exists (perhaps empty)
	token                []byte // signs access tokens
	record               []byte // MACs records
	prevRecord           []byte // the record key a running rotation replaces; nil
	fetched              time.Time
}

// authState holds the current authKeys; every server of a database reads
// the setting again at most every keyCacheTTL, so that a rotation made by
// another server takes effect within that time.
type authState struct {
	cur     atomic.Pointer[authKeys]
	refresh sync.Mutex
}

func deriveAuthKeys(secret, prev []byte) *authKeys {
	k := &authKeys{token: deriveKey(secret, "coffer/access-token/v2"), record: deriveKey(secret, "coffer/record-mac/v1")}
	if len(prev) > 0 {
		k.prevRecord = deriveKey(prev, "coffer/record-mac/v1")
	}
	return k
}

func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// keys returns the current auth keys, reading the setting again when it was
// read more than keyCacheTTL ago. A failure to read keeps the keys in use.
func (s *Service) authKeys(ctx context.Context) *authKeys {
	k := s.auth.cur.Load()
	if time.Since(k.fetched) < keyCacheTTL || !s.auth.refresh.TryLock() {
		return k
	}
	defer s.auth.refresh.Unlock()
	k = s.auth.cur.Load()
	if time.Since(k.fetched) < keyCacheTTL {
		return k
	}
	fresh, err := s.readAuthKeys(ctx, k)
	if err != nil {
		s.log.Warn("read the auth secret; keeping the one in use", "err", err)
		cp := *k
		cp.fetched = time.Now()
		s.auth.cur.Store(&cp)
		return &cp
	}
	s.auth.cur.Store(fresh)
	return fresh
}

// readAuthKeys reads the sealed auth secret (and the one a rotation
// replaces) and derives its keys; old, when not nil, is reused when
// nothing changed.
func (s *Service) readAuthKeys(ctx context.Context, old *authKeys) (*authKeys, error) {
	wrapped, err := s.storage.Meta(ctx, metaAuthSecret)
	if err != nil {
		return nil, fmt.Errorf("read auth secret: %w", err)
	}
	prevWrapped, err := s.storage.Meta(ctx, metaAuthPrev)
	prevSet := err == nil
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		prevWrapped = nil
	} else if err != nil {
		return nil, fmt.Errorf("read auth secret: %w", err)
	}
	if old != nil && hmac.Equal(old.wrapped, wrapped) && hmac.Equal(old.wrappedPrev, prevWrapped) {
		cp := *old
		cp.fetched = time.Now()
		return &cp, nil
	}
	secret, err := s.keyring.Unwrap(wrapped, authAADReady)
	if err != nil {
		return nil, fmt.Errorf("unseal auth secret: %w", err)
	}
	defer envelope.Zero(secret)
	var prev []byte
	if len(prevWrapped) > 0 {
		if prev, err = s.keyring.Unwrap(prevWrapped, authAADPrev); err != nil {
			return nil, fmt.Errorf("unseal previous auth secret: %w", err)
		}
		defer envelope.Zero(prev)
	}
	k := deriveAuthKeys(secret, prev)
	k.wrapped, k.wrappedPrev, k.prevSet, k.fetched = wrapped, prevWrapped, prevSet, time.Now()
	return k, nil
}

// loadSecrets unseals the pepper and the auth secret, creating them on a new
// database and binding the records of a database made before record MACs.
func (s *Service) loadSecrets(ctx context.Context) error {
	wrapped, err := s.storage.Meta(ctx, metaPepper)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return s.createSecrets(ctx)
	} else if err != nil {
		return fmt.Errorf("read pepper: %w", err)
	}
	legacy := false
	pepper, err := s.keyring.Unwrap(wrapped, pepperAAD)
	if err != nil {
		var err1 error
		if pepper, err1 = s.keyring.Unwrap(wrapped, pepperAADv1); err1 != nil {
			if id, idErr := envelope.WrappedKeyID(wrapped); idErr == nil && !s.keyring.Has(id) {
				return fmt.Errorf("%w (data key id %08x, given key id %08x)", ErrWrongMasterKey, id, s.keyring.ActiveID())
			}
			return fmt.Errorf("%w: %v", ErrWrongMasterKey, err)
		}
		legacy = true
	}
	s.pepper = pepper

	authWrapped, err := s.storage.Meta(ctx, metaAuthSecret)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		if !legacy {
			return fmt.Errorf("the auth secret (setting %q) is missing: the database was changed by something other than coffer; restore a backup", metaAuthSecret)
		}
		secret := envelope.GenerateKey()
		authWrapped, err = s.keyring.Wrap(secret, authAADUpgrade)
		envelope.Zero(secret)
		if err != nil {
			return fmt.Errorf("seal auth secret: %w", err)
		}
		if err := s.storage.SetMeta(ctx, metaAuthSecret, authWrapped); coffer.ErrorCode(err) == coffer.ECONFLICT {
			// another server upgrades at the same time: use its secret
			if authWrapped, err = s.storage.Meta(ctx, metaAuthSecret); err != nil {
				return fmt.Errorf("read auth secret: %w", err)
			}
		} else if err != nil {
			return fmt.Errorf("store auth secret: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("read auth secret: %w", err)
	}
	if secret, err := s.keyring.Unwrap(authWrapped, authAADUpgrade); err == nil {
		// A database made before record MACs, or whose upgrade stopped:
		// bind the records that have no MAC, then mark the upgrade done.
		k := deriveAuthKeys(secret, nil)
		n, err := s.bindUnbound(ctx, k.record)
		if err != nil {
			return fmt.Errorf("bind records: %w", err)
		}
		if legacy {
			fresh, err := s.keyring.Wrap(pepper, pepperAAD)
			if err != nil {
				return fmt.Errorf("seal pepper: %w", err)
			}
			if err := s.storage.SwapMeta(ctx, metaPepper, wrapped, fresh); err != nil && coffer.ErrorCode(err) != coffer.EPRECONDITION {
				return fmt.Errorf("re-seal pepper: %w", err)
			}
		}
		ready, err := s.keyring.Wrap(secret, authAADReady)
		envelope.Zero(secret)
		if err != nil {
			return fmt.Errorf("seal auth secret: %w", err)
		}
		if err := s.storage.SwapMeta(ctx, metaAuthSecret, authWrapped, ready); err != nil && coffer.ErrorCode(err) != coffer.EPRECONDITION {
			return fmt.Errorf("store auth secret: %w", err)
		}
		s.log.Info("upgrade: records bound to the master key", "records", n)
	} else if legacy {
		return fmt.Errorf("the pepper is sealed in its first form but the auth secret is not: the database was changed by something other than coffer; restore a backup")
	}
	k, err := s.readAuthKeys(ctx, nil)
	if err != nil {
		return err
	}
	s.auth.cur.Store(k)
	return nil
}

// createSecrets makes the pepper and the auth secret of a new database. The
// pepper goes last: Initialized tells a database by it.
func (s *Service) createSecrets(ctx context.Context) error {
	secret := envelope.GenerateKey()
	defer envelope.Zero(secret)
	authWrapped, err := s.keyring.Wrap(secret, authAADReady)
	if err != nil {
		return fmt.Errorf("seal auth secret: %w", err)
	}
	err = s.storage.SetMeta(ctx, metaAuthSecret, authWrapped)
	if coffer.ErrorCode(err) == coffer.ECONFLICT {
		// A first start that stopped before the pepper: nothing uses
		// the secret it left, replace it.
		var left []byte
		if left, err = s.storage.Meta(ctx, metaAuthSecret); err == nil {
			err = s.storage.SwapMeta(ctx, metaAuthSecret, left, authWrapped)
		}
	}
	if err != nil {
		return fmt.Errorf("store auth secret: %w", err)
	}
	pepper := envelope.GenerateKey()
	wrapped, err := s.keyring.Wrap(pepper, pepperAAD)
	if err != nil {
		return fmt.Errorf("seal pepper: %w", err)
	}
	if err := s.storage.SetMeta(ctx, metaPepper, wrapped); err != nil {
		return fmt.Errorf("store pepper: %w", err)
	}
	s.pepper = pepper
	k := deriveAuthKeys(secret, nil)
	k.wrapped, k.fetched = authWrapped, time.Now()
	s.auth.cur.Store(k)
	return nil
}

// recordMAC is HMAC-SHA256 under key over the kind and the fields, each
// prefixed by its length.
func recordMAC(key []byte, kind string, fields ...string) []byte {
	size := len("coffer/record/v1") + len(kind) + 8
	for _, f := range fields {
		size += 4 + len(f)
	}
	b := make([]byte, 0, size)
	for _, f := range append([]string{"coffer/record/v1", kind}, fields...) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return m.Sum(nil)
}

func accountMAC(key []byte, a *coffer.Account) []byte {
	return recordMAC(key, "account", a.ID, a.Name)
}

func principalMAC(key []byte, p *coffer.Principal) []byte {
	return recordMAC(key, "principal", p.ID, p.AccountID, p.Name, p.Kind)
}

func apiKeyMAC(key []byte, k *coffer.APIKey) []byte {
	admin, expires, revoked := "0", "never", "0"
	if k.Admin {
		admin = "1"
	}
	if k.RevokedAt != nil {
		revoked = "1"
	}
	if k.ExpiresAt != nil {
		expires = strconv.FormatInt(k.ExpiresAt.UnixNano(), 10)
	}
	f := make([]string, 0, 8+6*len(k.Scopes))
	f = append(f, k.ID, k.AccountID, k.PrincipalID, admin, expires, revoked, string(k.Hash), strconv.Itoa(len(k.Scopes)))
	for _, sc := range k.Scopes {
		f = append(f, sc.Store, sc.Secret, sc.ObjectType, sc.ObjectID, strconv.Itoa(len(sc.Actions)))
		for _, a := range sc.Actions {
			f = append(f, string(a))
		}
	}
	return recordMAC(key, "api-key", f...)
}

func hotkeyMAC(key []byte, h *coffer.Hotkey) []byte {
	return recordMAC(key, "hotkey", h.SS58, h.AccountID, h.PrincipalID)
}

func operatorMAC(key []byte, accountID string) []byte {
	return recordMAC(key, "operator", accountID)
}

// macFunc returns the MAC of a record under a key, the record's kind, its
// id and its stored MAC. rec is a *coffer.Account, *coffer.Principal,
// *coffer.APIKey or *coffer.Hotkey.
func macFunc(rec any) (f func(key []byte) []byte, kind coffer.RecordKind, id string, stored []byte) {
	switch r := rec.(type) {
	case *coffer.Account:
		return func(key []byte) []byte { return accountMAC(key, r) }, coffer.KindAccount, r.ID, r.MAC
	case *coffer.Principal:
		return func(key []byte) []byte { return principalMAC(key, r) }, coffer.KindPrincipal, r.ID, r.MAC
	case *coffer.APIKey:
		return func(key []byte) []byte { return apiKeyMAC(key, r) }, coffer.KindAPIKey, r.ID, r.MAC
	case *coffer.Hotkey:
		return func(key []byte) []byte { return hotkeyMAC(key, r) }, coffer.KindHotkey, r.SS58, r.MAC
	}
	panic(fmt.Sprintf("no MAC for %T", rec))
}

// bind sets the MAC of a record about to be created.
func (s *Service) bind(ctx context.Context, rec any) {
	f, _, _, _ := macFunc(rec)
	mac := f(s.authKeys(ctx).record)
	switch r := rec.(type) {
	case *coffer.Account:
		r.MAC = mac
	case *coffer.Principal:
		r.MAC = mac
	case *coffer.APIKey:
		r.MAC = mac
	case *coffer.Hotkey:
		r.MAC = mac
	}
}

// bound reports whether a record read from storage carries a valid MAC,
// under the current record key or the one a running rotation replaces.
// When it does not, it logs and audits the refusal (ids only).
func (s *Service) bound(ctx context.Context, rec any) bool {
	f, kind, id, stored := macFunc(rec)
	k := s.authKeys(ctx)
	if len(stored) > 0 && (hmac.Equal(f(k.record), stored) || k.prevRecord != nil && hmac.Equal(f(k.prevRecord), stored)) {
		return true
	}
	s.log.Warn("refused a record whose MAC does not verify: changed outside coffer", "kind", kind.String(), "id", id)
	ev := &coffer.AuditEvent{Time: s.now().UTC(), AccountID: s.operator, PrincipalID: "system", Action: "record.refuse",
		Outcome: coffer.EFORBIDDEN, Name: id, Reason: kind.String() + " record fails its MAC: changed outside coffer"}
	if c := coffer.CallerFrom(ctx); c != nil {
		ev.RequestID, ev.Remote, ev.Face = c.RequestID, c.RemoteAddr, c.Face
	}
	if err := s.storage.Audit(ctx, ev); err != nil {
		s.log.Warn("audit refused record", "err", err)
	}
	return false
}

// forEachRecord calls fn with every account, principal, API key and hotkey.
func (s *Service) forEachRecord(ctx context.Context, fn func(rec any) error) error {
	after := ""
	for {
		page, err := s.storage.Accounts(ctx, after, coffer.MaxPageSize)
		if err != nil {
			return fmt.Errorf("list accounts: %w", err)
		}
		for _, a := range page {
			if err := fn(a); err != nil {
				return err
			}
			ps, err := s.storage.Principals(ctx, a.ID)
			if err != nil {
				return fmt.Errorf("list principals: %w", err)
			}
			for _, p := range ps {
				if err := fn(p); err != nil {
					return err
				}
			}
			ks, err := s.storage.APIKeys(ctx, a.ID)
			if err != nil {
				return fmt.Errorf("list api keys: %w", err)
			}
			for _, k := range ks {
				if err := fn(k); err != nil {
					return err
				}
			}
			hs, err := s.storage.Hotkeys(ctx, a.ID)
			if err != nil {
				return fmt.Errorf("list hotkeys: %w", err)
			}
			for _, h := range hs {
				if err := fn(h); err != nil {
					return err
				}
			}
		}
		if len(page) < coffer.MaxPageSize {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// bindUnbound MACs, under recordKey, every record without a MAC and the
// operator setting when it has none. Only the upgrade runs it.
func (s *Service) bindUnbound(ctx context.Context, recordKey []byte) (int, error) {
	n := 0
	err := s.forEachRecord(ctx, func(rec any) error {
		f, kind, id, stored := macFunc(rec)
		if len(stored) > 0 {
			return nil
		}
		err := s.storage.SetRecordMAC(ctx, kind, id, nil, f(recordKey))
		switch coffer.ErrorCode(err) {
		case "":
			n++
		case coffer.ENOTFOUND, coffer.EPRECONDITION: // gone, or bound by another server
		default:
			return err
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	if op, err := s.storage.Meta(ctx, metaOperator); err == nil {
		err := s.storage.SetMeta(ctx, metaOperatorMAC, operatorMAC(recordKey, string(op)))
		if err != nil && coffer.ErrorCode(err) != coffer.ECONFLICT {
			return n, fmt.Errorf("bind operator account: %w", err)
		}
	} else if coffer.ErrorCode(err) != coffer.ENOTFOUND {
		return n, fmt.Errorf("read operator account: %w", err)
	}
	return n, nil
}

// loadOperator reads the operator account setting and checks its MAC.
func (s *Service) loadOperator(ctx context.Context) error {
	op, err := s.storage.Meta(ctx, metaOperator)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return nil
	} else if err != nil {
		return fmt.Errorf("read operator account: %w", err)
	}
	mac, err := s.storage.Meta(ctx, metaOperatorMAC)
	if err != nil && coffer.ErrorCode(err) != coffer.ENOTFOUND {
		return fmt.Errorf("read operator account: %w", err)
	}
	k := s.auth.cur.Load()
	if len(mac) == 0 || !hmac.Equal(operatorMAC(k.record, string(op)), mac) &&
		(k.prevRecord == nil || !hmac.Equal(operatorMAC(k.prevRecord, string(op)), mac)) {
		return fmt.Errorf("the operator account setting fails its MAC: the database was changed by something other than coffer; restore a backup")
	}
	s.operator = string(op)
	return nil
}

// RecordCheck is what CheckRecords found.
type RecordCheck struct {
	Checked int
	// Failed names the records whose MAC does not verify: "APIKey <id>",
	// "Account <id>", ..., "setting operator_account".
	Failed []string
	// Unbound is set when the database was not yet bound (a server of
	// this version has not started on it): nothing was checked.
	Unbound bool
	// Rotating is set while a master-key rotation has not finished
	// binding records again (run it again if none is running).
	Rotating bool
}

// CheckRecords verifies the MAC of every record that each passes to its
// function (*coffer.Account, *coffer.Principal, *coffer.APIKey,
// *coffer.Hotkey) and of the operator setting, for `coffer doctor`, which
// reads the database without opening it as a server does.
func CheckRecords(ctx context.Context, meta MetaReader, keyring *envelope.Keyring, each func(fn func(rec any) error) error) (*RecordCheck, error) {
	read := func(key string) ([]byte, error) {
		v, err := meta.Meta(ctx, key)
		if coffer.ErrorCode(err) == coffer.ENOTFOUND {
			return nil, nil
		}
		return v, err
	}
	wrapped, err := read(metaAuthSecret)
	if err != nil {
		return nil, fmt.Errorf("read auth secret: %w", err)
	}
	out := &RecordCheck{}
	secret, err := keyring.Unwrap(wrapped, authAADReady)
	if err != nil {
		if pepper, _ := read(metaPepper); pepper != nil {
			if _, err := keyring.Unwrap(pepper, pepperAADv1); err == nil {
				out.Unbound = true
				return out, nil
			}
		}
		return nil, fmt.Errorf("the auth secret (setting %q) is missing or does not open: the database was changed by something other than coffer", metaAuthSecret)
	}
	defer envelope.Zero(secret)
	prevWrapped, err := read(metaAuthPrev)
	if err != nil {
		return nil, fmt.Errorf("read auth secret: %w", err)
	}
	var prev []byte
	if len(prevWrapped) > 0 {
		if prev, err = keyring.Unwrap(prevWrapped, authAADPrev); err != nil {
			return nil, fmt.Errorf("unseal previous auth secret: %w", err)
		}
		out.Rotating = true
	}
	k := deriveAuthKeys(secret, prev)
	ok := func(f func([]byte) []byte, stored []byte) bool {
		return len(stored) > 0 && (hmac.Equal(f(k.record), stored) || k.prevRecord != nil && hmac.Equal(f(k.prevRecord), stored))
	}
	err = each(func(rec any) error {
		f, kind, id, stored := macFunc(rec)
		out.Checked++
		if !ok(f, stored) {
			out.Failed = append(out.Failed, kind.String()+" "+id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if op, err := read(metaOperator); err != nil {
		return nil, fmt.Errorf("read operator account: %w", err)
	} else if op != nil {
		out.Checked++
		mac, err := read(metaOperatorMAC)
		if err != nil {
			return nil, fmt.Errorf("read operator account: %w", err)
		}
		if !ok(func(key []byte) []byte { return operatorMAC(key, string(op)) }, mac) {
			out.Failed = append(out.Failed, "setting "+metaOperator)
		}
	}
	return out, nil
}

// bindRevoked MACs the key id again once storage marked it revoked, so that
// clearing its revocation in the database makes it fail its MAC. A key whose
// MAC did not verify before is left as it is: binding it now would accept
// whatever was changed in it.
func (s *Service) bindRevoked(ctx context.Context, id string) error {
	k, err := s.storage.APIKey(ctx, id)
	if err != nil || k.RevokedAt == nil {
		return err
	}
	keys := s.authKeys(ctx)
	if hmac.Equal(apiKeyMAC(keys.record, k), k.MAC) {
		return nil // already bound as revoked
	}
	live := *k
	live.RevokedAt = nil
	if len(k.MAC) == 0 || !hmac.Equal(apiKeyMAC(keys.record, &live), k.MAC) &&
		(keys.prevRecord == nil || !hmac.Equal(apiKeyMAC(keys.prevRecord, &live), k.MAC)) {
		return nil // changed outside coffer: stays refused
	}
	err = s.storage.SetRecordMAC(ctx, coffer.KindAPIKey, id, k.MAC, apiKeyMAC(keys.record, k))
	if code := coffer.ErrorCode(err); code == coffer.EPRECONDITION || code == coffer.ENOTFOUND {
		return nil // changed meanwhile (a rotation binds it); a revoked key is refused either way
	}
	return err
}
