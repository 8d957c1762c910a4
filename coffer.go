// Package coffer is the domain of the coffer secrets manager: accounts,
// stores, secrets and their versions, API keys and scopes, audit events, the
// error vocabulary, and the interfaces that storage engines and services
// implement. It imports only the standard library; subpackages named after a
// technology (sqlite, envelope, api, compat/...) say how.
package coffer

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"
	"unicode/utf8"
)

// Limits shared by every face. Faces may apply stricter rules of their own.
const (
	MaxNameLen   = 255
	MaxValueSize = 64 << 10 // 64 KiB of plaintext
	MaxComment   = 1024
	MaxLabels    = 64
	MaxPageSize  = 1000
)

// Status is the lifecycle state of a secret.
type Status string

// Secret statuses. A secret is pending until its first value is written (a
// provider may create secrets that way), active while usable, and deleted
// after a soft delete: still recoverable until purged.
const (
	StatusPending Status = "pending"
	StatusActive  Status = "active"
	StatusDeleted Status = "deleted"
)

// Account is a tenant. Nothing in one account is visible from another.
type Account struct {
	ID        string    `json:"id"` // 32 lowercase hex digits
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// MAC binds the record to the server (see Storage.SetRecordMAC); it is
	// set by the service and stored as given.
	MAC []byte `json:"-"`
}

// Principal is who acts inside an account: a user or a service account.
type Principal struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Name      string `json:"name"`
	Kind      string `json:"kind"` // "user" or "service"
	// Attributes is profile data that faces show (ByteNite's firstName,
	// lastName and contactInfo), changed through ProfileService. Whoami and
	// Principal may answer from a cache that misses changes made on other
	// servers; ProfileService.Profile reads them fresh.
	Attributes map[string]string `json:"attributes,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	MAC        []byte            `json:"-"` // as Account.MAC
}

// Store is a named group of secrets with its own data-encryption key.
type Store struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	Name      string `json:"name"`
	Comment   string `json:"comment,omitempty"`
	// Attributes is face-specific metadata set when the store is created
	// (TrueFoundry's integrationId and creator, ...).
	Attributes map[string]string `json:"attributes,omitempty"`
	KeyID      int               `json:"-"` // data key used for new versions
	// Gen changes, in the same transaction, with every change to the store's
	// secrets or versions. Caches of what a store holds are valid while the
	// store's Gen is unchanged, on any number of servers.
	Gen       int64     `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Secret is a name unique among the live secrets of its store, its metadata
// and status. Its values live in Versions.
type Secret struct {
	ID         string            `json:"id"`
	AccountID  string            `json:"account_id"`
	StoreID    string            `json:"store_id"`
	Name       string            `json:"name"`
	Status     Status            `json:"status"`
	Comment    string            `json:"comment,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Scopes     []string          `json:"scopes,omitempty"`     // usage scopes (Cloudflare's "workers", ...)
	Attributes map[string]string `json:"attributes,omitempty"` // face-specific metadata (Chutes purpose, ...)
	Origin     string            `json:"origin"`               // the face that created it: native, cloudflare, ...
	Version    int               `json:"version"`              // latest version number, 0 while pending
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	DeletedAt  *time.Time        `json:"deleted_at,omitempty"`
	// ExpiresAt, when set, is when the secret expires: from then on its
	// value is not served (Reveal and RevealMany refuse it) while its
	// metadata stays listed, with this time, until someone sets a new
	// expiry, removes it or deletes the secret.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedBy string     `json:"created_by"`
}

// Expired reports whether the secret has expired at time now.
func (s *Secret) Expired(now time.Time) bool {
	return s.ExpiresAt != nil && !now.Before(*s.ExpiresAt)
}

// ETag returns the entity tag of the secret's current state, used for
// compare-and-set with If-Match. It changes with every new version.
func (s *Secret) ETag() string { return ETag(s.Version) }

// ETag formats a version number as a strong entity tag.
func ETag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// Version is one immutable value of a secret. Ciphertext is only filled by
// storage reads that ask for it and never leaves the service layer.
type Version struct {
	SecretID    string     `json:"-"`
	Number      int        `json:"version"`
	KeyID       int        `json:"-"` // store data key that sealed it
	Ciphertext  []byte     `json:"-"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by"`
	DestroyedAt *time.Time `json:"destroyed_at,omitempty"`
	// DeletedAt, when set, is when the version is (or, in the future, will
	// be) soft-deleted: from then on its value is not served until it is
	// undeleted. See VersionDeleter and SecretPut.DeleteVersionAfter.
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
}

// Deleted reports whether the version is soft-deleted at time now.
func (v *Version) Deleted(now time.Time) bool {
	return v.DeletedAt != nil && !now.Before(*v.DeletedAt)
}

// Value is a decrypted secret value. It redacts itself when printed or logged.
type Value struct {
	Name    string
	Version int
	Data    []byte
}

// String implements fmt.Stringer without revealing the value.
func (v Value) String() string {
	return "Value{" + v.Name + " v" + strconv.Itoa(v.Version) + " [REDACTED]}"
}

// GoString implements fmt.GoStringer without revealing the value.
func (v Value) GoString() string { return v.String() }

// NewID returns a new identifier of 32 lowercase hex digits, the shape
// Cloudflare uses for account, store and secret ids. The first 12 digits are
// the time in milliseconds, so ids made later sort later and database
// indexes grow at their end; the other 80 bits are random.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[6:]); err != nil {
		panic("coffer: crypto/rand failed: " + err.Error())
	}
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	return hex.EncodeToString(b[:])
}

// IsID reports whether s has the shape of an id made by NewID.
func IsID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// IDShaped reports whether s has the shape some face reads as an id: 32
// hex digits in either case (coffer's and Cloudflare's ids), or a UUID in
// its dashed 8-4-4-4-12 form, in either case (Chutes' ids). A new secret
// may not have such a name (ValidateNewSecretName), so that a name is never
// mistaken for an id; secrets named so before this rule are legacy names
// (see Storage.Secret for how refs resolve).
func IDShaped(s string) bool {
	switch len(s) {
	case 32:
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return false
		}
		s = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	default:
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// ValidateNewSecretName checks the name of a secret being created, or
// renamed to: ValidateName, and not IDShaped.
func ValidateNewSecretName(name string) error {
	if err := ValidateName("secret", name); err != nil {
		return err
	} else if IDShaped(name) {
		return Errorf(EINVALID, "secret name may not have the shape of an id (32 hex digits, or a UUID)")
	}
	return nil
}

// ValidateName checks the native rule for store and secret names: 1 to 255
// characters, each an ASCII letter, digit, '_', '-', '.' or '/'. Names may
// not be "." or "..", nor contain empty, "." or ".." path segments, so that
// a name can never be read as a path traversal.
func ValidateName(kind, name string) error {
	if name == "" {
		return Errorf(EINVALID, "%s name is required", kind)
	} else if len(name) > MaxNameLen {
		return Errorf(EINVALID, "%s name is longer than %d characters", kind, MaxNameLen)
	}
	seg := 0 // start of the current '/'-separated segment
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '/' {
			if s := name[seg:i]; s == "" || s == "." || s == ".." {
				return Errorf(EINVALID, "%s name has an empty, '.' or '..' segment", kind)
			}
			seg = i + 1
			continue
		}
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return Errorf(EINVALID, "%s name may contain only letters, digits, '_', '-', '.' and '/'", kind)
		}
	}
	return nil
}

// ValidateValue checks a secret value's size.
func ValidateValue(v []byte) error {
	if len(v) > MaxValueSize {
		return Errorf(ETOOLARGE, "value is larger than %d bytes", MaxValueSize)
	}
	return nil
}

// Bounds of an expiry time: storage keeps times as Unix nanoseconds, which
// end in 2262.
var (
	minExpiry = time.Unix(0, 0).UTC()
	maxExpiry = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ValidateExpiry checks an expiry time given to a write: nil (no change) and
// the zero time (no expiry) are valid; any other time must lie between 1970
// and 2200. A time in the past is valid: the secret is expired at once.
func ValidateExpiry(t *time.Time) error {
	if t == nil || t.IsZero() {
		return nil
	}
	if t.Before(minExpiry) || !t.Before(maxExpiry) {
		return Errorf(EINVALID, "expiry must be between 1970 and 2200")
	}
	return nil
}

// Bounds of a label (Secret.Labels): Vault KV's custom_metadata, which
// labels are on the Vault face, allows as much. MaxLabels bounds their
// number. Faces may refuse more, for their own wire limits.
const (
	MaxLabelKey   = 128 // bytes
	MaxLabelValue = 512 // bytes
)

// Bounds of an attribute (face-specific metadata of secrets and stores,
// profile data of principals; see ValidateAttributes).
const (
	MaxAttributeKey   = 63  // bytes
	MaxAttributeValue = 255 // bytes
)

// ValidateMeta checks the metadata of a secret: comment length, labels
// (keys 1 to MaxLabelKey bytes, values up to MaxLabelValue, all UTF-8; at
// most MaxLabels) and scopes.
func ValidateMeta(comment string, labels map[string]string, scopes []string) error {
	if len(comment) > MaxComment {
		return Errorf(EINVALID, "comment is longer than %d characters", MaxComment)
	} else if !utf8.ValidString(comment) {
		return Errorf(EINVALID, "comment is not valid UTF-8")
	} else if len(labels) > MaxLabels {
		return Errorf(EINVALID, "more than %d labels", MaxLabels)
	}
	if !validMap(labels, MaxLabelKey, MaxLabelValue) {
		return Errorf(EINVALID, "label keys must be 1-%d and values 0-%d bytes of UTF-8", MaxLabelKey, MaxLabelValue)
	}
	if len(scopes) > MaxLabels {
		return Errorf(EINVALID, "more than %d scopes", MaxLabels)
	}
	for _, s := range scopes {
		if s == "" || len(s) > 63 || !utf8.ValidString(s) {
			return Errorf(EINVALID, "scopes must be 1-63 characters of UTF-8")
		}
	}
	return nil
}

// ValidateAttributes checks attributes: at most MaxLabels, keys 1 to
// MaxAttributeKey bytes, values up to MaxAttributeValue, all UTF-8.
func ValidateAttributes(attrs map[string]string) error {
	if len(attrs) > MaxLabels {
		return Errorf(EINVALID, "more than %d attributes", MaxLabels)
	} else if !validMap(attrs, MaxAttributeKey, MaxAttributeValue) {
		return Errorf(EINVALID, "keys must be 1-%d and values 0-%d bytes of UTF-8", MaxAttributeKey, MaxAttributeValue)
	}
	return nil
}

// validMap reports whether every key of m is 1 to maxKey bytes and every
// value at most maxValue, all valid UTF-8.
func validMap(m map[string]string, maxKey, maxValue int) bool {
	for k, v := range m {
		if k == "" || len(k) > maxKey || len(v) > maxValue || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return false
		}
	}
	return true
}
