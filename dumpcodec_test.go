package coffer_test

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// sampleRecords returns one record of every kind, with every field set.
func sampleRecords() []*coffer.Record {
	t0 := time.Unix(1700000000, 123456789).UTC()
	t1 := t0.Add(time.Hour)
	attrs := map[string]string{"b": "2", "a": "1"}
	return append([]*coffer.Record{
		{Meta: &coffer.MetaEntry{Key: "pepper", Value: []byte{0, 1, 2}}},
		{Account: &coffer.Account{ID: "acct", Name: "Acme", CreatedAt: t0}},
		{Principal: &coffer.Principal{ID: "p", AccountID: "acct", Name: "ci", Kind: "service", Attributes: attrs, CreatedAt: t0}},
		{APIKey: &coffer.APIKey{ID: "k", AccountID: "acct", PrincipalID: "p", Name: "deploy", Admin: true,
			Scopes: []coffer.Scope{{Store: "s", Secret: "*", Actions: []coffer.Action{"read", "write"}, ObjectType: "x", ObjectID: "y"},
				{Store: "t", Actions: []coffer.Action{}}, {Store: "u"}},
			Hash: []byte("hash"), CreatedAt: t0, ExpiresAt: &t1, RevokedAt: &t1}},
		{APIKey: &coffer.APIKey{ID: "k2", Hash: []byte("h"), CreatedAt: t0, Scopes: []coffer.Scope{}}},
		{Hotkey: &coffer.Hotkey{SS58: "5F", AccountID: "acct", PrincipalID: "p", CreatedAt: t0}},
		// Record MACs (service/records.go) end their records when set.
		{Account: &coffer.Account{ID: "acct2", Name: "Beta", CreatedAt: t0, MAC: []byte("mac-a")}},
		{Principal: &coffer.Principal{ID: "p2", AccountID: "acct2", Name: "ci", Kind: "user", CreatedAt: t0, MAC: []byte("mac-p")}},
		{APIKey: &coffer.APIKey{ID: "k3", Hash: []byte("h"), CreatedAt: t0, Scopes: []coffer.Scope{}, MAC: []byte("mac-k")}},
		{Hotkey: &coffer.Hotkey{SS58: "5G", AccountID: "acct2", PrincipalID: "p2", CreatedAt: t0, MAC: []byte("mac-h")}},
		{Store: &coffer.Store{ID: "s", AccountID: "acct", Name: "prod", Comment: "c", Attributes: attrs, KeyID: 3, Gen: 7, CreatedAt: t0, UpdatedAt: t1}},
		{StoreKey: &coffer.StoreKey{StoreID: "s", ID: 3, Wrapped: []byte{2, 9, 9, 9, 9}}},
		{Secret: &coffer.Secret{ID: "x", AccountID: "acct", StoreID: "s", Name: "DB", Status: "active", Comment: "c",
			Labels: map[string]string{"env": "prod"}, Scopes: []string{"workers"}, Attributes: attrs, Origin: "native",
			Version: 2, CreatedAt: t0, UpdatedAt: t1, DeletedAt: &t1, ExpiresAt: &t1, CreatedBy: "p"}},
		{Secret: &coffer.Secret{ID: "y", Scopes: []string{}, CreatedAt: t0, UpdatedAt: t0}},
		{Version: &coffer.Version{SecretID: "x", Number: 1, KeyID: 3, CreatedAt: t0, CreatedBy: "p", DestroyedAt: &t1}},
		{Version: &coffer.Version{SecretID: "x", Number: 2, KeyID: 3, Ciphertext: []byte("sealed"), CreatedAt: t1, CreatedBy: "p"}},
		{Version: &coffer.Version{SecretID: "x", Number: 3, Ciphertext: []byte{}, CreatedAt: t1}},
		// A soft-deleted version's time ends its record.
		{Version: &coffer.Version{SecretID: "x", Number: 4, KeyID: 3, Ciphertext: []byte("sealed"), CreatedAt: t1, CreatedBy: "p", DeletedAt: &t1}},
		{Audit: &coffer.AuditEvent{Seq: 1, Time: t0, AccountID: "a", PrincipalID: "p", KeyID: "k", Action: "secret.create",
			StoreID: "s", SecretID: "x", Name: "DB", Version: 1, Outcome: "ok", Reason: "r", RequestID: "q", Remote: "1.2.3.4",
			Face: "native", Hash: []byte("h1")}},
		{Audit: &coffer.AuditEvent{Seq: 2, Time: t1, PrevHash: []byte("h1"), Hash: []byte("h2")}},
		{AuditHead: &coffer.AuditHead{Seq: 2, Hash: []byte("h2"), MAC: []byte("mac")}},
		{Nonce: &coffer.Nonce{Digest: coffer.NonceDigest("n"), Expires: t1}},
	}, roleRecords(t0, t1)...)
}

func TestRecordBinary(t *testing.T) {
	for _, r := range sampleRecords() {
		b, err := r.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var got coffer.Record
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", r.Kind(), err)
		}
		if !reflect.DeepEqual(&got, r) {
			t.Errorf("%s: got %+v, want %+v", r.Kind(), got, *r)
		}
		if !bytes.Equal(digest(&got), digest(r)) {
			t.Errorf("%s: the digest of the decoded record differs", r.Kind())
		}
		// Every strict prefix, and any trailing byte, is refused; but for
		// the record without its MAC, as records were before record MACs,
		// and the version without its deletion time, as before that.
		noMAC, noDeleted := -1, -1
		if mac := recordMAC(r); len(mac) > 0 {
			noMAC = len(b) - 4 - len(mac)
		}
		if r.Version != nil && r.Version.DeletedAt != nil {
			noDeleted = len(b) - 8
		}
		for n := 0; n < len(b); n++ {
			if n == noMAC {
				if err := got.UnmarshalBinary(b[:n]); err != nil || len(recordMAC(&got)) != 0 {
					t.Fatalf("%s without its MAC: got %v, want the record without a MAC", r.Kind(), err)
				}
				continue
			}
			if n == noDeleted {
				if err := got.UnmarshalBinary(b[:n]); err != nil || got.Version.DeletedAt != nil {
					t.Fatalf("version without its deletion time: got %v, want the version not deleted", err)
				}
				continue
			}
			if err := got.UnmarshalBinary(b[:n]); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Fatalf("%s cut to %d of %d bytes: got %v, want EINVALID", r.Kind(), n, len(b), err)
			}
		}
		if err := got.UnmarshalBinary(append(b, 0)); coffer.ErrorCode(err) != coffer.EINVALID {
			t.Errorf("%s with a trailing byte: got %v, want EINVALID", r.Kind(), err)
		}
	}
	t.Run("ErrInvalid", func(t *testing.T) {
		if _, err := (&coffer.Record{}).AppendBinary(nil); coffer.ErrorCode(err) != coffer.EINVALID {
			t.Errorf("empty record: got %v, want EINVALID", err)
		}
		var r coffer.Record
		for _, b := range [][]byte{nil, {0}, {13}, {17}, {255}} {
			if err := r.UnmarshalBinary(b); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Errorf("UnmarshalBinary(%v): got %v, want EINVALID", b, err)
			}
		}
	})
}

// FuzzRecordBinary checks that decoding never panics, and that whatever
// decodes encodes to bytes that decode to the same record.
func FuzzRecordBinary(f *testing.F) {
	for _, r := range sampleRecords() {
		b, _ := r.AppendBinary(nil)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r coffer.Record
		if r.UnmarshalBinary(b) != nil {
			return
		}
		again, err := r.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		var r2 coffer.Record
		if err := r2.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(&r, &r2) {
			t.Fatalf("round trip changed the record: %+v, then %+v", r, r2)
		}
	})
}

// recordMAC returns the MAC of an account, principal, API key or hotkey
// record.
func recordMAC(r *coffer.Record) []byte {
	switch {
	case r.Account != nil:
		return r.Account.MAC
	case r.Principal != nil:
		return r.Principal.MAC
	case r.APIKey != nil:
		return r.APIKey.MAC
	case r.Hotkey != nil:
		return r.Hotkey.MAC
	}
	return nil
}
