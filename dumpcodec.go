package coffer

import (
	"encoding/binary"
	"time"
)

// AppendBinary appends the binary encoding of the record to b: its kind
// (one byte), then every field in the canonical encoding that DumpSummary
// hashes. UnmarshalBinary reads it back. It fails with EINVALID unless
// exactly one field of the record is set.
//
// Backups (`coffer backup`) are files of these encodings: the encoding is
// lossless for everything an engine stores, and a summary of the decoded
// records has the digest of the original ones.
func (r *Record) AppendBinary(b []byte) ([]byte, error) {
	k := r.Kind()
	if k == KindNone {
		return b, Errorf(EINVALID, "dump record: exactly one field must be set")
	}
	return r.appendCanonical(append(b, byte(k))), nil
}

// UnmarshalBinary sets r to the record that AppendBinary encoded in data,
// which must hold exactly that. It fails with EINVALID on any other input.
// Times come back in UTC; empty maps come back nil.
func (r *Record) UnmarshalBinary(data []byte) error {
	*r = Record{}
	if len(data) == 0 {
		return Errorf(EINVALID, "dump record: empty")
	}
	d := &uncanon{b: data[1:]}
	switch RecordKind(data[0]) {
	case KindMeta:
		r.Meta = &MetaEntry{Key: d.str(), Value: d.bytes()}
	case KindAccount:
		r.Account = &Account{ID: d.str(), Name: d.str(), CreatedAt: d.time()}
		r.Account.MAC = d.optBytes()
	case KindPrincipal:
		r.Principal = &Principal{ID: d.str(), AccountID: d.str(), Name: d.str(), Kind: d.str(),
			Attributes: d.strMap(), CreatedAt: d.time()}
		r.Principal.MAC = d.optBytes()
	case KindAPIKey:
		k := &APIKey{ID: d.str(), AccountID: d.str(), PrincipalID: d.str(), Name: d.str(), Admin: d.bool()}
		if isNil, n := d.bool(), d.count(); !isNil {
			k.Scopes = make([]Scope, 0, n)
			for range n {
				sc := Scope{Store: d.str(), Secret: d.str()}
				if isNil, n := d.bool(), d.count(); !isNil {
					sc.Actions = make([]Action, 0, n)
					for range n {
						sc.Actions = append(sc.Actions, Action(d.str()))
					}
				}
				sc.ObjectType, sc.ObjectID = d.str(), d.str()
				k.Scopes = append(k.Scopes, sc)
			}
		}
		k.Hash = d.bytes()
		k.CreatedAt = d.time()
		k.ExpiresAt, k.LastUsedAt, k.RevokedAt = d.optTime(), d.optTime(), d.optTime()
		k.MAC = d.optBytes()
		r.APIKey = k
	case KindHotkey:
		r.Hotkey = &Hotkey{SS58: d.str(), AccountID: d.str(), PrincipalID: d.str(), CreatedAt: d.time()}
		r.Hotkey.MAC = d.optBytes()
	case KindStore:
		r.Store = &Store{ID: d.str(), AccountID: d.str(), Name: d.str(), Comment: d.str(), Attributes: d.strMap(),
			KeyID: int(d.int()), Gen: d.int(), CreatedAt: d.time(), UpdatedAt: d.time()}
	case KindStoreKey:
		r.StoreKey = &StoreKey{StoreID: d.str(), ID: int(d.int()), Wrapped: d.bytes()}
	case KindSecret:
		s := &Secret{ID: d.str(), AccountID: d.str(), StoreID: d.str(), Name: d.str(), Status: Status(d.str()),
			Comment: d.str(), Labels: d.strMap()}
		if isNil, n := d.bool(), d.count(); !isNil {
			s.Scopes = make([]string, 0, n)
			for range n {
				s.Scopes = append(s.Scopes, d.str())
			}
		}
		s.Attributes = d.strMap()
		s.Origin = d.str()
		s.Version = int(d.int())
		s.CreatedAt, s.UpdatedAt = d.time(), d.time()
		s.DeletedAt, s.ExpiresAt = d.optTime(), d.optTime()
		s.CreatedBy = d.str()
		r.Secret = s
	case KindVersion:
		v := &Version{SecretID: d.str(), Number: int(d.int()), KeyID: int(d.int())}
		isNil := d.bool()
		v.Ciphertext = d.bytes()
		if isNil {
			if len(v.Ciphertext) != 0 {
				d.fail()
			}
			v.Ciphertext = nil
		}
		v.CreatedAt, v.CreatedBy, v.DestroyedAt = d.time(), d.str(), d.optTime()
		if !d.bad && len(d.b) > 0 { // a soft-deleted version's time ends it; older dumps have none
			t := d.time()
			v.DeletedAt = &t
		}
		r.Version = v
	case KindAudit:
		a := &AuditEvent{Seq: d.int(), Time: d.time()}
		for _, s := range []*string{&a.AccountID, &a.PrincipalID, &a.KeyID, &a.Action, &a.StoreID, &a.SecretID, &a.Name} {
			*s = d.str()
		}
		a.Version = int(d.int())
		for _, s := range []*string{&a.Outcome, &a.Reason, &a.RequestID, &a.Remote, &a.Face} {
			*s = d.str()
		}
		a.PrevHash, a.Hash = orNil(d.bytes()), d.bytes()
		r.Audit = a
	case KindAuditHead:
		r.AuditHead = &AuditHead{Seq: d.int(), Hash: orNil(d.bytes()), MAC: orNil(d.bytes())}
	case KindNonce:
		n := &Nonce{}
		if p := d.bytes(); len(p) == len(n.Digest) {
			copy(n.Digest[:], p)
		} else {
			d.fail()
		}
		n.Expires = d.time()
		r.Nonce = n
	case KindAppRole:
		a := &AppRole{RoleID: d.str(), AccountID: d.str(), Name: d.str(), PrincipalID: d.str(), KeyID: d.str()}
		scopes := d.str()
		a.TokenTTL, a.SecretIDTTL, a.SecretIDNumUses = time.Duration(d.int()), time.Duration(d.int()), int(d.int())
		scidrs, tcidrs := d.str(), d.str()
		a.CreatedAt, a.UpdatedAt = d.time(), d.time()
		if !d.bad && a.DecodeLists(scopes, scidrs, tcidrs) != nil {
			d.fail()
		} else if s, sc, tc, _ := a.EncodeLists(); s != scopes || sc != scidrs || tc != tcidrs {
			d.fail() // not as AppendBinary writes it: the digest would differ
		}
		r.AppRole = a
	case KindAppRoleSecret:
		s := &AppRoleSecret{Accessor: d.str(), AccountID: d.str(), RoleID: d.str(), Hash: d.bytes(),
			CreatedAt: d.time(), ExpiresAt: d.optTime(), NumUses: int(d.int()), UsesLeft: int(d.int())}
		if cidrs, md := d.str(), d.str(); !d.bad && s.DecodeLists(cidrs, md) != nil {
			d.fail()
		} else if c, m, _ := s.EncodeLists(); c != cidrs || m != md {
			d.fail()
		}
		r.AppRoleSecret = s
	case KindJWTConfig:
		c := &JWTConfig{ID: d.str(), AccountID: d.str(), Name: d.str(), Issuer: d.str()}
		set := d.str()
		c.CreatedAt, c.UpdatedAt = d.time(), d.time()
		if !d.bad && c.SetSettings(set) != nil {
			d.fail()
		} else if s, _ := c.Settings(); s != set {
			d.fail()
		}
		r.JWTConfig = c
	case KindJWTRole:
		j := &JWTRole{ID: d.str(), AccountID: d.str(), ConfigID: d.str(), Name: d.str(), PrincipalID: d.str(),
			KeyID: d.str()}
		set := d.str()
		j.CreatedAt, j.UpdatedAt = d.time(), d.time()
		if !d.bad && j.SetSettings(set) != nil {
			d.fail()
		} else if s, _ := j.Settings(); s != set {
			d.fail()
		}
		r.JWTRole = j
	default:
		return Errorf(EINVALID, "dump record: unknown kind %d", data[0])
	}
	if d.bad || len(d.b) != 0 {
		*r = Record{}
		return Errorf(EINVALID, "dump record: malformed %s record", RecordKind(data[0]))
	}
	return nil
}

// orNil returns nil for an empty slice: the columns that may be NULL (the
// first event's previous hash, an empty head) come back as NULL.
func orNil(p []byte) []byte {
	if len(p) == 0 {
		return nil
	}
	return p
}

// uncanon reads the canonical encoding of appendCanonical. After the first
// short or invalid field it sets bad and returns zero values.
type uncanon struct {
	b   []byte
	bad bool
}

func (d *uncanon) fail() { d.bad, d.b = true, nil }

func (d *uncanon) take(n uint64) []byte {
	if d.bad || uint64(len(d.b)) < n {
		d.fail()
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *uncanon) int() int64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(p))
}

func (d *uncanon) bool() bool {
	p := d.take(1)
	switch {
	case p == nil:
		return false
	case p[0] > 1:
		d.fail()
		return false
	}
	return p[0] == 1
}

// count reads a count of items that follow; each takes at least one byte,
// so a count larger than what is left is malformed.
func (d *uncanon) count() int {
	n := d.int()
	if n < 0 || n > int64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *uncanon) bytes() []byte {
	p := d.take(4)
	if p == nil {
		return nil
	}
	v := d.take(uint64(binary.BigEndian.Uint32(p)))
	if v == nil {
		return nil
	}
	return append([]byte{}, v...)
}

func (d *uncanon) str() string { return string(d.bytes()) }

func (d *uncanon) time() time.Time { return time.Unix(0, d.int()).UTC() }

func (d *uncanon) optTime() *time.Time {
	if !d.bool() {
		return nil
	}
	t := d.time()
	return &t
}

func (d *uncanon) strMap() map[string]string {
	n := d.count()
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

// optBytes reads the MAC that ends the record of an account, principal, API
// key or hotkey: records of databases before record MACs end without one
// (nil). An empty MAC is never encoded, so it is refused.
func (d *uncanon) optBytes() []byte {
	if d.bad || len(d.b) == 0 {
		return nil
	}
	v := d.bytes()
	if len(v) == 0 {
		d.fail()
		return nil
	}
	return v
}
