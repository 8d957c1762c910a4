package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
)

// This file keeps the web console's sessions (coffer.ConsoleSessions).

// sessionKeys are what a session id gives, each by HMAC-SHA256 keyed with
// the id's 32 bytes under its own label: the id storage keeps the session
// under, the key that seals its API key there, and its CSRF token.
type sessionKeys struct {
	id   []byte
	seal *envelope.Cipher
	csrf string
}

// deriveSession returns the keys of the session id; false when id is not
// one.
func deriveSession(id string) (*sessionKeys, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) != 32 {
		return nil, false
	}
	mac := func(label string) []byte {
		h := hmac.New(sha256.New, raw)
		h.Write([]byte(label))
		return h.Sum(nil)
	}
	key := mac("coffer console session: seal key")
	seal, err := envelope.NewCipher(0, key)
	envelope.Zero(key)
	if err != nil {
		return nil, false
	}
	return &sessionKeys{id: mac("coffer console session: storage id"), seal: seal,
		csrf: base64.RawURLEncoding.EncodeToString(mac("coffer console session: csrf token"))}, true
}

// SessionStorageID returns the id under which storage keeps the console
// session id (nil when it is not a session id).
func SessionStorageID(id string) []byte {
	k, ok := deriveSession(id)
	if !ok {
		return nil
	}
	return k.id
}

// StartConsoleSession implements coffer.ConsoleSessions.
func (s *Service) StartConsoleSession(ctx context.Context, token string, now time.Time, idle, max time.Duration) (id, csrf string, err error) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	id = base64.RawURLEncoding.EncodeToString(b[:])
	k, _ := deriveSession(id)
	err = s.storage.CreateConsoleSession(ctx, &coffer.ConsoleSession{ID: k.id, Sealed: k.seal.Seal([]byte(token), k.id),
		CreatedAt: now, IdleUntil: now.Add(idle), ExpiresAt: now.Add(max)})
	if err != nil {
		return "", "", err
	}
	return id, k.csrf, nil
}

// ResumeConsoleSession implements coffer.ConsoleSessions. It moves the
// idle end on in storage only once idle/16 has passed since the last move,
// so a session in steady use writes about once a minute at a 15-minute
// idle time, and may end up to idle/16 early.
func (s *Service) ResumeConsoleSession(ctx context.Context, id string, now time.Time, idle time.Duration) (token, csrf string, ok bool, err error) {
	k, ok := deriveSession(id)
	if !ok {
		return "", "", false, nil
	}
	st, err := s.storage.ConsoleSession(ctx, k.id)
	if coffer.ErrorCode(err) == coffer.ENOTFOUND {
		return "", "", false, nil
	} else if err != nil {
		return "", "", false, err
	}
	if st.Ended(now) {
		return "", "", false, s.storage.DeleteConsoleSession(ctx, k.id)
	}
	key, err := k.seal.Open(st.Sealed, k.id)
	if err != nil { // not sealed under this id: not this id's session
		return "", "", false, nil
	}
	if st.IdleUntil.Sub(now) < idle-idle/16 {
		if err := s.storage.ExtendConsoleSession(ctx, k.id, now.Add(idle)); err != nil {
			return "", "", false, err
		}
	}
	return string(key), k.csrf, true, nil
}

// EndConsoleSession implements coffer.ConsoleSessions.
func (s *Service) EndConsoleSession(ctx context.Context, id string) error {
	k, ok := deriveSession(id)
	if !ok {
		return nil
	}
	return s.storage.DeleteConsoleSession(ctx, k.id)
}
