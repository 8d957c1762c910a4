package coffer

import (
	"fmt"
	"maps"
	"time"
)

// WriteResult is what a SecretWrite does to the secret of its name: the
// secret as it is after the write, whether the write creates it, whether
// only its version counter moves (a new version of an active secret with
// unchanged metadata: the cheapest update), and the sealed new version when
// the write has a value.
type WriteResult struct {
	Secret     *Secret
	Create     bool
	Bump       bool
	Ciphertext []byte // nil when the write adds no version
	KeyID      int
	// DeletedAt is the new version's scheduled deletion (SecretWrite.DeleteAt).
	DeletedAt *time.Time
	// DestroyThrough, when > 0, is the newest version number that the write
	// destroys (SecretWrite.KeepVersions): every version numbered up to it
	// that still holds a value loses it, as DestroyVersion does, at the
	// write's time.
	DestroyThrough int
}

// Apply decides a write against live, the live secret of the write's name
// in its store (nil when there is none), at time at. It holds the rules
// every engine shares; an engine calls it inside its transaction and stores
// the result. live is changed in place.
func (w *SecretWrite) Apply(live *Secret, at time.Time) (*WriteResult, error) {
	s := live
	switch {
	case s != nil:
		if w.CreateOnly || w.Seal == nil {
			return nil, Errorf(ECONFLICT, "secret %q already exists", w.Name)
		}
		if err := s.CheckVersion(w.IfVersion); err != nil {
			return nil, err
		}
		if u := w.Update; u != nil {
			if u.Status != nil {
				return nil, Errorf(EINVALID, "a write cannot change the status of a secret")
			}
			if err := s.CheckVersion(u.IfVersion); err != nil {
				return nil, err
			}
			if err := s.applyMetadata(u); err != nil {
				return nil, err
			}
		}
	case w.Create == nil:
		return nil, Errorf(ENOTFOUND, "secret %q not found", w.Name)
	case w.IfVersion > 0:
		return nil, Errorf(EPRECONDITION, "secret %q does not exist", w.Name)
	default:
		c := *w.Create
		s = &c
		if s.ID == "" {
			s.ID = NewID()
		}
		if s.CreatedBy == "" {
			s.CreatedBy = w.By
		}
		s.AccountID, s.StoreID, s.Name = w.AccountID, w.StoreID, w.Name
		s.Status, s.Version, s.CreatedAt, s.DeletedAt = StatusPending, 0, at, nil
		if s.ExpiresAt != nil {
			_ = s.applyMetadata(&SecretUpdate{ExpiresAt: s.ExpiresAt}) // UTC; the zero time is none
		}
	}
	s.UpdatedAt = at
	r := &WriteResult{Secret: s, Create: live == nil, Bump: live != nil && s.Status == StatusActive && w.Update == nil}
	if w.Seal != nil {
		s.Version++
		s.Status = StatusActive
		c := *s
		var err error
		if r.Ciphertext, r.KeyID, err = w.Seal(&c, s.Version); err != nil {
			return nil, fmt.Errorf("seal version %d: %w", s.Version, err)
		}
		if len(r.Ciphertext) == 0 {
			return nil, fmt.Errorf("seal version %d: no ciphertext", s.Version)
		}
		if w.DeleteAt != nil {
			t := w.DeleteAt.UTC()
			r.DeletedAt = &t
		}
		if w.KeepVersions > 0 && s.Version > w.KeepVersions {
			r.DestroyThrough = s.Version - w.KeepVersions
		}
	}
	return r, nil
}

// CheckVersion applies an IfVersion precondition to the live secret s: -1
// requires that it does not exist, N > 0 that its latest version is N
// (EPRECONDITION).
func (s *Secret) CheckVersion(ifVersion int) error {
	switch {
	case ifVersion == -1:
		return Errorf(EPRECONDITION, "secret %q already exists", s.Name)
	case ifVersion > 0 && s.Version != ifVersion:
		return Errorf(EPRECONDITION, "secret %q is at version %d, not %d", s.Name, s.Version, ifVersion)
	}
	return nil
}

// ApplyUpdate applies u to the stored secret s at time at, by the rules
// every engine shares: the IfVersion precondition (-1: no live secret may
// hold the name, this one included), the metadata fields of u that are not
// nil, and a status change. Deleting a deleted secret is ENOTFOUND;
// undeleting one (to active or pending) is ECONFLICT while a live secret
// holds its name, and makes it active when it has a version, pending
// otherwise; an unknown status is EINVALID. nameTaken reports whether a
// live secret holds s's name in its store; it is asked only when that
// decides. On error s may be half-changed: the caller drops it.
func (s *Secret) ApplyUpdate(u *SecretUpdate, at time.Time, nameTaken func() (bool, error)) error {
	if u.IfVersion == -1 {
		if taken, err := nameTaken(); err != nil {
			return err
		} else if taken {
			return Errorf(EPRECONDITION, "a live secret named %q exists", s.Name)
		}
	} else if err := s.CheckVersion(u.IfVersion); err != nil {
		return err
	}
	if err := s.applyMetadata(u); err != nil {
		return err
	}
	if u.Status != nil {
		switch to := *u.Status; {
		case to == StatusDeleted:
			if s.Status == StatusDeleted {
				return Errorf(ENOTFOUND, "secret %q is already deleted", s.Name)
			}
			s.Status, s.DeletedAt = StatusDeleted, &at
		case to != StatusActive && to != StatusPending:
			return Errorf(EINVALID, "unknown secret status %q", to)
		case s.Status == StatusDeleted:
			if taken, err := nameTaken(); err != nil {
				return err
			} else if taken {
				return Errorf(ECONFLICT, "a live secret named %q exists", s.Name)
			}
			s.Status, s.DeletedAt = StatusPending, nil
			if s.Version > 0 {
				s.Status = StatusActive
			}
		}
	}
	if !u.KeepUpdatedAt {
		s.UpdatedAt = at
	}
	return nil
}

// applyMetadata sets the metadata fields of u that are not nil on s. Only
// a merge of attributes can fail: EINVALID when it makes too many.
func (s *Secret) applyMetadata(u *SecretUpdate) error {
	if u.Comment != nil {
		s.Comment = *u.Comment
	}
	if u.Labels != nil {
		s.Labels = u.Labels
	}
	if u.Scopes != nil {
		s.Scopes = u.Scopes
	}
	if u.Attributes != nil {
		s.Attributes = u.Attributes
	}
	if u.MergeAttributes != nil {
		merged := maps.Clone(s.Attributes)
		if merged == nil {
			merged = make(map[string]string, len(u.MergeAttributes))
		}
		for k, v := range u.MergeAttributes {
			if v == "" {
				delete(merged, k)
			} else {
				merged[k] = v
			}
		}
		if len(merged) > MaxLabels {
			return Errorf(EINVALID, "a secret holds at most %d attributes", MaxLabels)
		}
		s.Attributes = merged
	}
	if u.ExpiresAt != nil {
		s.ExpiresAt = nil
		if !u.ExpiresAt.IsZero() {
			t := u.ExpiresAt.UTC()
			s.ExpiresAt = &t
		}
	}
	return nil
}

// BatchTx is what an engine does inside the transaction of a SecretBatch:
// CreateStore's insert, the single writes of WriteSecret and UpdateSecret,
// and a count of the live secrets of an account.
type BatchTx interface {
	CreateStore(s *Store, wrappedKey []byte, ev *AuditEvent) error
	// WriteSecret also tells whether the write created the secret.
	WriteSecret(w *SecretWrite, ev *AuditEvent) (s *Secret, created bool, err error)
	UpdateSecret(accountID, secretID string, u *SecretUpdate, ev *AuditEvent) (*Secret, error)
	LiveSecrets(accountID string) (int, error)
}

// Apply runs the batch's items on tx, in order, and then checks its quota.
// It holds the rules every engine shares; an engine calls it inside one
// transaction and rolls that back when it fails.
func (b *SecretBatch) Apply(tx BatchTx) ([]*Secret, error) {
	if len(b.Items) == 0 {
		return nil, Errorf(EINVALID, "a batch needs at least one item")
	}
	if b.Store != nil {
		if b.Store.ID != b.StoreID || b.Store.AccountID != b.AccountID {
			return nil, Errorf(EINVALID, "a batch creates a store of its own id and account only")
		}
		if err := tx.CreateStore(b.Store, b.StoreKey, b.StoreEvent); err != nil {
			return nil, err
		}
	}
	out := make([]*Secret, len(b.Items))
	created := false
	for i, it := range b.Items {
		var err error
		switch {
		case it.Write != nil && it.Update == nil:
			it.Write.AccountID, it.Write.StoreID = b.AccountID, b.StoreID
			var made bool
			out[i], made, err = tx.WriteSecret(it.Write, it.Event)
			created = created || made
		case it.Update != nil && it.Write == nil:
			if out[i], err = tx.UpdateSecret(b.AccountID, it.SecretID, it.Update, it.Event); err == nil && out[i].StoreID != b.StoreID {
				err = Errorf(ENOTFOUND, "secret not found")
			}
			// An undelete makes a secret live again.
			created = created || it.Update.Status != nil && *it.Update.Status != StatusDeleted
		default:
			err = Errorf(EINVALID, "a batch item is a write or an update")
		}
		if err != nil {
			return nil, &BatchItemError{Index: i, Err: err}
		}
	}
	if b.MaxLiveSecrets > 0 && created {
		n, err := tx.LiveSecrets(b.AccountID)
		if err != nil {
			return nil, err
		} else if n > b.MaxLiveSecrets {
			return nil, limitError("secrets", b.MaxLiveSecrets, ErrSecretLimit)
		}
	}
	return out, nil
}

// limitError is the ECONFLICT error of a write that would overrun a quota
// of max things; it matches the quota's sentinel.
func limitError(things string, max int, sentinel error) error {
	return fmt.Errorf("%w (%w)", Errorf(ECONFLICT, "the account may hold at most %d %s", max, things), sentinel)
}

// BatchItemError is the error of a batch that its item Index failed with.
type BatchItemError struct {
	Index int
	Err   error
}

// Error implements the error interface.
func (e *BatchItemError) Error() string { return fmt.Sprintf("batch item %d: %v", e.Index, e.Err) }

// Unwrap returns the item's error, whose code is the batch's.
func (e *BatchItemError) Unwrap() error { return e.Err }

// StoreBatchTx is what an engine does inside the transaction of a
// StoreBatch: CreateStore's insert, and a count of an account's stores.
type StoreBatchTx interface {
	CreateStore(s *Store, wrappedKey []byte, ev *AuditEvent) error
	Stores(accountID string) (int, error)
}

// Apply creates the batch's stores on tx, in order, and then checks its
// quota. It holds the rules every engine shares; an engine calls it inside
// one transaction and rolls that back when it fails.
func (b *StoreBatch) Apply(tx StoreBatchTx) error {
	if len(b.Items) == 0 {
		return Errorf(EINVALID, "a batch needs at least one item")
	}
	for i, it := range b.Items {
		var err error = Errorf(EINVALID, "a batch creates stores of its own account only")
		if it.Store != nil && it.Store.AccountID == b.AccountID {
			err = tx.CreateStore(it.Store, it.Key, it.Event)
		}
		if err != nil {
			return &BatchItemError{Index: i, Err: err}
		}
	}
	if b.MaxStores > 0 {
		n, err := tx.Stores(b.AccountID)
		if err != nil {
			return err
		} else if n > b.MaxStores {
			return limitError("stores", b.MaxStores, ErrStoreLimit)
		}
	}
	return nil
}

// Events returns the batch's audit events, in chain order.
func (b *SecretBatch) Events() []*AuditEvent {
	var evs []*AuditEvent
	if b.Store != nil && b.StoreEvent != nil {
		evs = append(evs, b.StoreEvent)
	}
	for _, it := range b.Items {
		if it.Event != nil {
			evs = append(evs, it.Event)
		}
	}
	return evs
}

// Events returns the batch's audit events, in chain order.
func (b *StoreBatch) Events() []*AuditEvent {
	var evs []*AuditEvent
	for _, it := range b.Items {
		if it.Event != nil {
			evs = append(evs, it.Event)
		}
	}
	return evs
}

// MaxVersionNumbers bounds the version numbers of one DeleteVersions or
// UndeleteVersions.
const MaxVersionNumbers = 1000

// ValidateVersionNumbers checks the versions of a DeleteVersions or
// UndeleteVersions: at least one, at most MaxVersionNumbers, each a number
// from 1 (EINVALID).
func ValidateVersionNumbers(ns []int) error {
	if len(ns) == 0 {
		return Errorf(EINVALID, "name at least one version")
	} else if len(ns) > MaxVersionNumbers {
		return Errorf(EINVALID, "at most %d versions at once", MaxVersionNumbers)
	}
	for _, n := range ns {
		if n < 1 {
			return Errorf(EINVALID, "version must be a positive number")
		}
	}
	return nil
}

// MarkDeleted applies a soft delete (del) or an undelete at time at to v,
// by the rule every engine shares, and reports whether v changed: a
// destroyed version is left alone; a delete sets DeletedAt to at unless v
// is deleted by then (a later, scheduled deletion moves to at); an undelete
// clears DeletedAt, done or scheduled.
func (v *Version) MarkDeleted(del bool, at time.Time) bool {
	switch {
	case v.DestroyedAt != nil:
		return false
	case del && v.Deleted(at):
		return false
	case del:
		t := at.UTC()
		v.DeletedAt = &t
	case v.DeletedAt == nil:
		return false
	default:
		v.DeletedAt = nil
	}
	return true
}

// VersionMarkTx is what an engine does inside the transaction of
// DeleteVersions and UndeleteVersions.
type VersionMarkTx interface {
	// Secret returns the secret of the account by id (ENOTFOUND), locked
	// until the transaction ends where the engine locks rows.
	Secret(accountID, id string) (*Secret, error)
	// Versions returns those of the numbered versions of the secret that
	// exist, with DestroyedAt and DeletedAt, in any order.
	Versions(secretID string, numbers []int) ([]*Version, error)
	// SetDeletedAt sets the DeletedAt of the numbered versions of the
	// secret (nil clears it) and marks its store changed (its Gen).
	SetDeletedAt(s *Secret, numbers []int, at *time.Time) error
}

// MarkVersions soft-deletes (del) or undeletes the versions numbered ns of
// the secret secretID on tx, at time at, and returns the secret. It holds
// the rules every engine shares (see Storage.DeleteVersions); an engine
// calls it inside one transaction.
func MarkVersions(tx VersionMarkTx, accountID, secretID string, ns []int, del bool, at time.Time) (*Secret, error) {
	if err := ValidateVersionNumbers(ns); err != nil {
		return nil, err
	}
	s, err := tx.Secret(accountID, secretID)
	if err != nil {
		return nil, err
	} else if s.Status == StatusDeleted {
		return nil, Errorf(ENOTFOUND, "secret %q is deleted", s.Name)
	}
	vs, err := tx.Versions(secretID, ns)
	if err != nil {
		return nil, err
	}
	var changed []int
	for _, v := range vs {
		if v.MarkDeleted(del, at) {
			changed = append(changed, v.Number)
		}
	}
	if len(changed) == 0 {
		return s, nil
	}
	var to *time.Time
	if del {
		t := at.UTC()
		to = &t
	}
	if err := tx.SetDeletedAt(s, changed, to); err != nil {
		return nil, err
	}
	return s, nil
}
