package backup_test

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/backup"
)

// roleKinds are the kinds of records added with issue 20's workload
// identities, after the trailer's counts had its first twelve names.
var roleKinds = []coffer.RecordKind{coffer.KindAppRole, coffer.KindAppRoleSecret, coffer.KindJWTConfig, coffer.KindJWTRole}

// TestTrailerOlderKinds checks that a backup without roles counts the kinds
// its trailer did before they existed, no more: a trailer of an older build
// (without the roles' names) then matches what this build reads, and a
// backup of this build without roles is read by an older one.
func TestTrailerOlderKinds(t *testing.T) {
	var buf bytes.Buffer
	bw, err := backup.NewWriter(&buf, backup.Header{Created: time.Unix(1, 0).UTC(), Engine: "sqlite"}, testMaster)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range testRecords() {
		if err := bw.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := bw.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Counts) != int(coffer.KindNonce) {
		t.Errorf("trailer counts: got %d kinds (%v), want the %d before roles", len(tr.Counts), tr.Counts, coffer.KindNonce)
	}
	for _, k := range roleKinds {
		if _, ok := tr.Counts[k.String()]; ok {
			t.Errorf("trailer counts %s, of which the backup has none", k)
		}
	}
}

// TestFileRoles checks that a backup carries AppRole and JWT roles and
// counts them.
func TestFileRoles(t *testing.T) {
	at := time.Unix(0, 1234567890123456789).UTC()
	scopes := []coffer.Scope{{Store: "app", Actions: []coffer.Action{"read"}}}
	recs := append(testRecords(),
		&coffer.Record{AppRole: &coffer.AppRole{RoleID: "r", AccountID: "a", Name: "ci", PrincipalID: "p", KeyID: "k",
			Scopes: scopes, TokenTTL: time.Hour, SecretIDBoundCIDRs: []string{}, TokenBoundCIDRs: []string{},
			CreatedAt: at, UpdatedAt: at}},
		&coffer.Record{AppRoleSecret: &coffer.AppRoleSecret{Accessor: "x", AccountID: "a", RoleID: "r",
			Hash: []byte("keyed"), CreatedAt: at, BoundCIDRs: []string{}, Metadata: map[string]string{"env": "ci"}}},
		&coffer.Record{JWTConfig: &coffer.JWTConfig{ID: "c", AccountID: "a", Name: "k8s", Issuer: "https://i.test",
			Discovery: true, CreatedAt: at, UpdatedAt: at}},
		&coffer.Record{JWTRole: &coffer.JWTRole{ID: "j", AccountID: "a", ConfigID: "c", Name: "deploy", Kind: "jwt",
			PrincipalID: "p", KeyID: "k2", Scopes: scopes, TokenTTL: time.Hour, CreatedAt: at, UpdatedAt: at}},
	)
	got, err := readAll(mustWrite(t, recs), backup.Keys{Masters: [][]byte{testMaster}})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("read back: got %d records, want %d equal to those written", len(got), len(recs))
	}
}
