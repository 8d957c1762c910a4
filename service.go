package coffer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strconv"
	"time"
	"unicode/utf8"
)

// SecretService is what every face does with stores, secrets and values. The
// service package implements it over Storage; the client package implements
// it over the native HTTP API. The caller comes from the context
// (CallerFrom); without one every method fails with EUNAUTHORIZED, and a
// caller whose scopes do not allow the action gets EFORBIDDEN, or ENOTFOUND
// where revealing existence would leak (objects in other accounts).
type SecretService interface {
	// CreateStore creates a store (EINVALID, ECONFLICT).
	CreateStore(ctx context.Context, in *StoreCreate) (*Store, error)
	// Store returns a store by id or name (ENOTFOUND).
	Store(ctx context.Context, ref string) (*Store, error)
	// Stores lists stores by name (EINVALID for a bad cursor).
	Stores(ctx context.Context, p Page) (*StorePage, error)
	// UpdateStore changes a store's comment or attributes; the caller needs
	// ActionAdmin on the store (EINVALID, ENOTFOUND).
	UpdateStore(ctx context.Context, ref string, in *StoreUpdate) (*Store, error)
	// DeleteStore deletes a store; without force, ECONFLICT while it holds
	// live secrets.
	DeleteStore(ctx context.Context, ref string, force bool) error

	// PutSecret writes a new version of the named secret, creating it when
	// missing (EINVALID, ETOOLARGE, EPRECONDITION, ECONFLICT, ENOTFOUND).
	PutSecret(ctx context.Context, store string, in *SecretPut) (*Secret, error)
	// Secret returns a secret's metadata (ENOTFOUND).
	Secret(ctx context.Context, store, ref string) (*Secret, error)
	// SecretByID returns a secret's metadata by id alone, in whichever store
	// holds it, live or deleted (ENOTFOUND): for faces whose paths carry no
	// store. The caller needs ActionRead on it, as for Secret.
	SecretByID(ctx context.Context, id string) (*Secret, error)
	// Secrets lists secrets by name (EINVALID for a bad cursor or prefix).
	Secrets(ctx context.Context, store string, q ListSecrets) (*SecretPage, error)
	// UpdateSecret changes comment, labels, usage scopes and expiry
	// (EINVALID, EPRECONDITION).
	UpdateSecret(ctx context.Context, store, ref string, in *SecretPatch) (*Secret, error)
	// Reveal returns a value: the latest version, or version when > 0
	// (ENOTFOUND also for destroyed versions; ECONFLICT for an expired
	// secret, whose refusal is audited).
	Reveal(ctx context.Context, store, ref string, version int) (*Value, error)
	// RevealMany returns many latest values in one call; see RevealQuery.
	// Expired secrets are left out and named in ValuePage.Expired.
	RevealMany(ctx context.Context, store string, q *RevealQuery) (*ValuePage, error)
	// Versions lists a secret's versions, newest first.
	Versions(ctx context.Context, store, ref string) ([]*Version, error)
	// Rollback writes the value of version to as a new version
	// (ENOTFOUND, EPRECONDITION).
	Rollback(ctx context.Context, store, ref string, to, ifVersion int) (*Secret, error)
	// DeleteSecret soft-deletes a secret; it stays recoverable by id
	// (ENOTFOUND, EPRECONDITION).
	DeleteSecret(ctx context.Context, store, ref string, ifVersion int) (*Secret, error)
	// UndeleteSecret restores a deleted secret, by id or by name (the most
	// recently deleted one of that name); ECONFLICT if the name is live again.
	UndeleteSecret(ctx context.Context, store, ref string) (*Secret, error)
	// PurgeSecret removes a deleted secret for good (ECONFLICT if live).
	PurgeSecret(ctx context.Context, store, ref string) error
	// DestroyVersion erases one version's value for good (ENOTFOUND).
	DestroyVersion(ctx context.Context, store, ref string, version int) error
}

// SecretDuplicator copies a secret's value into a new secret of the same
// store without handing the value to the caller (Cloudflare's "duplicate").
// The service package implements it; it is separate from SecretService so
// that other implementations of SecretService stay valid.
type SecretDuplicator interface {
	// DuplicateSecret creates the secret in.Name whose first version holds
	// the latest value of the secret ref. The caller needs ActionReveal on
	// the source (the copy is a read of its value) and ActionWrite on the new
	// name (EINVALID, ENOTFOUND, ECONFLICT when the name is taken or the
	// source has no value, EFORBIDDEN).
	DuplicateSecret(ctx context.Context, store, ref string, in *SecretDuplicate) (*Secret, error)
}

// SecretDuplicate is the input of DuplicateSecret. The copy keeps the
// source's labels; Comment, when nil, is the source's comment.
type SecretDuplicate struct {
	Name       string
	Comment    *string
	Scopes     []string
	Attributes map[string]string
	// MaxLiveSecrets, when > 0, is the most live secrets the account may
	// hold after the copy (ECONFLICT matching ErrSecretLimit), checked in
	// the write's transaction.
	MaxLiveSecrets int
}

// SecretBatcher writes several secrets of a store at once, all or nothing,
// for faces whose requests carry many (Cloudflare's array create,
// TrueFoundry's secret groups). The service package implements it; it is
// separate from SecretService so that other implementations stay valid.
type SecretBatcher interface {
	// PutSecrets writes each of in.Puts as PutSecret would and
	// soft-deletes each live secret of in.Deletes as DeleteSecret would, in
	// one storage transaction: all of them or none. Every item is
	// authorized (ActionWrite on each put's name, ActionDelete on each
	// deleted secret) before anything is written; the first refusal is
	// audited and returned (EFORBIDDEN). A delete of a secret that is
	// already gone is left out. Otherwise the errors of the single calls
	// (EINVALID, ENOTFOUND, EPRECONDITION, ECONFLICT), as a
	// *BatchItemError whose Index is that of the put in in.Puts (a higher
	// one is a delete's, counted after the puts among those written); and
	// ECONFLICT matching ErrSecretLimit when in.MaxLiveSecrets is
	// overrun. Each item is audited. It returns the secrets written, then
	// those deleted.
	PutSecrets(ctx context.Context, store string, in *SecretBatchPut) ([]*Secret, error)
	// CreateStoreWithSecrets creates a store, as CreateStore does, with a
	// first version of each of in.Puts, all or nothing (in.Deletes must be
	// empty). The puts are authorized on the new store, by its name, before
	// anything is written, then the store create (ActionAdmin).
	CreateStoreWithSecrets(ctx context.Context, st *StoreCreate, in *SecretBatchPut) (*Store, []*Secret, error)
	// SameValues reports, for each secret of the store named by its id in
	// values, whether its current value is the one given, so that a face
	// writes only what changes. A comparison tells the caller the value, so
	// it is made only for live secrets the caller may reveal, and is
	// audited as a reveal (RevealMany); for every other secret (not found,
	// no value, not revealable) the answer is false and the put should be
	// written. ENOTFOUND for a missing store.
	SameValues(ctx context.Context, store string, values map[string][]byte) (map[string]bool, error)
	// CreateStores creates stores, each as CreateStore does, all or none:
	// every one is authorized first (EFORBIDDEN, audited, for the first
	// refused), then all are written in one storage transaction. With
	// maxStores > 0, ECONFLICT matching ErrStoreLimit when the account
	// would hold more stores than that. A store that fails comes as a
	// *BatchItemError naming it.
	CreateStores(ctx context.Context, in []*StoreCreate, maxStores int) ([]*Store, error)
}

// SecretBatchPut is the input of PutSecrets.
type SecretBatchPut struct {
	Puts []*SecretPut
	// Deletes are refs (ids or names) of live secrets to soft-delete.
	Deletes []string
	// MaxLiveSecrets, when > 0, is the most live secrets the account may
	// hold after a batch that creates any (see SecretBatch.MaxLiveSecrets).
	MaxLiveSecrets int
}

// UsageCounter counts what the caller's account holds, whatever the
// caller's scopes let it list, for quotas that limit the account as a whole
// (Cloudflare's). It returns numbers only, never a name or anything else of
// what the caller may not list. The service package implements it; it is
// separate from SecretService so that other implementations stay valid.
type UsageCounter interface {
	// Usage returns the number of stores and of live (pending or active)
	// secrets of the caller's account. Any caller of the account may ask.
	Usage(ctx context.Context) (*Usage, error)
}

// Usage is what an account holds.
type Usage struct {
	Stores  int
	Secrets int // live secrets, in every store
}

// KeyService manages API keys of the caller's account. Only admin keys may
// use it (EFORBIDDEN).
type KeyService interface {
	// CreateAPIKey mints a key and returns it with its token, which is shown
	// only this once (EINVALID).
	CreateAPIKey(ctx context.Context, in *APIKeyCreate) (*APIKey, string, error)
	// APIKeys lists the account's keys for an admin key; for any other key,
	// the keys of its own principal no wider than itself.
	APIKeys(ctx context.Context) ([]*APIKey, error)
	// RevokeAPIKey revokes a key by id (ENOTFOUND). A key that is not admin
	// may revoke only keys of its own principal no wider than itself
	// (EFORBIDDEN).
	RevokeAPIKey(ctx context.Context, id string) error
}

// AuditService reads and verifies the audit log. Only admin keys may use it.
type AuditService interface {
	// AuditEvents lists a page of the account's events that q selects,
	// oldest first or, with q.Newest, newest first (EINVALID for a bad
	// query or limit, EFORBIDDEN for a key that is not admin).
	AuditEvents(ctx context.Context, q AuditQuery) (*AuditPage, error)
	// VerifyAudit checks the whole hash chain and its recorded head.
	VerifyAudit(ctx context.Context) (*AuditReport, error)
}

// Authenticator turns a presented credential into a caller: EUNAUTHORIZED,
// with no hint whether the key is unknown, revoked or expired, or
// ERATELIMIT (with RetryAfter) once an address or a key id has failed too
// often. Failed attempts are audited.
type Authenticator interface {
	Authenticate(ctx context.Context, cred Credential) (*Caller, error)
}

// HotkeyProof is a request signed with a registered hotkey, as Chutes
// clients sign theirs: an sr25519 signature by the SS58 address Hotkey over
// Message, which the face builds as "{hotkey}:{nonce}:{purpose or body
// sha256 hex}". Nonce is the X-Chutes-Nonce header (unix seconds), Signature
// the X-Chutes-Signature header (hex).
type HotkeyProof struct {
	Hotkey    string
	Nonce     string
	Signature string
	Message   []byte
	RemoteIP  string
}

// HotkeyAuthenticator authenticates signed requests. A valid proof from a
// hotkey registered to a principal gives that principal's Caller, with the
// powers of an admin key of its account (the hotkey is the owner's own
// key); ERATELIMIT as Authenticate, and EUNAUTHORIZED as a *HotkeyRefusal
// whose reason says what was wrong (bad nonce, unknown hotkey, bad
// signature, replay), for the face to word. A nonce and signature verify
// once: a replay is refused on every server sharing the database. Keys and
// signatures are read by the SignatureScheme a face registered.
type HotkeyAuthenticator interface {
	AuthenticateHotkey(ctx context.Context, p HotkeyProof) (*Caller, error)
}

// Hotkey is an sr25519 public key, as an SS58 address, registered to a
// principal so that it can sign requests (Chutes).
type Hotkey struct {
	SS58        string    `json:"hotkey"`
	AccountID   string    `json:"account_id"`
	PrincipalID string    `json:"principal_id"`
	CreatedAt   time.Time `json:"created_at"`
	MAC         []byte    `json:"-"` // as Account.MAC
}

// HotkeyService manages the hotkeys of the caller's account. Only admin
// callers may use it (EFORBIDDEN). Addresses are taken in any one-byte SS58
// format and kept in the generic Substrate format (prefix 42, "5..."), which
// is Bittensor's: one public key is one hotkey whatever its spelling.
type HotkeyService interface {
	// RegisterHotkey registers the SS58 address ss58 to the principal
	// principalID of the caller's account, or to the caller's own principal
	// when principalID is empty (EINVALID for anything but the address of
	// an sr25519 public key, ENOTFOUND for a principal not in the account,
	// ECONFLICT when the key is registered already, in any account).
	RegisterHotkey(ctx context.Context, principalID, ss58 string) (*Hotkey, error)
	// Hotkeys lists the account's hotkeys, oldest first.
	Hotkeys(ctx context.Context) ([]*Hotkey, error)
	// RemoveHotkey unregisters a hotkey of the account (EINVALID,
	// ENOTFOUND). Its signatures stop working at once on this server and
	// within a second on every other server of the database.
	RemoveHotkey(ctx context.Context, ss58 string) error
}

// Refuser records in the audit log a refusal that a face decides on its own,
// such as a request naming an account other than the caller's. It returns
// the EFORBIDDEN error the refusal amounts to, or the failure to record it.
type Refuser interface {
	Refuse(ctx context.Context, action, name, reason string) error
}

// AccountService manages tenants and who acts in them.
type AccountService interface {
	// CreateAccount makes an account with a first principal ("admin") and an
	// admin key for it, and returns the key's token, shown only this once.
	// Only the operator may call it (EFORBIDDEN); EINVALID.
	CreateAccount(ctx context.Context, in *AccountCreate) (*AccountCreated, error)
	// Accounts lists every account (operator only), ordered by id.
	Accounts(ctx context.Context) ([]*Account, error)
	// CreatePrincipal adds a user or service account to the caller's account
	// (admin only; EINVALID, ECONFLICT for a taken name).
	CreatePrincipal(ctx context.Context, in *PrincipalCreate) (*Principal, error)
	// Principals lists the principals of the caller's account (admin only).
	Principals(ctx context.Context) ([]*Principal, error)
}

// AccountCreate is the input of CreateAccount.
type AccountCreate struct {
	Name string `json:"name"`
}

// AccountCreated is what CreateAccount returns.
type AccountCreated struct {
	Account   *Account   `json:"account"`
	Principal *Principal `json:"principal"`
	Key       *APIKey    `json:"key"`
	Token     string     `json:"token"`
}

// PrincipalCreate is the input of CreatePrincipal.
type PrincipalCreate struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // "user" or "service"
}

// StoreCreate is the input of CreateStore.
type StoreCreate struct {
	Name    string `json:"name"`
	Comment string `json:"comment,omitempty"`
	// Attributes is face-specific metadata kept with the store.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// StoreUpdate is the input of UpdateStore: each field that is set replaces
// the store's; Attributes replaces the whole map. At is the time of the
// change, set by the service.
type StoreUpdate struct {
	Comment    *string           `json:"comment,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	At         time.Time         `json:"-"`
}

// Page asks for one page of a listing. Cursor is the opaque next_cursor of
// the previous page; Limit defaults to 100 and is at most MaxPageSize.
type Page struct {
	Limit  int
	Cursor string
}

// StorePage is one page of stores.
type StorePage struct {
	Stores     []*Store `json:"stores"`
	NextCursor string   `json:"next_cursor,omitempty"`
	// Total is the number of stores the query matches that the caller may
	// see, when ListStores.Total asked for it; not in the native wire form.
	Total int `json:"-"`
}

// StoreLister lists stores with an order, a filter, an offset and a total,
// for faces that page by number. The service package implements it; it is
// separate from SecretService so that other implementations stay valid.
type StoreLister interface {
	// ListStores lists the stores that q selects and the caller may see
	// (EINVALID for a bad query).
	ListStores(ctx context.Context, q ListStores) (*StorePage, error)
}

// ListStores filters, orders and pages a store listing: see StoreQuery.
// Limit defaults to 100 and is at most MaxPageSize; Total asks for
// StorePage.Total.
type ListStores struct {
	Name     string
	Contains string
	Order    SecretOrder
	Desc     bool
	Offset   int
	Limit    int
	Total    bool
}

// SecretPut is the input of PutSecret.
type SecretPut struct {
	Name  string
	Value []byte
	// IfVersion > 0 requires that the latest version is IfVersion; -1
	// requires that no live secret of the name exists.
	IfVersion int
	Comment   *string
	Labels    map[string]string
	// Scopes, when non-nil, replaces the secret's usage scopes (Cloudflare's
	// "workers", "ai_gateway", ...).
	Scopes []string
	// Attributes, when non-nil, sets face-specific metadata on a secret that
	// the write creates; it is ignored when the secret exists.
	Attributes map[string]string
	// ReplaceAttributes makes Attributes (nil meaning none) replace the
	// attributes of a secret that exists too, in the same write as the
	// value: for faces whose writes carry the whole object (ByteNite's
	// accessKey and params).
	ReplaceAttributes bool
	// ID, when set, is the id of a secret that the write creates (32
	// lowercase hex digits; ECONFLICT if any secret, even a deleted one,
	// has it), for faces whose ids are derived from the name (Chutes'
	// uuid5). It is ignored when the secret exists.
	ID string
	// ExpiresAt, when non-nil, sets the secret's expiry with the write; the
	// zero time removes it. Nil keeps the expiry of a secret that exists
	// (none for one the write creates). See Secret.ExpiresAt and
	// ValidateExpiry.
	ExpiresAt *time.Time
	// NoValue creates the secret without a version (pending, as Cloudflare
	// and Vault's metadata-only writes make them); Value must be empty, and
	// a live secret of the name is ECONFLICT.
	NoValue bool
	// KeepVersions, when > 0, is how many of the newest versions the secret
	// keeps: the write destroys, in its own transaction, every older version
	// that still holds a value (Vault KV's max_versions). ActionWrite is
	// enough: the caller set the retention, not a destroy.
	KeepVersions int
	// DeleteVersionAfter, when > 0, schedules the new version's soft delete
	// that long after the write (Vault KV's delete_version_after): its
	// Version.DeletedAt is set to then.
	DeleteVersionAfter time.Duration
}

// SecretPatch is the input of UpdateSecret. Nil fields are left alone.
type SecretPatch struct {
	Comment *string           `json:"comment,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Scopes  []string          `json:"scopes,omitempty"` // replaces the usage scopes when non-nil
	// ExpiresAt sets the expiry; the zero time removes it (as in SecretPut).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Attributes, when non-nil, merges into the secret's face-specific
	// metadata: each key with a value is set, each with "" is removed.
	Attributes map[string]string `json:"-"`
	IfVersion  int               `json:"-"`
}

// VersionDeleter soft-deletes single versions of a secret (Vault KV's
// delete and undelete): a deleted version keeps its value but is not
// served (Reveal answers ENOTFOUND for it, RevealMany leaves the secret out
// when its latest version is deleted) until it is undeleted. The service
// package implements it; it is separate from SecretService so that other
// implementations stay valid.
type VersionDeleter interface {
	// DeleteVersions marks the listed versions of the live secret ref
	// deleted now. Versions that do not exist, are destroyed or are deleted
	// already are left alone. An empty list means the latest version, so
	// that a caller may delete it without ActionRead to learn its number.
	// The caller needs ActionDelete on the secret (EINVALID for a number
	// < 1 or too many, ENOTFOUND). It returns the secret; one audit event
	// names the versions.
	DeleteVersions(ctx context.Context, store, ref string, versions []int) (*Secret, error)
	// UndeleteVersions clears the deletion (done or scheduled) of the listed
	// versions; destroyed versions stay destroyed. ActionWrite on the
	// secret; an empty list is EINVALID; errors as DeleteVersions.
	UndeleteVersions(ctx context.Context, store, ref string, versions []int) (*Secret, error)
}

// DetailRevealer reveals a value with the records it was read from, so that
// a face answers a value read with its metadata in one call (Vault's KV
// data read). The service package implements it; it is separate from
// SecretService so that other implementations stay valid.
type DetailRevealer interface {
	// RevealDetail is Reveal, and also returns the version record read
	// and, for a caller that may read the secret's metadata
	// (ActionRead), the secret. A caller that may not read metadata gets
	// no secret: it is not refused for it, and nothing more is audited.
	RevealDetail(ctx context.Context, store, ref string, version int) (*Revealed, error)
}

// Revealed is what RevealDetail returns. The records are shared: callers
// must not change them.
type Revealed struct {
	Value   *Value
	Version *Version // without ciphertext; DeletedAt may be a scheduled deletion
	Secret  *Secret  // nil unless the caller may read the secret's metadata
}

// CapabilityChecker tells a caller what it may do, without doing it (Vault's
// sys/capabilities-self). The service package implements it.
type CapabilityChecker interface {
	// Capabilities returns the actions the caller holds on the secret named
	// name in the store, or on the store itself when name is empty, in the
	// order of Actions. A store the caller cannot see, or that does not
	// exist, gives no actions and no error. Nothing is audited: it is a
	// question about the caller's own key.
	Capabilities(ctx context.Context, store, name string) ([]Action, error)
}

// ListSecrets filters, orders and pages a secret listing. The default is
// by name, ascending, paged by Cursor.
type ListSecrets struct {
	Page
	Prefix         string
	IncludeDeleted bool
	// Contains keeps the secrets whose name contains it (case-sensitive).
	Contains string
	// Order and Desc sort the listing (see SecretOrder); ties go by name,
	// then id, ascending.
	Order SecretOrder
	Desc  bool
	// Offset skips that many secrets, for faces that page by number; it
	// cannot go with a Cursor, and a listing by offset has no NextCursor
	// unless its Order is by name ascending.
	Offset int
	// Total asks for SecretPage.Total; without it, nothing is counted.
	Total bool
}

// SecretOrder is the field a secret listing is sorted by.
type SecretOrder string

// Orders of a secret listing.
const (
	OrderName    SecretOrder = "" // name, then id
	OrderCreated SecretOrder = "created"
	OrderUpdated SecretOrder = "updated"
)

// Valid reports whether o is one of the orders.
func (o SecretOrder) Valid() bool {
	return o == OrderName || o == OrderCreated || o == OrderUpdated
}

// SecretPage is one page of secrets. It must not be changed once made: a
// page may be cached and shared, along with what an adapter derives from it
// once and keeps in Memo (the native API's encoding).
type SecretPage struct {
	Secrets    []*Secret `json:"secrets"`
	NextCursor string    `json:"next_cursor,omitempty"`
	// Total is the number of secrets the query matches that the caller may
	// list, on every page, when ListSecrets.Total asked for it. It is for
	// faces: the native wire form leaves it out.
	Total int `json:"-"`

	Memo Memo `json:"-"`
}

// RevealQuery selects values for RevealMany: either the listed Names (each
// must exist and be revealable; missing ones are reported in Missing), or,
// when Names is empty, the live secrets whose names start with Prefix that the
// caller may reveal, one page at a time.
type RevealQuery struct {
	Names  []string `json:"names,omitempty"`
	Prefix string   `json:"prefix,omitempty"`
	Limit  int      `json:"limit,omitempty"`
	Cursor string   `json:"cursor,omitempty"`
}

// ValuePage is the result of RevealMany. Expired names the secrets that
// were asked for (by name, or by prefix) but have expired: their values are
// not served.
type ValuePage struct {
	Values     []*Value `json:"values"`
	Missing    []string `json:"missing,omitempty"`
	Expired    []string `json:"expired,omitempty"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// APIKeyCreate is the input of CreateAPIKey. An admin key may mint keys for
// any principal of its account; any other key only for its own principal,
// never admin, with scopes that its own scopes cover and an expiry no later
// than its own.
type APIKeyCreate struct {
	// Format is the shape of the token: "" for coffer's own (cfr_...),
	// else the name of a KeyFormat that a face registered with the service
	// (such as Chutes' "chutes"). Every format authenticates on every face.
	Format      string     `json:"format,omitempty"`
	Name        string     `json:"name"`
	PrincipalID string     `json:"principal_id,omitempty"` // default: the caller's principal
	Admin       bool       `json:"admin"`
	Scopes      []Scope    `json:"scopes"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

// FormatNative is APIKeyCreate.Format for coffer's own tokens.
const FormatNative = ""

// AuditPage is one page of audit events.
type AuditPage struct {
	Events []*AuditEvent `json:"events"`
	// Next is the cursor of the next page: pass it as After (oldest first)
	// or Before (newest first) with the same filters; 0 at the end.
	Next int64 `json:"next,omitempty"`
}

// LogValue implements slog.LogValuer without revealing the value.
func (v Value) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", v.Name), slog.Int("version", v.Version), slog.String("value", "[REDACTED]"))
}

// valueJSON is the wire form of a Value: the value as a JSON string when it is
// valid UTF-8, else base64 with "encoding":"base64".
type valueJSON struct {
	Name     string `json:"name"`
	Version  int    `json:"version"`
	Value    string `json:"value"`
	Encoding string `json:"encoding,omitempty"`
}

// MarshalJSON renders the value in the native API's wire form.
func (v Value) MarshalJSON() ([]byte, error) {
	s, enc := EncodeValue(v.Data)
	return json.Marshal(valueJSON{Name: v.Name, Version: v.Version, Value: s, Encoding: enc})
}

// UnmarshalJSON parses the native API's wire form.
func (v *Value) UnmarshalJSON(b []byte) error {
	var w valueJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	data, err := DecodeValue(w.Value, w.Encoding)
	if err != nil {
		return err
	}
	*v = Value{Name: w.Name, Version: w.Version, Data: data}
	return nil
}

// EncodeValue returns the wire form of a value: the text itself when it is
// valid UTF-8, else standard base64 and the encoding "base64".
func EncodeValue(b []byte) (s, encoding string) {
	if utf8.Valid(b) {
		return string(b), ""
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}

// DecodeValue parses a wire value with its encoding: "" or "utf-8" for text,
// "base64" for binary (EINVALID otherwise).
func DecodeValue(s, encoding string) ([]byte, error) {
	switch encoding {
	case "", "utf-8", "utf8":
		if !utf8.ValidString(s) {
			return nil, Errorf(EINVALID, "value is not valid UTF-8; send binary values base64-encoded with \"encoding\":\"base64\"")
		}
		return []byte(s), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, Errorf(EINVALID, "value is not valid base64")
		}
		return b, nil
	}
	return nil, Errorf(EINVALID, "unknown encoding %s (want utf-8 or base64)", strconv.Quote(encoding))
}

// IdentityService tells a caller who it is and names the principals of its
// account. Faces whose provider shows tenant and subject names (TrueFoundry's
// tenantName and createdBySubject) use it; any authenticated caller may.
type IdentityService interface {
	// Whoami returns the caller's account and principal (EUNAUTHORIZED).
	Whoami(ctx context.Context) (*Account, *Principal, error)
	// Principal returns a principal of the caller's account by id
	// (ENOTFOUND, also for a principal of another account).
	Principal(ctx context.Context, id string) (*Principal, error)
}

// ProfileService reads and changes the caller's own principal's profile:
// the attributes kept with a principal for faces that show a user profile
// (ByteNite's GET and PATCH /user). Any authenticated caller may use it for
// its own principal, and only for it.
type ProfileService interface {
	// Profile returns the caller's principal as stored now, attributes
	// included (EUNAUTHORIZED).
	Profile(ctx context.Context) (*Principal, error)
	// UpdateProfile sets each attribute of changes that has a value and
	// removes each that is empty, leaving the others, and returns the
	// principal after the change. Keys are 1-63 characters and values at
	// most 255, of UTF-8, and a principal holds at most MaxLabels
	// attributes (EINVALID). It is audited as principal.update, naming the
	// keys, never the values.
	UpdateProfile(ctx context.Context, changes map[string]string) (*Principal, error)
}

// AllStores pages through every store of the account that the caller may
// see, ordered by name.
func AllStores(ctx context.Context, svc SecretService) ([]*Store, error) {
	var out []*Store
	p := Page{Limit: MaxPageSize}
	for {
		page, err := svc.Stores(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Stores...)
		if page.NextCursor == "" {
			return out, nil
		}
		p.Cursor = page.NextCursor
	}
}

// AllSecrets pages through every secret of a store that the caller may see,
// ordered by name: the live ones, and the deleted ones too when deleted is
// set.
func AllSecrets(ctx context.Context, svc SecretService, store string, deleted bool) ([]*Secret, error) {
	var out []*Secret
	q := ListSecrets{Page: Page{Limit: MaxPageSize}, IncludeDeleted: deleted}
	for {
		page, err := svc.Secrets(ctx, store, q)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Secrets...)
		if page.NextCursor == "" {
			return out, nil
		}
		q.Cursor = page.NextCursor
	}
}

// KeyRotationService rotates the keys that seal values: the master key,
// which wraps every store's data keys, and a store's data key.
type KeyRotationService interface {
	// RotateMasterKey rewraps, under the active master key, every store
	// data key and sealed setting that an older master key wraps. It runs
	// online, one key per write with compare-and-set, so readers and
	// writers go on; it may be stopped and run again, and skips what is
	// already done. Operator only (EFORBIDDEN). Keys it cannot rewrap
	// (their master key is not loaded) are counted in Unreadable.
	RotateMasterKey(ctx context.Context, reseal bool) (*MasterKeyReport, error)
	// MasterKeyStatus counts what each master key wraps, so the operator
	// knows when an old one can be retired. Operator only (EFORBIDDEN).
	MasterKeyStatus(ctx context.Context) (*MasterKeyStatus, error)
	// RotateStoreKey gives a store a new data key, which seals every new
	// version; older versions stay readable with the keys that sealed them.
	// With reencrypt it also re-seals every version of the store's live
	// secrets with the new key. It needs admin on the store (EFORBIDDEN;
	// ENOTFOUND; EPRECONDITION when another rotation of the store won).
	RotateStoreKey(ctx context.Context, ref string, reencrypt bool) (*StoreKeyRotation, error)
}

// MasterKeyStatus tells which master keys wrap data. Key ids are 8 hex
// digits (envelope.KeyID); no key material is ever shown.
type MasterKeyStatus struct {
	// Active is the id of the key that wraps new data keys.
	Active string `json:"active"`
	// Loaded are the ids of the keys this server holds, active first.
	Loaded []string `json:"loaded"`
	// Keys lists every master key that wraps something, by id.
	Keys []MasterKeyUse `json:"keys"`
}

// MasterKeyUse is what one master key wraps.
type MasterKeyUse struct {
	ID        string `json:"id"`
	StoreKeys int    `json:"store_keys"`
	Settings  int    `json:"settings"`
	// Loaded tells whether this server holds the key; when false, the data
	// it wraps cannot be read here.
	Loaded bool `json:"loaded"`
}

// Retired reports whether the master key id wraps nothing, so that it can be
// removed from the servers' configuration.
func (s *MasterKeyStatus) Retired(id string) bool {
	for _, k := range s.Keys {
		if k.ID == id {
			return false
		}
	}
	return true
}

// MasterKeyReport is what RotateMasterKey did.
type MasterKeyReport struct {
	Active string `json:"active"`
	// Rewrapped store data keys and settings; Current ones were already
	// under the active key.
	Rewrapped int `json:"rewrapped"`
	Settings  int `json:"settings_rewrapped"`
	Current   int `json:"current"`
	// Gone counts keys whose store was deleted during the run.
	Gone int `json:"gone"`
	// Unreadable counts keys wrapped by a master key this server does not
	// hold; run again on a server that has it.
	Unreadable int `json:"unreadable"`
	// Rebound counts the records (accounts, principals, API keys, hotkeys,
	// the operator setting) MACed under the new auth secret; RecordsFailed
	// those whose MAC verified under no auth secret (changed outside
	// coffer), left as they are and refused where used. A rotation always
	// replaces the auth secret: every access token ends.
	Rebound       int `json:"records_rebound"`
	RecordsFailed int `json:"records_failed"`
	// With reseal: stores given a new data key, versions re-sealed with
	// it, and versions skipped (changed meanwhile).
	Rekeyed          int `json:"stores_rekeyed,omitempty"`
	Reencrypted      int `json:"reencrypted,omitempty"`
	ReencryptSkipped int `json:"reencrypt_skipped,omitempty"`
	// Status is the status after the run.
	Status *MasterKeyStatus `json:"status"`
}

// StoreKeyRotation is what RotateStoreKey did.
type StoreKeyRotation struct {
	Store *Store `json:"store"`
	// KeyID is the store's new data key id.
	KeyID int `json:"key_id"`
	// Reencrypted versions now sealed with the new key; Skipped ones were
	// changed meanwhile (destroyed, or re-sealed by another run).
	Reencrypted int `json:"reencrypted"`
	Skipped     int `json:"skipped"`
}
