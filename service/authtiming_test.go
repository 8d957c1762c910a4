package service_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/service"
	"github.com/coffer-dev/coffer/sqlite"
)

// countingStorage counts the API key lookups that reach storage.
type countingStorage struct {
	coffer.Storage
	lookups atomic.Int64
}

func (s *countingStorage) APIKey(ctx context.Context, id string) (*coffer.APIKey, error) {
	s.lookups.Add(1)
	return s.Storage.APIKey(ctx, id)
}

// TestAuthenticateFailureSamePath checks that a failed authentication
// costs one storage lookup whatever its cause: an unknown key id (never
// cached) and a wrong secret for a real key whose record is cached take the
// same path, so their timing does not tell a real key id from an unknown
// one (issue 17 item 6). A valid credential keeps using the cache.
func TestAuthenticateFailureSamePath(t *testing.T) {
	ctx := context.Background()
	kr, err := envelope.NewKeyring(envelope.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "coffer.db"), sqlite.Options{HeadMAC: service.HeadMAC(kr)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := &countingStorage{Storage: db}
	svc, err := service.New(ctx, st, kr, service.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	token, err := svc.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wrong := token[:len(token)-4] + "0000"
	if wrong == token {
		wrong = token[:len(token)-4] + "1111"
	}
	unknown := "cfr_0123456789abcdef_" + token[len(token)-64:]
	lookups := func(tok, ip string) int64 {
		before := st.lookups.Load()
		svc.Authenticate(ctx, coffer.Credential{Token: tok, RemoteIP: ip})
		return st.lookups.Load() - before
	}
	lookups(token, "192.0.2.1") // the key is now cached
	if n := lookups(token, "192.0.2.1"); n != 0 {
		t.Errorf("valid key, cached: %d lookups, want 0", n)
	}
	for i, tok := range []string{wrong, unknown, wrong, unknown} {
		ip := "192.0.2." + string(rune('2'+i))
		if n := lookups(tok, ip); n != 1 {
			t.Errorf("failure %d (%s): %d storage lookups, want 1", i, map[bool]string{true: "wrong secret", false: "unknown key"}[tok == wrong], n)
		}
	}
}
