// Package service implements coffer's rules over a coffer.Storage: who may
// do what (API keys and scopes), sealing and opening values with envelope
// encryption, version and compare-and-set semantics, and the audit event of
// every change and every value read.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
)

var (
	_ coffer.SecretService  = (*Service)(nil)
	_ coffer.KeyService     = (*Service)(nil)
	_ coffer.AuditService   = (*Service)(nil)
	_ coffer.Authenticator  = (*Service)(nil)
	_ coffer.AccountService = (*Service)(nil)
	_ coffer.Refuser        = (*Service)(nil)

	_ coffer.AccessTokenIssuer = (*Service)(nil)
)

// Meta keys written at first start.
const (
	metaPepper   = "pepper"
	metaOperator = "operator_account" // id of the account whose admin keys run the server
)

// keyCacheTTL bounds how long a revoked key can keep working on a server
// that did not revoke it itself.
const keyCacheTTL = time.Second

// Service implements the root service interfaces.
type Service struct {
	storage coffer.Storage
	keyring *envelope.Keyring
	log     *slog.Logger
	now     func() time.Time
	window  int64  // AuditWindow
	pepper  []byte // keys API key hashes; sealed by the master key in Meta
	// auth holds the keys derived from the auth secret (records.go): one
	// signs access tokens, one MACs records. Every server of a database
	// shares them and no one without the master key has them.
	auth authState
	// operator is the id of the operator account (see coffer.Caller).
	operator string
	limiter  failLimiter
	// rate is the per-account request rate limiter; nil limits nothing.
	rate *accountLimiter
	// requireCert refuses requests without a mapped client certificate
	// (Options.RequireClientCert).
	requireCert bool
	// auditBudget bounds the failed authentications audited per account.
	auditBudget auditBudget

	keysMu sync.RWMutex
	keys   map[string]cachedKey // API keys by id, fetched at most keyCacheTTL ago
	hk     hotkeyCache          // registered hotkeys, fetched at most keyCacheTTL ago
	vocab  vocab                // what the faces registered

	ciphersMu sync.RWMutex
	ciphers   map[cipherRef]*envelope.Cipher // unwrapped store data keys

	usedMu sync.Mutex
	used   map[string]time.Time // last-used times not yet written

	// Accounts and principals never change once created; faces name them
	// on every request (tenant and creator names), so they are kept.
	idMu       sync.RWMutex
	accounts   map[string]*coffer.Account
	principals map[string]*coffer.Principal

	lists    genCache[listKey, *coffer.SecretPage] // unfiltered listing pages
	versions genCache[versionKey, versionHit]      // value lookups, ciphertext included
	secrets  genCache[secretKey, *coffer.Secret]   // metadata lookups
	history  genCache[string, []*coffer.Version]   // version lists by secret id
	counts   genCache[string, int]                 // live secrets by store id
	homes    homes                                 // store ids by secret id

	jwt jwtState // service/jwt_keys.go: key sources of trust configurations

	stop chan struct{}
	done chan struct{}
}

type cachedKey struct {
	key     *coffer.APIKey
	fetched time.Time
}

type cipherRef struct {
	storeID string
	keyID   int
}

// Options tune a Service.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time // defaults to time.Now
	// AuditWindow is how many sequence numbers one filtered page of
	// audit events covers at most; 0 is coffer.AuditScanWindow.
	AuditWindow int64
	// RateLimits are the per-account request rate limits every
	// authentication applies (see Service.Authenticate); the zero value
	// limits nothing.
	RateLimits RateLimits
	// RequireClientCert refuses every authentication of a request whose
	// context carries no mapped client certificate (WithClientCertKey): the
	// server's --tls-client-auth require.
	RequireClientCert bool

	// What the faces register (vocab.go). KeyFormats are the API key token
	// formats beside coffer's own. Hotkeys reads the keys and signatures
	// of hotkey-signed requests; without it every signed request and
	// hotkey registration is refused. FirstReadClears are secret
	// attributes that the first read of a secret's value removes, through
	// any face (Cloudflare's pending state).
	KeyFormats      []coffer.KeyFormat
	Hotkeys         coffer.SignatureScheme
	FirstReadClears []string

	// JWT says how the keys of JWT trust configurations are fetched.
	JWT JWTOptions
}

// New returns a Service over storage. On a new database it creates the
// server's API key pepper sealed with the master key; on an existing one it
// unseals it, which fails with a clear error when keyring does not hold the
// master key the data was sealed with.
func New(ctx context.Context, storage coffer.Storage, keyring *envelope.Keyring, opts Options) (*Service, error) {
	v, err := newVocab(opts)
	if err != nil {
		return nil, err
	}
	s := &Service{
		vocab:   v,
		storage: storage,
		keyring: keyring,
		log:     opts.Logger,
		now:     opts.Now,
		window:  opts.AuditWindow,
		keys:    map[string]cachedKey{},
		ciphers: map[cipherRef]*envelope.Cipher{},
		used:    map[string]time.Time{},

		accounts:   map[string]*coffer.Account{},
		principals: map[string]*coffer.Principal{},
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.rate = newAccountLimiter(opts.RateLimits, s.now)
	s.requireCert = opts.RequireClientCert
	s.jwt.opts = opts.JWT
	if s.window <= 0 {
		s.window = coffer.AuditScanWindow
	}
	if err := s.loadSecrets(ctx); err != nil {
		return nil, err
	}
	if err := s.loadOperator(ctx); err != nil {
		return nil, err
	}
	go s.flushLoop()
	return s, nil
}

// Initialized reports whether storage holds a server's data: the sealed
// pepper, which the first start writes before anything else.
func Initialized(ctx context.Context, storage coffer.Storage) (bool, error) {
	_, err := storage.Meta(ctx, metaPepper)
	switch coffer.ErrorCode(err) {
	case "":
		return true, nil
	case coffer.ENOTFOUND:
		return false, nil
	}
	return false, fmt.Errorf("read pepper: %w", err)
}

// ErrWrongMasterKey is returned by New when the master key does not open the
// data it is given.
var ErrWrongMasterKey = errors.New("the master key does not match this data: it was sealed with another master key")

// Close writes pending last-used times and stops background work.
func (s *Service) Close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	<-s.done
}

func (s *Service) flushLoop() {
	defer close(s.done)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.flushUsed()
		case <-s.stop:
			s.flushUsed()
			return
		}
	}
}

func (s *Service) flushUsed() {
	s.usedMu.Lock()
	used := s.used
	s.used = map[string]time.Time{}
	s.usedMu.Unlock()
	if len(used) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.storage.TouchAPIKeys(ctx, used); err != nil {
		s.log.Warn("record key last-used times", "err", err, "keys", len(used))
	}
}

// caller returns the request's caller or EUNAUTHORIZED.
func caller(ctx context.Context) (*coffer.Caller, error) {
	c := coffer.CallerFrom(ctx)
	if c == nil || c.AccountID == "" {
		return nil, coffer.Errorf(coffer.EUNAUTHORIZED, "authentication required")
	}
	return c, nil
}

// event starts an audit event for the caller.
func (s *Service) event(c *coffer.Caller, action string) *coffer.AuditEvent {
	return &coffer.AuditEvent{
		Time:        s.now().UTC(),
		AccountID:   c.AccountID,
		PrincipalID: c.PrincipalID,
		KeyID:       c.KeyID,
		Action:      action,
		RequestID:   c.RequestID,
		Remote:      c.RemoteAddr,
		Face:        c.Face,
	}
}

// authorize checks a scope and, when it refuses, records the refusal in the
// audit log and returns EFORBIDDEN. ev is the event the action would have
// written; on success its Reason names the scope that allowed it.
func (s *Service) authorize(ctx context.Context, c *coffer.Caller, action coffer.Action, st *coffer.Store, secret string, ev *coffer.AuditEvent) error {
	ok, by := c.Allows(action, st.ID, st.Name, secret)
	if ok {
		ev.Reason = by
		return nil
	}
	ev.Outcome = coffer.EFORBIDDEN
	ev.Reason = "no scope grants " + string(action)
	if err := s.storage.Audit(ctx, ev); err != nil {
		return fmt.Errorf("audit refusal: %w", err)
	}
	return coffer.Errorf(coffer.EFORBIDDEN, "this API key may not %s here", action)
}

// audit appends events that record no change, such as value reads.
func (s *Service) audit(ctx context.Context, evs ...*coffer.AuditEvent) error {
	for _, ev := range evs {
		if ev.Outcome == "" {
			ev.Outcome = "ok"
		}
	}
	if err := s.storage.Audit(ctx, evs...); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func (s *Service) cipher(ctx context.Context, accountID, storeID string, keyID int) (*envelope.Cipher, error) {
	ref := cipherRef{storeID, keyID}
	s.ciphersMu.RLock()
	c := s.ciphers[ref]
	s.ciphersMu.RUnlock()
	if c != nil {
		return c, nil
	}
	wrapped, err := s.storage.StoreKey(ctx, accountID, storeID, keyID)
	if err != nil {
		return nil, fmt.Errorf("read store key: %w", err)
	}
	dek, err := s.keyring.Unwrap(wrapped, storeKeyAAD(accountID, storeID, keyID))
	if err != nil {
		return nil, fmt.Errorf("unseal store key %s/%d: %w", storeID, keyID, err)
	}
	defer envelope.Zero(dek)
	if c, err = envelope.NewCipher(uint32(keyID), dek); err != nil {
		return nil, err
	}
	s.ciphersMu.Lock()
	if len(s.ciphers) >= 10000 { // bounded: start over rather than grow without end
		s.ciphers = map[cipherRef]*envelope.Cipher{}
	}
	s.ciphers[ref] = c
	s.ciphersMu.Unlock()
	return c, nil
}

func storeKeyAAD(accountID, storeID string, keyID int) []byte {
	return envelope.AAD("store-key", accountID, storeID, strconv.Itoa(keyID))
}

func valueAAD(sec *coffer.Secret, version int) []byte {
	return envelope.AAD("value", sec.AccountID, sec.StoreID, sec.ID, strconv.Itoa(version))
}

// open decrypts a version read from storage.
func (s *Service) open(ctx context.Context, sec *coffer.Secret, v *coffer.Version) ([]byte, error) {
	c, err := s.cipher(ctx, sec.AccountID, sec.StoreID, v.KeyID)
	if err != nil {
		return nil, err
	}
	plain, err := c.Open(v.Ciphertext, valueAAD(sec, v.Number))
	if err != nil {
		// Not the caller's fault and never their data: log where, not what.
		return nil, fmt.Errorf("open secret %s version %d: %w", sec.ID, v.Number, err)
	}
	return plain, nil
}

// sealer returns a SealFunc that encrypts value with the store's current key.
func (s *Service) sealer(ctx context.Context, st *coffer.Store, value []byte) (coffer.SealFunc, error) {
	c, err := s.cipher(ctx, st.AccountID, st.ID, st.KeyID)
	if err != nil {
		return nil, err
	}
	return func(sec *coffer.Secret, version int) ([]byte, int, error) {
		return c.Seal(value, valueAAD(sec, version)), st.KeyID, nil
	}, nil
}
