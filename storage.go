package coffer

import (
	"context"
	"errors"
	"time"
)

// Storage is the persistence contract. Every method that touches tenant data
// takes the account id and filters by it in the query itself, so that an
// object of another account answers exactly like a missing one (ENOTFOUND).
//
// Every write method takes the audit event that describes it and appends it
// to the hash chain in the same transaction, so the event is durable exactly
// when the change is. Storage fills in the event's Seq, hashes, and the ids
// and version numbers it assigns, and sets Outcome to "ok", or to the error
// code when the write is refused; a refused write still appends its event
// and changes nothing else. Engines may group concurrent writes into one
// transaction and one fsync, but each write succeeds or fails on its own.
//
// Storage never sees a plaintext value: callers pass Seal functions that turn
// the assigned (secret, version) into ciphertext inside the write.
type Storage interface {
	// Meta returns a server-wide setting (ENOTFOUND if unset).
	Meta(ctx context.Context, key string) ([]byte, error)
	// SetMeta stores a server-wide setting; it fails with ECONFLICT if the key
	// is already set (settings are written once, at first start).
	SetMeta(ctx context.Context, key string, value []byte) error
	// SwapMeta replaces a setting's value with value, but only while it
	// still is old (compare-and-set): EPRECONDITION when it changed,
	// ENOTFOUND when it is not set. Master-key rotation rewraps the sealed
	// settings with it.
	SwapMeta(ctx context.Context, key string, old, value []byte) error

	// CreateAccount adds an account.
	CreateAccount(ctx context.Context, a *Account, ev *AuditEvent) error
	// Account returns an account by id (ENOTFOUND).
	Account(ctx context.Context, id string) (*Account, error)
	// Accounts lists accounts ordered by id, after the given id.
	Accounts(ctx context.Context, after string, limit int) ([]*Account, error)

	// CreatePrincipal adds a principal to its account (ECONFLICT when the
	// account already has a principal of that name).
	CreatePrincipal(ctx context.Context, p *Principal, ev *AuditEvent) error
	// Principal returns a principal of the account by id (ENOTFOUND).
	Principal(ctx context.Context, accountID, id string) (*Principal, error)
	// Principals lists the principals of an account ordered by name.
	Principals(ctx context.Context, accountID string) ([]*Principal, error)
	// UpdatePrincipal changes a principal's attributes in one transaction:
	// each entry of changes with a value sets that attribute, each with an
	// empty value removes it, and the others stay. It returns the principal
	// as it is after the change (ENOTFOUND; EINVALID when the result would
	// hold more than MaxLabels attributes).
	UpdatePrincipal(ctx context.Context, accountID, id string, changes map[string]string, ev *AuditEvent) (*Principal, error)

	// CreateAPIKey adds a key (ECONFLICT if its id exists).
	CreateAPIKey(ctx context.Context, k *APIKey, ev *AuditEvent) error
	// APIKey returns a key by id, in any account, for authentication
	// (ENOTFOUND).
	APIKey(ctx context.Context, id string) (*APIKey, error)
	// APIKeys lists the keys of an account, newest first.
	APIKeys(ctx context.Context, accountID string) ([]*APIKey, error)
	// RevokeAPIKey marks a key revoked (ENOTFOUND; revoking twice is ok).
	RevokeAPIKey(ctx context.Context, accountID, id string, at time.Time, ev *AuditEvent) error
	// TouchAPIKeys records last-used times in bulk, without audit.
	TouchAPIKeys(ctx context.Context, used map[string]time.Time) error

	// SetRecordMAC replaces the MAC of an account, principal, API key or
	// hotkey (kind KindAccount, KindPrincipal, KindAPIKey or KindHotkey;
	// id is the hotkey's address for hotkeys) with mac, but only while it
	// still is old (compare-and-set; nil old matches a record without a
	// MAC): EPRECONDITION when it changed, ENOTFOUND when the record is
	// missing. Records keep the MAC they were created with (the MAC fields
	// of the types); the service computes them. Not audited: the service
	// audits the operation that re-binds records.
	SetRecordMAC(ctx context.Context, kind RecordKind, id string, old, mac []byte) error

	// AddHotkey registers a hotkey to a principal of its account (ENOTFOUND
	// for a missing account, or a principal not in it; ECONFLICT if the
	// address is registered already, to anyone in any account: a signed
	// request names no account, so an address finds one principal).
	AddHotkey(ctx context.Context, h *Hotkey, ev *AuditEvent) error
	// Hotkey returns a hotkey by address, in any account, for
	// authentication (ENOTFOUND).
	Hotkey(ctx context.Context, ss58 string) (*Hotkey, error)
	// Hotkeys lists the hotkeys of an account, oldest first.
	Hotkeys(ctx context.Context, accountID string) ([]*Hotkey, error)
	// RemoveHotkey unregisters a hotkey of the account (ENOTFOUND, also for
	// another account's).
	RemoveHotkey(ctx context.Context, accountID, ss58 string, ev *AuditEvent) error
	// UseNonce records one use of key, a nonce that stays valid until
	// expires, without audit: ECONFLICT if key was used before and that use
	// has not expired at time at. Concurrent calls with one key, on any
	// server of the database, succeed exactly once. Expired entries count as
	// unused and are purged by the engine from time to time. It runs on
	// every signed request: engines keep it cheap. Engines may acknowledge
	// a use before it is on disk: PostgreSQL commits it with
	// synchronous_commit=off (it survives a crash of coffer, a crash of
	// the database machine may forget the last moments' uses); SQLite,
	// whose database one process owns, decides in memory and persists
	// behind (a crash of coffer may forget the last few milliseconds'
	// uses). A forgotten use lets that one signed request be replayed once
	// within its nonce's validity.
	UseNonce(ctx context.Context, key string, at, expires time.Time) error

	ConsoleSessionStorage
	JWTStorage
	AppRoleStorage

	// CreateStore adds a store with its first data key, wrapped by the master
	// key (ECONFLICT if the name is taken in the account).
	CreateStore(ctx context.Context, s *Store, wrappedKey []byte, ev *AuditEvent) error
	// CreateStores adds the stores of a batch, each as CreateStore does, in
	// one transaction: all of them or none; see StoreBatch.
	CreateStores(ctx context.Context, b *StoreBatch) error
	// Store returns a store by id or name (ENOTFOUND), with its current Gen.
	// Every write below that changes a secret or version of a store (create,
	// new version, metadata, status, purge, destroy) changes the store's Gen
	// in the same transaction. It is the hot path of every request: engines
	// may answer it from memory only if they see every write.
	Store(ctx context.Context, accountID, ref string) (*Store, error)
	// Stores lists stores ordered by name, after the given name.
	Stores(ctx context.Context, accountID string, after string, limit int) ([]*Store, error)
	// ListStores lists an account's stores; see StoreQuery.
	ListStores(ctx context.Context, accountID string, q StoreQuery) ([]*Store, error)
	// CountStores counts the account's stores that q's filters (Name,
	// Contains) match, whatever its paging.
	CountStores(ctx context.Context, accountID string, q StoreQuery) (int, error)
	// DeleteStore removes a store. Unless force is set it fails with ECONFLICT
	// while the store holds secrets that are not deleted; with force, all its
	// secrets and versions go too.
	DeleteStore(ctx context.Context, accountID, storeID string, force bool, ev *AuditEvent) error
	// UpdateStore changes a store's comment and attributes (see StoreUpdate)
	// and its UpdatedAt, and returns the store as it is after the change
	// (ENOTFOUND). It leaves Gen alone: no secret or version changes.
	UpdateStore(ctx context.Context, accountID, storeID string, u *StoreUpdate, ev *AuditEvent) (*Store, error)
	// StoreKey returns a wrapped data key of a store (ENOTFOUND).
	StoreKey(ctx context.Context, accountID, storeID string, keyID int) ([]byte, error)
	// StoreKeys lists the data keys of every store of every account,
	// ordered by store id, then key id, starting after the key (afterStore,
	// afterKey); ("", 0) starts at the first. It serves master-key rotation
	// and its status, which the operator runs over the whole database.
	StoreKeys(ctx context.Context, afterStore string, afterKey, limit int) ([]*AccountStoreKey, error)
	// RewrapStoreKey replaces the wrapped bytes of a store's data key with
	// wrapped, but only while they still are old (compare-and-set): it
	// fails with EPRECONDITION when they changed, ENOTFOUND when the key or
	// its store is missing or in another account. The data key inside is
	// the same one, wrapped by another master key, so versions and the
	// store's Gen stay as they are.
	RewrapStoreKey(ctx context.Context, accountID, storeID string, keyID int, old, wrapped []byte, ev *AuditEvent) error
	// AddStoreKey adds the data key keyID to a store and makes it the key of
	// new versions (the store's KeyID), but only while the store's KeyID is
	// keyID-1 (EPRECONDITION otherwise; ENOTFOUND). Versions sealed with
	// earlier keys keep their key ids and stay readable. It returns the
	// store as it is after the change; Gen stays.
	AddStoreKey(ctx context.Context, accountID, storeID string, keyID int, wrapped []byte, ev *AuditEvent) (*Store, error)
	// ReencryptVersion replaces a version's ciphertext and key id, but only
	// while its ciphertext still is old (compare-and-set): EPRECONDITION
	// when it changed (or the version was destroyed), ENOTFOUND when the
	// version is missing or in another account. The value inside is the
	// same; the store's Gen changes, as for any change of a version.
	ReencryptVersion(ctx context.Context, accountID, secretID string, version int, old, ciphertext []byte, keyID int, ev *AuditEvent) error

	// WriteSecret creates a secret or adds a version to it; see SecretWrite.
	// It returns the secret as it is after the write and the new version
	// number (0 when the secret was created pending, without a value).
	WriteSecret(ctx context.Context, w *SecretWrite, ev *AuditEvent) (*Secret, error)
	// WriteSecrets applies a batch of writes and updates to the secrets of
	// one store in one transaction, all or nothing; see SecretBatch. It
	// returns the secrets as they are after the batch, one per item, in
	// item order.
	WriteSecrets(ctx context.Context, b *SecretBatch) ([]*Secret, error)
	// Secret returns a secret of a store by ref (ENOTFOUND). A ref that is
	// an id (IsID) names the secret (live or deleted) with that id, else,
	// only when the store has none, the live secret of that name (a legacy
	// name: new names may not be IDShaped); any other ref names the live
	// secret of that name. So a name can never hide an id.
	Secret(ctx context.Context, accountID, storeID, ref string) (*Secret, error)
	// SecretByID returns a secret of the account (live or deleted) by id,
	// whichever store holds it (ENOTFOUND): for faces whose paths name a
	// secret without its store.
	SecretByID(ctx context.Context, accountID, id string) (*Secret, error)
	// Secrets lists the secrets of a store; see SecretQuery.
	Secrets(ctx context.Context, accountID, storeID string, q SecretQuery) ([]*Secret, error)
	// CountSecrets counts the secrets of a store that q's filters (Prefix,
	// Contains, IncludeDeleted) match, whatever its paging (ENOTFOUND for a
	// missing store).
	CountSecrets(ctx context.Context, accountID, storeID string, q SecretQuery) (int, error)
	// UpdateSecret changes a secret's metadata or status; see SecretUpdate.
	UpdateSecret(ctx context.Context, accountID, secretID string, u *SecretUpdate, ev *AuditEvent) (*Secret, error)
	// PurgeSecret removes a deleted secret and all its versions for good
	// (ENOTFOUND; ECONFLICT if it is not deleted).
	PurgeSecret(ctx context.Context, accountID, secretID string, ev *AuditEvent) error

	// Versions lists a secret's versions, newest first, without ciphertext
	// (DeletedAt included).
	Versions(ctx context.Context, accountID, secretID string) ([]*Version, error)
	// ReadVersion resolves store and secret refs as Store and Secret do (id
	// first, then name) and returns the secret with the version
	// numbered version (latest when 0), ciphertext and DeletedAt included.
	// ENOTFOUND when any of them is missing, the secret is deleted or
	// pending, or the version was destroyed. A soft-deleted version is
	// returned: the caller refuses it (Version.Deleted).
	ReadVersion(ctx context.Context, accountID, storeRef, secretRef string, version int) (*Secret, *Version, error)
	// DestroyVersion erases a version's ciphertext for good and keeps its
	// metadata (ENOTFOUND).
	DestroyVersion(ctx context.Context, accountID, secretID string, version int, at time.Time, ev *AuditEvent) error
	// DeleteVersions soft-deletes the listed versions of a secret that is
	// not deleted, at time at (see VersionDeleter and
	// Version.MarkDeleted): a version that is missing, destroyed or deleted
	// by at already is left alone; one whose deletion is scheduled later
	// is deleted at at. It returns the secret (ENOTFOUND when it is
	// missing or deleted). The store's Gen changes when a version does.
	DeleteVersions(ctx context.Context, accountID, secretID string, versions []int, at time.Time, ev *AuditEvent) (*Secret, error)
	// UndeleteVersions clears the deletion, done or scheduled, of the
	// listed versions of a secret that is not deleted; the others are left
	// alone, as in DeleteVersions. at is the time of the change.
	UndeleteVersions(ctx context.Context, accountID, secretID string, versions []int, at time.Time, ev *AuditEvent) (*Secret, error)

	// Audit appends events that record no change (value reads, refusals).
	Audit(ctx context.Context, evs ...*AuditEvent) error
	// AuditEvents lists at most q.Limit events (coffer.MaxPageSize when 0)
	// that q selects (see AuditQuery.Matches), in ascending sequence order
	// or, with q.Newest, descending. An empty accountID lists every
	// account's events. The query is valid (AuditQuery.Validate).
	AuditEvents(ctx context.Context, accountID string, q AuditQuery) ([]*AuditEvent, error)
	// AuditHead returns the newest link of the chain (nil if the log is empty).
	AuditHead(ctx context.Context) (*AuditHead, error)

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close flushes pending writes and closes the database.
	Close() error
}

// ConsoleSession is a web console sign-in as storage keeps it, so that
// every server of a database serves it and it outlives a restart. Storage
// never sees what the browser holds: ID is derived from the session id in
// the browser's cookie, and Sealed is the API key the session acts as,
// encrypted with a key derived from that id too.
type ConsoleSession struct {
	ID        []byte // 32 bytes
	Sealed    []byte
	CreatedAt time.Time
	// IdleUntil is when the session ends unless it is used before; a use
	// moves it on. ExpiresAt is when it ends in any case.
	IdleUntil time.Time
	ExpiresAt time.Time
}

// Ended reports whether the session has ended at now.
func (s *ConsoleSession) Ended(now time.Time) bool {
	return !now.Before(s.IdleUntil) || !now.Before(s.ExpiresAt)
}

// ConsoleSessionStorage is the part of Storage that keeps console sessions. Its
// writes are not audited (the console audits sign-in and sign-out) and
// sessions are not part of a dump: a restored database has none.
type ConsoleSessionStorage interface {
	// CreateConsoleSession adds a session (ECONFLICT if its id exists) and
	// deletes the sessions that have ended by its CreatedAt.
	CreateConsoleSession(ctx context.Context, s *ConsoleSession) error
	// ConsoleSession returns a session by id, ended or not (ENOTFOUND).
	ConsoleSession(ctx context.Context, id []byte) (*ConsoleSession, error)
	// ExtendConsoleSession moves a session's IdleUntil to until, if that is
	// later; a missing session is left missing.
	ExtendConsoleSession(ctx context.Context, id []byte, until time.Time) error
	// DeleteConsoleSession deletes a session; a missing one is no error.
	DeleteConsoleSession(ctx context.Context, id []byte) error
}

// SealFunc encrypts a value for the given secret and version number. Storage
// calls it inside the write, once the number is assigned, and stores the
// ciphertext and the data key id it returns.
type SealFunc func(s *Secret, version int) (ciphertext []byte, keyID int, err error)

// SecretWrite describes a create or a new version.
type SecretWrite struct {
	AccountID string
	StoreID   string
	// Name of the live secret to write. When there is none and Create is set,
	// Create is inserted (its ID, metadata and Origin filled in by the caller).
	Name   string
	Create *Secret
	// CreateOnly fails with ECONFLICT when a live secret of that name exists.
	CreateOnly bool
	// IfVersion, when > 0, makes the write fail with EPRECONDITION unless the
	// secret's latest version is IfVersion. -1 requires that no live secret of
	// that name exists (EPRECONDITION otherwise).
	IfVersion int
	// Seal, when set, adds a version and makes the secret active. When nil
	// (only allowed with Create), the secret is created pending.
	Seal SealFunc
	By   string // principal id recorded on the version
	At   time.Time
	// Update, when set and the secret exists, is applied with the new
	// version (metadata changes that travel with a value).
	Update *SecretUpdate
	// KeepVersions, when > 0 and the write adds a version, destroys in the
	// write's transaction every older version that still holds a value
	// and is not among the KeepVersions newest (SecretPut.KeepVersions).
	KeepVersions int
	// DeleteAt, when set and the write adds a version, is the new
	// version's DeletedAt (SecretPut.DeleteVersionAfter).
	DeleteAt *time.Time
}

// SecretBatch is what WriteSecrets applies to the secrets of one store, all
// or nothing: the items in order, each as WriteSecret or UpdateSecret would
// apply it alone, seeing the items before it. The first item that fails
// fails the batch with its error (a *BatchItemError naming it), and nothing of the batch is written. Every
// item's event is appended either way, with the batch's outcome.
type SecretBatch struct {
	AccountID string
	StoreID   string
	// Store, when set, is created first, as CreateStore does with its first
	// data key StoreKey (wrapped) and the event StoreEvent; StoreID must be
	// its ID. A group of secrets is then made whole or not at all.
	Store      *Store
	StoreKey   []byte
	StoreEvent *AuditEvent
	Items      []SecretBatchItem
	// MaxLiveSecrets, when > 0, is a quota on the account: a batch that
	// creates a secret fails with ECONFLICT (matching ErrSecretLimit with
	// errors.Is) when the account would hold more live (pending or active)
	// secrets than this after it, in all its stores. It is checked in the
	// batch's transaction, so that concurrent batches cannot overrun it.
	MaxLiveSecrets int
}

// StoreBatch is what CreateStores adds to one account, all or nothing: the
// first store that fails fails the batch with its error (a
// *BatchItemError naming it). Every item's event is appended either way,
// with the batch's outcome.
type StoreBatch struct {
	AccountID string
	Items     []StoreBatchItem
	// MaxStores, when > 0, is a quota on the account: the batch fails with
	// ECONFLICT (matching ErrStoreLimit) when the account would hold more
	// stores than this after it. It is checked in the batch's transaction.
	MaxStores int
}

// StoreBatchItem is one store of a StoreBatch, of the batch's account,
// with its first data key (wrapped) and the event that records it.
type StoreBatchItem struct {
	Store *Store
	Key   []byte
	Event *AuditEvent
}

// ErrStoreLimit is matched (errors.Is) by the ECONFLICT error of a create
// refused because it would overrun a quota of stores.
var ErrStoreLimit = errors.New("store limit reached")

// SecretBatchItem is one change of a SecretBatch: Write (whose AccountID
// and StoreID are the batch's), or Update of the secret SecretID of the
// batch's store. Event records it.
type SecretBatchItem struct {
	Write    *SecretWrite
	SecretID string
	Update   *SecretUpdate
	Event    *AuditEvent
}

// ErrSecretLimit is matched (errors.Is) by the ECONFLICT error of a write
// refused because it would overrun a quota of live secrets.
var ErrSecretLimit = errors.New("secret limit reached")

// SecretUpdate changes metadata and status. Nil fields are left alone.
type SecretUpdate struct {
	Comment    *string
	Labels     map[string]string // replaces all labels when non-nil
	Scopes     []string          // replaces all scopes when non-nil
	Attributes map[string]string // replaces all attributes when non-nil
	// MergeAttributes, when non-nil, merges into the attributes (after
	// Attributes): each key with a value is set, each with "" is removed.
	// EINVALID when the result holds more than MaxLabels attributes. It is
	// applied to the secret as stored, inside the write, so that
	// concurrent merges of different keys all take effect.
	MergeAttributes map[string]string
	// ExpiresAt sets the expiry when non-nil; the zero time removes it.
	ExpiresAt *time.Time
	// Status moves the secret: to StatusDeleted (soft delete; ENOTFOUND if
	// already deleted) or from deleted back to live (undelete; ECONFLICT if a
	// live secret holds its name; it returns to active, or pending when it
	// has no version).
	Status *Status
	// IfVersion as in SecretWrite.
	IfVersion int
	At        time.Time
	// KeepUpdatedAt leaves the secret's UpdatedAt as it is: for a change
	// that is not a modification of the secret, such as the service's
	// removal of an attribute on the first value read.
	KeepUpdatedAt bool
}

// SecretQuery filters and pages a secret listing. Results are ordered by
// Order (name when empty), then name, then id, descending on Order's field
// with Desc (and on all three with OrderName); After is the (name, id) of
// the last secret of the previous page, for OrderName only, and Offset
// skips that many results.
type SecretQuery struct {
	Prefix         string
	AfterName      string
	AfterID        string
	Limit          int
	IncludeDeleted bool
	// Contains keeps the names that contain it (case-sensitive).
	Contains string
	Order    SecretOrder
	Desc     bool
	Offset   int
}

// StoreQuery filters, orders and pages a store listing. Results are
// ordered by Order (name when empty), then name, then id, descending on
// Order's field with Desc (and on both with OrderName); Offset skips that
// many results, and Limit is as in SecretQuery.
type StoreQuery struct {
	// Name, when set, keeps only the store of that name.
	Name string
	// Contains keeps the names that contain it (case-sensitive).
	Contains string
	Order    SecretOrder
	Desc     bool
	Offset   int
	Limit    int
}

// AccountStoreKey is a wrapped data key of a store with the store's account,
// which the wrapping binds it to.
type AccountStoreKey struct {
	AccountID string
	StoreKey
}
