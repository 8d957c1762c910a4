package coffer

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"slices"
	"time"
)

// Dumper copies a whole database as a stream of records, as it is stored:
// every setting, account, principal, API key (its hash, revoked or not),
// hotkey, store with its wrapped data keys, secret in every status, version
// with its ciphertext (or none once destroyed), audit event with its chain
// links, the audit head with its MAC, the replay cache, and the AppRole
// roles, secret ids (their keyed hashes), JWT configs and JWT roles of
// workload identity. Nothing is decrypted or re-encrypted: a dump loaded
// into another engine is read with the same master key. Ids, times, sequence and version numbers are kept,
// so the audit chain of the copy verifies as the original's does.
//
// Both storage engines implement it; `coffer migrate` moves a database from
// one engine to another with it.
type Dumper interface {
	// Dump calls emit with every record of the database, from one
	// consistent snapshot, in the order of RecordKind (then by primary
	// key), and stops at the first error emit returns. Records are read
	// as they are emitted: the database never has to fit in memory. The
	// records passed to emit are not used again by Dump.
	Dump(ctx context.Context, emit func(*Record) error) error
	// Load adds the records that next returns, until it returns io.EOF,
	// to an empty database, in one transaction: any error (from next, an
	// invalid record, a record out of order, a constraint) leaves the
	// database as it was. It fails with ECONFLICT, changing nothing, when
	// the database holds any setting, account, principal, key, hotkey,
	// store, secret or audit event; with EINVALID for records out of
	// RecordKind order or a record that the engine cannot store as it is
	// (PostgreSQL's TEXT holds neither invalid UTF-8 nor NUL). Writes
	// after Load continue the loaded audit chain.
	Load(ctx context.Context, next func() (*Record, error)) error
}

// Record is one item of a dump: exactly one of its fields is set.
type Record struct {
	Meta      *MetaEntry
	Account   *Account
	Principal *Principal
	APIKey    *APIKey
	Hotkey    *Hotkey
	Store     *Store
	StoreKey  *StoreKey
	Secret    *Secret
	Version   *Version // SecretID set; Ciphertext nil once destroyed
	Audit     *AuditEvent
	AuditHead *AuditHead
	Nonce     *Nonce
	// Workload identity (issue 20), after the keys and principals they
	// name. A secret id is its keyed hash: coffer never holds the secret.
	AppRole       *AppRole
	AppRoleSecret *AppRoleSecret
	JWTConfig     *JWTConfig
	JWTRole       *JWTRole
}

// MetaEntry is a server-wide setting (Storage.Meta). The audit head, which
// SQLite keeps among its settings, is a record of its own (AuditHead).
type MetaEntry struct {
	Key   string
	Value []byte
}

// StoreKey is a data key of a store, wrapped by the master key.
type StoreKey struct {
	StoreID string
	ID      int
	Wrapped []byte
}

// Nonce is an entry of the replay cache of signed requests
// (Storage.UseNonce), by the digest of its key: engines keep no more.
type Nonce struct {
	Digest  [16]byte // NonceDigest of the key
	Expires time.Time
}

// NonceDigest is what engines keep of a key of Storage.UseNonce: the first
// 16 bytes of its SHA-256.
func NonceDigest(key string) [16]byte {
	sum := sha256.Sum256([]byte(key))
	return [16]byte(sum[:16])
}

// RecordKind says which field of a Record is set. A dump holds its records
// in this order, which is one that foreign keys allow when loading.
type RecordKind int

// Record kinds, in dump order.
const (
	KindNone RecordKind = iota // no field, or more than one, is set
	KindMeta
	KindAccount
	KindPrincipal
	KindAPIKey
	KindHotkey
	KindStore
	KindStoreKey
	KindSecret
	KindVersion
	KindAudit
	KindAuditHead
	KindNonce
	KindAppRole
	KindAppRoleSecret
	KindJWTConfig
	KindJWTRole
	numKinds
)

var kindNames = [numKinds]string{"none", "settings", "accounts", "principals", "api keys", "hotkeys", "stores",
	"store keys", "secrets", "versions", "audit events", "audit head", "nonces",
	"approles", "approle secret ids", "jwt configs", "jwt roles"}

// String returns the plural name of the kind, as summaries print it.
func (k RecordKind) String() string {
	if k < 0 || k >= numKinds {
		return "unknown"
	}
	return kindNames[k]
}

// RecordKinds returns the kinds of records, in dump order.
func RecordKinds() []RecordKind {
	out := make([]RecordKind, 0, numKinds-1)
	for k := KindMeta; k < numKinds; k++ {
		out = append(out, k)
	}
	return out
}

// Kind returns the kind of the record, KindNone unless exactly one field is
// set.
func (r *Record) Kind() RecordKind {
	kind, n := KindNone, 0
	for k, set := range [...]bool{r.Meta != nil, r.Account != nil, r.Principal != nil, r.APIKey != nil,
		r.Hotkey != nil, r.Store != nil, r.StoreKey != nil, r.Secret != nil, r.Version != nil, r.Audit != nil,
		r.AuditHead != nil, r.Nonce != nil, r.AppRole != nil, r.AppRoleSecret != nil, r.JWTConfig != nil,
		r.JWTRole != nil} {
		if set {
			kind, n = RecordKind(k+1), n+1
		}
	}
	if n != 1 {
		return KindNone
	}
	return kind
}

// RecordOrder checks that the records given to a Load come in dump order.
// The zero value is ready to use.
type RecordOrder struct {
	last RecordKind
	n    int64
}

// Check returns the kind of r, the next record, or EINVALID when r has no
// kind or comes after a record of a later kind, or is a second audit head.
func (o *RecordOrder) Check(r *Record) (RecordKind, error) {
	o.n++
	k := KindNone
	if r != nil {
		k = r.Kind()
	}
	switch {
	case k == KindNone:
		return k, Errorf(EINVALID, "dump record %d: exactly one field must be set", o.n)
	case k < o.last:
		return k, Errorf(EINVALID, "dump record %d: %s after %s: records are out of order", o.n, k, o.last)
	case k == KindAuditHead && o.last == KindAuditHead:
		return k, Errorf(EINVALID, "dump record %d: a second audit head", o.n)
	}
	o.last = k
	return k, nil
}

// DumpSummary counts the records of a dump by kind and hashes all of their
// content, so that two dumps can be compared without holding either.
type DumpSummary struct {
	counts [numKinds]int64
	h      hash.Hash
	buf    []byte
}

// NewDumpSummary returns an empty summary.
func NewDumpSummary() *DumpSummary { return &DumpSummary{h: sha256.New()} }

// Add counts and hashes the next record of the dump.
func (s *DumpSummary) Add(r *Record) {
	k := r.Kind()
	s.counts[k]++
	s.buf = r.appendCanonical(append(s.buf[:0], byte(k)))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s.buf)))
	s.h.Write(n[:])
	s.h.Write(s.buf)
}

// Count returns the number of records of kind k added.
func (s *DumpSummary) Count(k RecordKind) int64 {
	if k < 0 || k >= numKinds {
		return 0
	}
	return s.counts[k]
}

// Total returns the number of records added.
func (s *DumpSummary) Total() int64 {
	var n int64
	for _, c := range s.counts {
		n += c
	}
	return n
}

// Digest returns the SHA-256 of every record added, in order: equal dumps
// have equal digests, and any difference in any field (a time's
// nanosecond, a byte of ciphertext) changes it.
func (s *DumpSummary) Digest() []byte { return s.h.Sum(nil) }

// appendCanonical appends a fixed encoding of every field of the record:
// strings and bytes length-prefixed, absent values distinct from empty
// ones, times as Unix nanoseconds, maps in key order.
func (r *Record) appendCanonical(b []byte) []byte {
	e := canon{b}
	switch {
	case r.Meta != nil:
		e.str(r.Meta.Key)
		e.bytes(r.Meta.Value)
	case r.Account != nil:
		a := r.Account
		e.str(a.ID)
		e.str(a.Name)
		e.time(a.CreatedAt)
		e.optBytes(a.MAC)
	case r.Principal != nil:
		p := r.Principal
		e.str(p.ID)
		e.str(p.AccountID)
		e.str(p.Name)
		e.str(p.Kind)
		e.strMap(p.Attributes)
		e.time(p.CreatedAt)
		e.optBytes(p.MAC)
	case r.APIKey != nil:
		k := r.APIKey
		e.str(k.ID)
		e.str(k.AccountID)
		e.str(k.PrincipalID)
		e.str(k.Name)
		e.bool(k.Admin)
		e.bool(k.Scopes == nil)
		e.int(int64(len(k.Scopes)))
		for _, sc := range k.Scopes {
			e.str(sc.Store)
			e.str(sc.Secret)
			e.bool(sc.Actions == nil)
			e.int(int64(len(sc.Actions)))
			for _, a := range sc.Actions {
				e.str(string(a))
			}
			e.str(sc.ObjectType)
			e.str(sc.ObjectID)
		}
		e.bytes(k.Hash)
		e.time(k.CreatedAt)
		e.optTime(k.ExpiresAt)
		e.optTime(k.LastUsedAt)
		e.optTime(k.RevokedAt)
		e.optBytes(k.MAC)
	case r.Hotkey != nil:
		h := r.Hotkey
		e.str(h.SS58)
		e.str(h.AccountID)
		e.str(h.PrincipalID)
		e.time(h.CreatedAt)
		e.optBytes(h.MAC)
	case r.Store != nil:
		s := r.Store
		e.str(s.ID)
		e.str(s.AccountID)
		e.str(s.Name)
		e.str(s.Comment)
		e.strMap(s.Attributes)
		e.int(int64(s.KeyID))
		e.int(s.Gen)
		e.time(s.CreatedAt)
		e.time(s.UpdatedAt)
	case r.StoreKey != nil:
		k := r.StoreKey
		e.str(k.StoreID)
		e.int(int64(k.ID))
		e.bytes(k.Wrapped)
	case r.Secret != nil:
		s := r.Secret
		e.str(s.ID)
		e.str(s.AccountID)
		e.str(s.StoreID)
		e.str(s.Name)
		e.str(string(s.Status))
		e.str(s.Comment)
		e.strMap(s.Labels)
		e.bool(s.Scopes == nil)
		e.int(int64(len(s.Scopes)))
		for _, sc := range s.Scopes {
			e.str(sc)
		}
		e.strMap(s.Attributes)
		e.str(s.Origin)
		e.int(int64(s.Version))
		e.time(s.CreatedAt)
		e.time(s.UpdatedAt)
		e.optTime(s.DeletedAt)
		e.optTime(s.ExpiresAt)
		e.str(s.CreatedBy)
	case r.Version != nil:
		v := r.Version
		e.str(v.SecretID)
		e.int(int64(v.Number))
		e.int(int64(v.KeyID))
		e.bool(v.Ciphertext == nil)
		e.bytes(v.Ciphertext)
		e.time(v.CreatedAt)
		e.str(v.CreatedBy)
		e.optTime(v.DestroyedAt)
		if v.DeletedAt != nil { // after the field was added: older dumps keep their digests
			e.time(*v.DeletedAt)
		}
	case r.Audit != nil:
		a := r.Audit
		e.int(a.Seq)
		e.time(a.Time)
		for _, s := range []string{a.AccountID, a.PrincipalID, a.KeyID, a.Action, a.StoreID, a.SecretID, a.Name} {
			e.str(s)
		}
		e.int(int64(a.Version))
		for _, s := range []string{a.Outcome, a.Reason, a.RequestID, a.Remote, a.Face} {
			e.str(s)
		}
		e.bytes(a.PrevHash)
		e.bytes(a.Hash)
	case r.AuditHead != nil:
		h := r.AuditHead
		e.int(h.Seq)
		e.bytes(h.Hash)
		e.bytes(h.MAC)
	case r.Nonce != nil:
		e.bytes(r.Nonce.Digest[:])
		e.time(r.Nonce.Expires)
	case r.AppRole != nil:
		a := r.AppRole
		for _, s := range []string{a.RoleID, a.AccountID, a.Name, a.PrincipalID, a.KeyID} {
			e.str(s)
		}
		scopes, scidrs, tcidrs, _ := a.EncodeLists() // lists of strings: never fails
		e.str(scopes)
		e.int(int64(a.TokenTTL))
		e.int(int64(a.SecretIDTTL))
		e.int(int64(a.SecretIDNumUses))
		e.str(scidrs)
		e.str(tcidrs)
		e.time(a.CreatedAt)
		e.time(a.UpdatedAt)
	case r.AppRoleSecret != nil:
		s := r.AppRoleSecret
		e.str(s.Accessor)
		e.str(s.AccountID)
		e.str(s.RoleID)
		e.bytes(s.Hash)
		e.time(s.CreatedAt)
		e.optTime(s.ExpiresAt)
		e.int(int64(s.NumUses))
		e.int(int64(s.UsesLeft))
		cidrs, md, _ := s.EncodeLists() // lists and maps of strings: never fails
		e.str(cidrs)
		e.str(md)
	case r.JWTConfig != nil:
		c := r.JWTConfig
		for _, s := range []string{c.ID, c.AccountID, c.Name, c.Issuer} {
			e.str(s)
		}
		set, _ := c.Settings() // strings and numbers: never fails
		e.str(set)
		e.time(c.CreatedAt)
		e.time(c.UpdatedAt)
	case r.JWTRole != nil:
		j := r.JWTRole
		for _, s := range []string{j.ID, j.AccountID, j.ConfigID, j.Name, j.PrincipalID, j.KeyID} {
			e.str(s)
		}
		set, _ := j.Settings() // strings, lists and numbers: never fails
		e.str(set)
		e.time(j.CreatedAt)
		e.time(j.UpdatedAt)
	}
	return e.b
}

// canon builds the canonical encoding of appendCanonical.
type canon struct{ b []byte }

func (e *canon) int(n int64) { e.b = binary.BigEndian.AppendUint64(e.b, uint64(n)) }

func (e *canon) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *canon) str(s string) {
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(len(s)))
	e.b = append(e.b, s...)
}

func (e *canon) bytes(p []byte) {
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(len(p)))
	e.b = append(e.b, p...)
}

func (e *canon) time(t time.Time) { e.int(t.UnixNano()) }

func (e *canon) optTime(t *time.Time) {
	e.bool(t != nil)
	if t != nil {
		e.time(*t)
	}
}

// strMap encodes an empty map like a nil one: engines store both as
// nothing.
func (e *canon) strMap(m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.int(int64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.str(m[k])
	}
}

// optBytes appends the MAC that ends the record of an account, principal,
// API key or hotkey, when there is one: records without one encode as they
// did before record MACs, so older dumps keep their digests.
func (e *canon) optBytes(p []byte) {
	if len(p) > 0 {
		e.bytes(p)
	}
}
