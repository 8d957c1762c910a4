package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/coffer-dev/coffer"
)

var (
	_ coffer.HotkeyAuthenticator = (*Service)(nil)
	_ coffer.HotkeyService       = (*Service)(nil)
)

// nonceWindow is how far a signed request's nonce (unix seconds) may be
// from now, either way: |now - nonce| < 600 s.
const nonceWindow = 600 * time.Second

// hotkeyKeyID is what a hotkey's caller and audit events carry as KeyID,
// so that the audit log tells signed requests from API keys.
func hotkeyKeyID(addr string) string { return "hotkey:" + addr }

// hotkeyCache maps hotkey addresses as requests spell them to their parsed
// key and registration, fetched at most keyCacheTTL ago, so that a removal
// made by another server takes effect within that time. Only registered
// hotkeys are cached: a registration works at once. The zero value is
// ready to use.
type hotkeyCache struct {
	mu sync.RWMutex
	m  map[string]cachedHotkey
}

type cachedHotkey struct {
	addr    string // canonical (Options.Hotkeys' ParseKey)
	pub     coffer.VerifyKey
	hk      *coffer.Hotkey
	fetched time.Time
}

func (c *hotkeyCache) get(spelled string, now time.Time) (cachedHotkey, bool) {
	c.mu.RLock()
	e, ok := c.m[spelled]
	c.mu.RUnlock()
	if !ok || now.Sub(e.fetched) >= keyCacheTTL || now.Before(e.fetched) {
		return cachedHotkey{}, false
	}
	return e, true
}

func (c *hotkeyCache) put(spelled string, e cachedHotkey) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= cacheSize {
		c.m = map[string]cachedHotkey{}
	}
	c.m[spelled] = e
	c.mu.Unlock()
}

// forget drops every spelling of the canonical address addr.
func (c *hotkeyCache) forget(addr string) {
	c.mu.Lock()
	for k, e := range c.m {
		if e.addr == addr {
			delete(c.m, k)
		}
	}
	c.mu.Unlock()
}

// hotkey resolves a hotkey as a request spells it: its canonical address
// and key (nil when it is no key of the registered signature scheme) and
// its registration (nil when it is not registered).
func (s *Service) hotkey(ctx context.Context, spelled string) (cachedHotkey, error) {
	now := s.now()
	if e, ok := s.hk.get(spelled, now); ok {
		return e, nil
	}
	if s.vocab.scheme == nil {
		return cachedHotkey{}, nil
	}
	addr, pub, err := s.vocab.scheme.ParseKey(spelled)
	if err != nil {
		return cachedHotkey{}, nil
	}
	e := cachedHotkey{addr: addr, pub: pub, fetched: now}
	e.hk, err = s.storage.Hotkey(ctx, e.addr)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return e, nil
	} else if err != nil {
		return cachedHotkey{}, fmt.Errorf("read hotkey: %w", err)
	}
	if !s.bound(ctx, e.hk) { // records.go: changed outside coffer; as if not registered
		e.hk = nil
		return e, nil
	}
	s.hk.put(spelled, e)
	return e, nil
}

// parseNonce parses a nonce of 1-18 ASCII digits as unix seconds.
func parseNonce(s string) (time.Time, bool) {
	if s == "" || len(s) > 18 {
		return time.Time{}, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// authenticateHotkey checks a hotkey signature (see
// Service.AuthenticateHotkey, which adds the client certificate and rate
// rules). It checks, in the order of coffer.HotkeyReason (Chutes' order),
// the nonce (all digits, less than 600 s from now either way), the hotkey (a
// key of the scheme Options.Hotkeys, registered), and the signature; then it
// records the use of the nonce and signature in storage, so that a replay
// fails on every server of the database. The caller it returns is the
// hotkey's principal with the powers of an admin key, KeyID
// "hotkey:<address>".
//
// Failures are *coffer.HotkeyRefusal, which the face words. They are
// audited (auth.fail, with the reason, never the signature or the message)
// in the log of the hotkey's account when it is registered, else in the
// operator's, and count against the client's address in the
// failure limiter. They do not count against the hotkey: hotkeys are
// public, so a budget per hotkey would let anyone lock its owner out, and
// no number of attempts helps forge a signature.
func (s *Service) authenticateHotkey(ctx context.Context, p coffer.HotkeyProof) (*coffer.Caller, error) {
	now := s.now()
	wait := s.limiter.wait(now, p.RemoteIP)
	e, err := s.hotkey(ctx, p.Hotkey)
	if err != nil {
		return nil, err
	}
	fail := func(reason coffer.HotkeyReason) error {
		if wait > 0 { // see Service.failed
			return rateLimited(wait)
		}
		s.limiter.fail(now, p.RemoteIP)
		ev := &coffer.AuditEvent{Time: now.UTC(), AccountID: s.operator, Action: "auth.fail",
			Outcome: coffer.EUNAUTHORIZED, Reason: string(reason), Remote: p.RemoteIP}
		if e.addr != "" {
			ev.KeyID = hotkeyKeyID(e.addr)
		}
		if e.hk != nil {
			ev.AccountID, ev.PrincipalID = e.hk.AccountID, e.hk.PrincipalID
		}
		if c := coffer.CallerFrom(ctx); c != nil {
			ev.RequestID, ev.Face = c.RequestID, c.Face
		}
		if err := s.auditFailure(ctx, ev); err != nil {
			return err
		}
		return &coffer.HotkeyRefusal{Reason: reason,
			Err: coffer.Errorf(coffer.EUNAUTHORIZED, "signed request refused: %s", reason)}
	}
	nonce, ok := parseNonce(p.Nonce)
	if d := now.Sub(nonce); !ok || d >= nonceWindow || d <= -nonceWindow {
		return nil, fail(coffer.HotkeyBadNonce)
	}
	switch {
	case e.pub == nil:
		return nil, fail(coffer.HotkeyMalformedKey)
	case e.hk == nil:
		return nil, fail(coffer.HotkeyUnknown)
	}
	sig, err := s.vocab.scheme.ParseSignature(p.Signature)
	if err != nil {
		return nil, fail(coffer.HotkeyMalformedSignature)
	}
	if !e.pub.Verify(p.Message, sig) {
		return nil, fail(coffer.HotkeyBadSignature)
	}
	// The replay cache keys on what makes a request unique: the key, the
	// nonce as sent and the signature's bytes (hex case does not matter),
	// hashed so that no signature is kept at rest.
	h := sha256.New()
	h.Write([]byte(e.addr))
	h.Write([]byte{0})
	h.Write([]byte(p.Nonce))
	h.Write([]byte{0})
	h.Write(sig)
	// The nonce's time leads the key, so that consecutive uses land next
	// to each other in the engine's index instead of on random pages.
	key := "hotkey:" + fmt.Sprintf("%012d", nonce.Unix()) + ":" + hex.EncodeToString(h.Sum(nil))
	if err := s.storage.UseNonce(ctx, key, now, nonce.Add(nonceWindow)); coffer.ErrorCode(err) == coffer.ECONFLICT {
		return nil, fail(coffer.HotkeyReplayed)
	} else if err != nil {
		return nil, fmt.Errorf("record nonce: %w", err)
	}
	hk := e.hk
	return &coffer.Caller{
		AccountID: hk.AccountID, PrincipalID: hk.PrincipalID, KeyID: hotkeyKeyID(e.addr), Admin: true,
		Operator: hk.AccountID == s.operator, RemoteAddr: p.RemoteIP,
	}, nil
}

// parseHotkey parses an address given to the hotkey API into its canonical
// form (EINVALID).
func (s *Service) parseHotkey(spelled string) (string, error) {
	if s.vocab.scheme == nil {
		return "", coffer.Errorf(coffer.EINVALID, "hotkeys are not enabled: no face registered a signature scheme")
	}
	addr, _, err := s.vocab.scheme.ParseKey(spelled)
	if err != nil {
		return "", coffer.Errorf(coffer.EINVALID, "%s", err.Error())
	}
	return addr, nil
}

// RegisterHotkey implements coffer.HotkeyService.
func (s *Service) RegisterHotkey(ctx context.Context, principalID, spelled string) (*coffer.Hotkey, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ev := s.event(c, "hotkey.add")
	addr, perr := s.parseHotkey(spelled)
	ev.Name = addr
	if err := s.requireAdmin(ctx, c, ev); err != nil {
		return nil, err
	}
	if perr != nil {
		return nil, perr
	}
	if c.ExpiresAt != nil {
		// A hotkey acts as an admin of its principal and does not expire:
		// no credential outlives the key (or token) that makes it.
		return nil, s.refuse(ctx, ev, "a key that expires cannot register a hotkey (hotkeys do not expire); use a key without an expiry")
	}
	if principalID == "" {
		principalID = c.PrincipalID
	}
	ev.Reason = "admin; for principal " + principalID
	h := &coffer.Hotkey{SS58: addr, AccountID: c.AccountID, PrincipalID: principalID, CreatedAt: s.now().UTC()}
	s.bind(ctx, h)
	if err := s.storage.AddHotkey(ctx, h, ev); err != nil {
		return nil, err
	}
	return h, nil
}

// Hotkeys implements coffer.HotkeyService.
func (s *Service) Hotkeys(ctx context.Context) ([]*coffer.Hotkey, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !c.Admin {
		return nil, coffer.Errorf(coffer.EFORBIDDEN, "this action needs an admin API key")
	}
	return s.storage.Hotkeys(ctx, c.AccountID)
}

// RemoveHotkey implements coffer.HotkeyService.
func (s *Service) RemoveHotkey(ctx context.Context, spelled string) error {
	c, err := caller(ctx)
	if err != nil {
		return err
	}
	ev := s.event(c, "hotkey.remove")
	addr, perr := s.parseHotkey(spelled)
	ev.Name = addr
	if err := s.requireAdmin(ctx, c, ev); err != nil {
		return err
	}
	if perr != nil {
		return perr
	}
	err = s.storage.RemoveHotkey(ctx, c.AccountID, addr, ev)
	s.hk.forget(addr) // also after a failure: the cache may be stale
	return err
}
