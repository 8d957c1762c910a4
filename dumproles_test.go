package coffer_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// roleRecords returns records of the workload identities of issue 20, every
// field set, lists not empty (empty ones come back from their JSON empty,
// not nil).
func roleRecords(t0, t1 time.Time) []*coffer.Record {
	scopes := []coffer.Scope{{Store: "s", Secret: "db/*", Actions: []coffer.Action{"read"}}}
	return []*coffer.Record{
		{AppRole: &coffer.AppRole{RoleID: "r", AccountID: "acct", Name: "ci", PrincipalID: "p", KeyID: "k",
			Scopes: scopes, TokenTTL: time.Hour, SecretIDTTL: time.Minute, SecretIDNumUses: 3,
			SecretIDBoundCIDRs: []string{"10.0.0.0/8"}, TokenBoundCIDRs: []string{"10.1.0.0/16", "::1"},
			CreatedAt: t0, UpdatedAt: t1}},
		{AppRoleSecret: &coffer.AppRoleSecret{Accessor: "acc", AccountID: "acct", RoleID: "r", Hash: []byte("keyed hash"),
			CreatedAt: t0, ExpiresAt: &t1, NumUses: 3, UsesLeft: 2, BoundCIDRs: []string{"10.0.0.1"},
			Metadata: map[string]string{"a": "1", "b": "2"}}},
		{AppRoleSecret: &coffer.AppRoleSecret{Accessor: "acc2", AccountID: "acct", RoleID: "r", Hash: []byte("h2"),
			CreatedAt: t0, BoundCIDRs: []string{}, Metadata: map[string]string{}}},
		{JWTConfig: &coffer.JWTConfig{ID: "c", AccountID: "acct", Name: "k8s", Issuer: "https://issuer.test",
			Keys: `{"keys":[]}`, MaxAge: time.Minute, Leeway: time.Second, SingleUse: true, CreatedAt: t0, UpdatedAt: t1}},
		{JWTConfig: &coffer.JWTConfig{ID: "c2", AccountID: "acct", Name: "gh", Issuer: "https://gh.test", Discovery: true,
			CreatedAt: t0, UpdatedAt: t0}},
		{JWTRole: &coffer.JWTRole{ID: "j", AccountID: "acct", ConfigID: "c", Name: "deploy", Kind: coffer.JWTKindKubernetes,
			PrincipalID: "p", KeyID: "k2", Scopes: scopes, BoundAudiences: []string{"coffer"}, BoundSubject: "sub",
			BoundClaims: map[string][]string{"repository": {"acme/*"}}, BoundClaimsType: "glob",
			BoundServiceAccountNames: []string{"sa"}, BoundServiceAccountNamespaces: []string{"prod"}, TokenTTL: time.Hour,
			CreatedAt: t0, UpdatedAt: t1}},
	}
}

// TestRecordBinaryRoles checks that role records come after every other
// kind (they name keys and principals) and that a list or setting not in
// the one encoding the root gives them (here, a map's keys out of order)
// is refused: it would decode to a record of another digest.
func TestRecordBinaryRoles(t *testing.T) {
	t0 := time.Unix(1700000000, 0).UTC()
	var o coffer.RecordOrder
	for _, r := range append([]*coffer.Record{{APIKey: &coffer.APIKey{}}, {Nonce: &coffer.Nonce{}}}, roleRecords(t0, t0)...) {
		if _, err := o.Check(r); err != nil {
			t.Fatalf("order: %v", err)
		}
	}
	for _, k := range []coffer.RecordKind{coffer.KindAppRole, coffer.KindAppRoleSecret, coffer.KindJWTConfig, coffer.KindJWTRole} {
		if k <= coffer.KindNonce || k.String() == "unknown" {
			t.Errorf("kind %d (%s): want a named kind after nonces", k, k)
		}
	}

	sec := roleRecords(t0, t0)[1]
	b, err := sec.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	swapped := bytes.Replace(b, []byte(`{"a":"1","b":"2"}`), []byte(`{"b":"2","a":"1"}`), 1)
	if bytes.Equal(swapped, b) {
		t.Fatal("the metadata's JSON is not in the encoding")
	}
	var got coffer.Record
	if err := got.UnmarshalBinary(swapped); coffer.ErrorCode(err) != coffer.EINVALID {
		t.Errorf("metadata keys out of order: got %v, want EINVALID", err)
	}
	bad := bytes.Replace(b, []byte(`{"a":"1","b":"2"}`), []byte(`{"a":"1","b":"2"]`), 1)
	if err := got.UnmarshalBinary(bad); coffer.ErrorCode(err) != coffer.EINVALID {
		t.Errorf("metadata not JSON: got %v, want EINVALID", err)
	}
}
