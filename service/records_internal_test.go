package service

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/sqlite"
)

// openInternal opens a service over the SQLite database at path.
func openInternal(t *testing.T, path string, kr *envelope.Keyring) (*Service, *sqlite.DB, error) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path, sqlite.Options{HeadMAC: HeadMAC(kr)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, db, kr, Options{})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	t.Cleanup(func() { s.Close(); db.Close() })
	return s, db, nil
}

func newKeyring(t *testing.T) *envelope.Keyring {
	kr, err := envelope.NewKeyring(envelope.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// TestAccessTokenLifetimeChecked: a token correctly signed by this server's
// database but claiming to live longer than any token it issues (the forged
// root token of issue 17 was valid until 2100) is refused when checked.
func TestAccessTokenLifetimeChecked(t *testing.T) {
	s, _, err := openInternal(t, filepath.Join(t.TempDir(), "coffer.db"), newKeyring(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	root, err := s.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := root[4:20]
	now := time.Now()
	for _, tt := range []struct {
		name string
		exp  time.Time
		ok   bool
	}{
		{"WithinMax", now.Add(coffer.MaxAccessTokenTTL - time.Minute), true},
		{"JustPastMax", now.Add(coffer.MaxAccessTokenTTL + time.Minute), false},
		{"Year2100", time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Authenticate(ctx, coffer.Credential{Token: s.signAccess(ctx, id, tt.exp), RemoteIP: "192.0.2.1"})
			if tt.ok && err != nil || !tt.ok && coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
				t.Fatalf("token until %s: got %v, want ok=%v", tt.exp, err, tt.ok)
			}
		})
	}
}

// TestRecordUpgrade: a database made before record MACs (pepper sealed in
// its first form, records without MACs) gets its records bound at the
// first start; afterwards emptying a MAC never gets the record bound again:
// the record is refused, also after a restart.
func TestRecordUpgrade(t *testing.T) {
	ctx := context.Background()
	kr := newKeyring(t)
	path := filepath.Join(t.TempDir(), "coffer.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{HeadMAC: HeadMAC(kr)})
	if err != nil {
		t.Fatal(err)
	}
	// What an older coffer wrote: the pepper under AAD "pepper", and
	// records without MACs.
	pepper := envelope.GenerateKey()
	wrapped, err := kr.Wrap(pepper, envelope.AAD("pepper"))
	if err != nil {
		t.Fatal(err)
	}
	ev := func(a string) *coffer.AuditEvent {
		return &coffer.AuditEvent{Time: time.Now(), Action: a, PrincipalID: "system"}
	}
	a := &coffer.Account{ID: coffer.NewID(), Name: "default", CreatedAt: time.Now()}
	p := &coffer.Principal{ID: coffer.NewID(), AccountID: a.ID, Name: "root", Kind: "user", CreatedAt: time.Now()}
	old := &Service{pepper: pepper}
	id, token, hash := old.newToken()
	id2, token2, hash2 := old.newToken()
	k := &coffer.APIKey{ID: id, AccountID: a.ID, PrincipalID: p.ID, Name: "root", Admin: true, Scopes: []coffer.Scope{}, Hash: hash, CreatedAt: time.Now()}
	k2 := &coffer.APIKey{ID: id2, AccountID: a.ID, PrincipalID: p.ID, Name: "other", Scopes: []coffer.Scope{}, Hash: hash2, CreatedAt: time.Now()}
	for _, err := range []error{
		db.SetMeta(ctx, metaPepper, wrapped),
		db.CreateAccount(ctx, a, ev("account.create")),
		db.SetMeta(ctx, metaOperator, []byte(a.ID)),
		db.CreatePrincipal(ctx, p, ev("principal.create")),
		db.CreateAPIKey(ctx, k, ev("key.create")),
		db.CreateAPIKey(ctx, k2, ev("key.create")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, db, err := openInternal(t, path, kr)
	if err != nil {
		t.Fatalf("first start after the upgrade: %v", err)
	}
	for _, tok := range []string{token, token2} {
		if _, err := s.Authenticate(ctx, coffer.Credential{Token: tok, RemoteIP: "192.0.2.1"}); err != nil {
			t.Fatalf("a key of before the upgrade: %v", err)
		}
	}
	got, err := db.APIKey(ctx, id2)
	if err != nil || len(got.MAC) == 0 {
		t.Fatalf("key after the upgrade: %+v, %v; want a MAC", got, err)
	}
	if pw, _ := db.Meta(ctx, metaPepper); pw == nil {
		t.Fatal("no pepper")
	} else if _, err := kr.Unwrap(pw, pepperAAD); err != nil {
		t.Fatalf("the pepper is not sealed in its second form after the upgrade: %v", err)
	}
	if err := db.SetRecordMAC(ctx, coffer.KindAPIKey, id2, got.MAC, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db.Close()

	// A restart binds nothing again: the key whose MAC was emptied stays
	// refused, the other works.
	s, _, err = openInternal(t, path, kr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, coffer.Credential{Token: token2, RemoteIP: "192.0.2.2"}); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
		t.Fatalf("key whose MAC was emptied after the upgrade: got %v, want EUNAUTHORIZED", err)
	}
	if _, err := s.Authenticate(ctx, coffer.Credential{Token: token, RemoteIP: "192.0.2.3"}); err != nil {
		t.Fatalf("untouched key: %v", err)
	}
}

// BenchmarkAPIKeyMAC is the cost of checking a key record's MAC, paid once
// per key cache fill (keyCacheTTL), not per request.
func BenchmarkAPIKeyMAC(b *testing.B) {
	key := envelope.GenerateKey()
	exp := time.Now().Add(time.Hour)
	k := &coffer.APIKey{ID: "0123456789abcdef", AccountID: coffer.NewID(), PrincipalID: coffer.NewID(), Admin: false,
		Scopes: []coffer.Scope{{Store: "prod", Secret: "*", Actions: []coffer.Action{"read", "reveal"}}}, Hash: key, ExpiresAt: &exp}
	for b.Loop() {
		apiKeyMAC(key, k)
	}
}
