package coffer_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

func digest(recs ...*coffer.Record) []byte {
	s := coffer.NewDumpSummary()
	for _, r := range recs {
		s.Add(r)
	}
	return s.Digest()
}

func TestRecordKind(t *testing.T) {
	for _, c := range []struct {
		r    *coffer.Record
		want coffer.RecordKind
	}{
		{&coffer.Record{}, coffer.KindNone},
		{&coffer.Record{Meta: &coffer.MetaEntry{}}, coffer.KindMeta},
		{&coffer.Record{Nonce: &coffer.Nonce{}}, coffer.KindNonce},
		{&coffer.Record{AuditHead: &coffer.AuditHead{}}, coffer.KindAuditHead},
		{&coffer.Record{Secret: &coffer.Secret{}, Version: &coffer.Version{}}, coffer.KindNone},
	} {
		if got := c.r.Kind(); got != c.want {
			t.Errorf("Kind of %+v: got %s, want %s", c.r, got, c.want)
		}
	}
	if got := len(coffer.RecordKinds()); got != 16 {
		t.Errorf("RecordKinds: got %d kinds, want 16", got)
	}
}

func TestRecordOrder(t *testing.T) {
	acct := &coffer.Record{Account: &coffer.Account{}}
	head := &coffer.Record{AuditHead: &coffer.AuditHead{}}
	for name, c := range map[string]struct {
		recs []*coffer.Record
		bad  int // index of the first refused record, -1 for none
	}{
		"OK":          {[]*coffer.Record{{Meta: &coffer.MetaEntry{}}, acct, acct, head, {Nonce: &coffer.Nonce{}}}, -1},
		"Backwards":   {[]*coffer.Record{acct, {Meta: &coffer.MetaEntry{}}}, 1},
		"SecondHead":  {[]*coffer.Record{head, head}, 1},
		"Empty":       {[]*coffer.Record{acct, {}}, 1},
		"Nil":         {[]*coffer.Record{nil}, 0},
		"TwoFields":   {[]*coffer.Record{{Account: &coffer.Account{}, Store: &coffer.Store{}}}, 0},
		"SameKindsOK": {[]*coffer.Record{acct, acct, acct}, -1},
	} {
		var o coffer.RecordOrder
		bad := -1
		for i, r := range c.recs {
			if _, err := o.Check(r); err != nil {
				if coffer.ErrorCode(err) != coffer.EINVALID {
					t.Errorf("%s: record %d: got %v, want EINVALID", name, i, err)
				}
				bad = i
				break
			}
		}
		if bad != c.bad {
			t.Errorf("%s: first refused record: got %d, want %d", name, bad, c.bad)
		}
	}
}

// TestDumpSummary checks that the digest tells apart records that differ
// in any stored way, and only those.
func TestDumpSummary(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	later := at.Add(time.Nanosecond)
	secret := func(f func(s *coffer.Secret)) *coffer.Record {
		s := &coffer.Secret{ID: "s", Name: "n", Status: coffer.StatusActive, Version: 1, CreatedAt: at, UpdatedAt: at}
		if f != nil {
			f(s)
		}
		return &coffer.Record{Secret: s}
	}
	base := secret(nil)
	for name, r := range map[string]*coffer.Record{
		"Name":         secret(func(s *coffer.Secret) { s.Name = "m" }),
		"Nanosecond":   secret(func(s *coffer.Secret) { s.UpdatedAt = later }),
		"DeletedAt":    secret(func(s *coffer.Secret) { s.DeletedAt = &at }),
		"Label":        secret(func(s *coffer.Secret) { s.Labels = map[string]string{"a": "b"} }),
		"LabelValue":   secret(func(s *coffer.Secret) { s.Labels = map[string]string{"a": ""} }),
		"Scope":        secret(func(s *coffer.Secret) { s.Scopes = []string{"workers"} }),
		"Status":       secret(func(s *coffer.Secret) { s.Status = coffer.StatusDeleted }),
		"Version":      secret(func(s *coffer.Secret) { s.Version = 2 }),
		"SplitStrings": secret(func(s *coffer.Secret) { s.ID, s.Name = "sn", "" }),
		"OtherKind":    {Account: &coffer.Account{ID: "s", Name: "n", CreatedAt: at}},
	} {
		if bytes.Equal(digest(r), digest(base)) {
			t.Errorf("%s: same digest as the base record", name)
		}
	}
	if !bytes.Equal(digest(secret(func(s *coffer.Secret) { s.Labels = map[string]string{} })), digest(base)) {
		t.Error("an empty label map and none: digests differ, but engines store both as nothing")
	}
	destroyed := &coffer.Record{Version: &coffer.Version{SecretID: "s", Number: 1}}
	empty := &coffer.Record{Version: &coffer.Version{SecretID: "s", Number: 1, Ciphertext: []byte{}}}
	if bytes.Equal(digest(destroyed), digest(empty)) {
		t.Error("a destroyed version and an empty ciphertext: same digest")
	}
	if bytes.Equal(digest(base, destroyed), digest(destroyed, base)) {
		t.Error("order of records: same digest")
	}
	s := coffer.NewDumpSummary()
	s.Add(base)
	s.Add(base)
	s.Add(destroyed)
	if s.Count(coffer.KindSecret) != 2 || s.Count(coffer.KindVersion) != 1 || s.Total() != 3 {
		t.Errorf("counts: got %d secrets, %d versions, %d in all; want 2, 1, 3", s.Count(coffer.KindSecret), s.Count(coffer.KindVersion), s.Total())
	}
}
