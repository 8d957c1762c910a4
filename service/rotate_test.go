package service_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/envelope"
	"github.com/coffer-dev/coffer/service"
	"github.com/coffer-dev/coffer/sqlite"
)

// rotEnv opens one SQLite database again and again with different keyrings.
type rotEnv struct {
	t     *testing.T
	path  string
	token string
	close func() // closes the open service and database
}

// open opens the database with a keyring of active and old, and returns the
// service acting as the root key (bootstrapping on the first open).
func (e *rotEnv) open(active []byte, old ...[]byte) (*service.Service, context.Context, error) {
	e.t.Helper()
	ctx := context.Background()
	kr, err := envelope.NewKeyring(active, old...)
	if err != nil {
		e.t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, e.path, sqlite.Options{HeadMAC: service.HeadMAC(kr)})
	if err != nil {
		e.t.Fatal(err)
	}
	svc, err := service.New(ctx, db, kr, service.Options{})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	e.close = func() { svc.Close(); db.Close() }
	e.t.Cleanup(e.close)
	if e.token == "" {
		if e.token, err = svc.Bootstrap(ctx); err != nil {
			e.t.Fatal(err)
		}
	}
	c, err := svc.Authenticate(ctx, coffer.Credential{Token: e.token, RemoteIP: "127.0.0.1"})
	if err != nil {
		e.t.Fatal(err)
	}
	c.Face = "test"
	return svc, coffer.NewContext(ctx, c), nil
}

func (e *rotEnv) mustOpen(active []byte, old ...[]byte) (*service.Service, context.Context) {
	e.t.Helper()
	svc, ctx, err := e.open(active, old...)
	if err != nil {
		e.t.Fatal(err)
	}
	return svc, ctx
}

func TestRotateMasterKey(t *testing.T) {
	k1, k2 := envelope.GenerateKey(), envelope.GenerateKey()
	id1, id2 := fmt.Sprintf("%08x", envelope.KeyID(k1)), fmt.Sprintf("%08x", envelope.KeyID(k2))
	e := &rotEnv{t: t, path: filepath.Join(t.TempDir(), "coffer.db")}

	svc, ctx := e.mustOpen(k1)
	want := map[string]string{}
	for i := range 5 {
		store := fmt.Sprintf("s%d", i)
		if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: store}); err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			name, value := fmt.Sprintf("S%d", j), fmt.Sprintf("value-%d-%d", i, j)
			if _, err := svc.PutSecret(ctx, store, &coffer.SecretPut{Name: name, Value: []byte(value)}); err != nil {
				t.Fatal(err)
			}
			want[store+"/"+name] = value
		}
	}
	e.close()

	// Only the new key: the data needs k1, and the server says so.
	if _, _, err := e.open(k2); !errors.Is(err, service.ErrWrongMasterKey) {
		t.Fatalf("open with only the new key before rotation: got %v, want ErrWrongMasterKey", err)
	}

	svc, ctx = e.mustOpen(k2, k1)
	if err := svc.CheckMasterKeys(ctx); err != nil {
		t.Fatalf("CheckMasterKeys with both keys: %v", err)
	}
	st, err := svc.MasterKeyStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Active != id2 || st.Retired(id1) || len(st.Keys) != 1 || st.Keys[0].StoreKeys != 5 || st.Keys[0].Settings != 2 || !st.Keys[0].Loaded {
		t.Fatalf("status before rotation: got %+v, want 5 store keys and 2 settings (pepper, auth secret) under %s", st, id1)
	}
	rep, err := svc.RotateMasterKey(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rewrapped != 5 || rep.Settings != 2 || rep.Current != 0 || rep.Unreadable != 0 {
		t.Fatalf("RotateMasterKey: got %+v, want 5 rewrapped, 2 settings (pepper rewrapped, auth secret replaced)", rep)
	}
	if !rep.Status.Retired(id1) || rep.Status.Retired(id2) {
		t.Fatalf("status after rotation: got %+v, want only %s in use", rep.Status, id2)
	}
	if ev := lastEvent(t, svc, ctx); ev.Action != "master-key.rotate" || ev.Outcome != "ok" {
		t.Fatalf("last event: got %s %s, want master-key.rotate ok", ev.Action, ev.Outcome)
	}
	// Idempotent: a second run finds every key current (and replaces the
	// auth secret again).
	if rep, err = svc.RotateMasterKey(ctx, false); err != nil || rep.Rewrapped != 0 || rep.Settings != 1 || rep.Current != 5 {
		t.Fatalf("second RotateMasterKey: got %+v, %v; want 5 current, the auth secret replaced", rep, err)
	}
	e.close()

	// The old key retired: everything still opens, the audit chain verifies.
	svc, ctx = e.mustOpen(k2)
	if err := svc.CheckMasterKeys(ctx); err != nil {
		t.Fatalf("CheckMasterKeys with only the new key: %v", err)
	}
	for ref, value := range want {
		store, name := ref[:2], ref[3:]
		v, err := svc.Reveal(ctx, store, name, 0)
		if err != nil || string(v.Data) != value {
			t.Fatalf("Reveal %s after retiring the old key: got %v, want its value", ref, err)
		}
	}
	if rep, err := svc.VerifyAudit(ctx); err != nil || !rep.OK {
		t.Fatalf("VerifyAudit after retiring the old key: got %+v, %v", rep, err)
	}
	e.close()

	// Only the retired key: refused.
	if _, _, err := e.open(k1); !errors.Is(err, service.ErrWrongMasterKey) {
		t.Fatalf("open with only the retired key: got %v, want ErrWrongMasterKey", err)
	}
}

func TestCheckMasterKeysMissing(t *testing.T) {
	k1, k2, k3 := envelope.GenerateKey(), envelope.GenerateKey(), envelope.GenerateKey()
	e := &rotEnv{t: t, path: filepath.Join(t.TempDir(), "coffer.db")}
	svc, ctx := e.mustOpen(k1)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "old"}); err != nil {
		t.Fatal(err)
	}
	e.close()
	// Rotate to k2, then start with k3 (and k2) without rotating: the
	// pepper stays under k2, a new store's key is wrapped by k3.
	svc, ctx = e.mustOpen(k2, k1)
	if _, err := svc.RotateMasterKey(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "new"}); err != nil {
		t.Fatal(err)
	}
	e.close()
	svc, ctx = e.mustOpen(k3, k2)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "newer"}); err != nil {
		t.Fatal(err)
	}
	e.close()
	// k3's store key needs k3: a server with k2 only opens the pepper but
	// must refuse the data.
	svc, _ = e.mustOpen(k2)
	err := svc.CheckMasterKeys(context.Background())
	if !errors.Is(err, service.ErrMissingMasterKey) {
		t.Fatalf("CheckMasterKeys without k3: got %v, want ErrMissingMasterKey", err)
	}
	if id3 := fmt.Sprintf("%08x", envelope.KeyID(k3)); !strings.Contains(err.Error(), id3) {
		t.Fatalf("CheckMasterKeys error %q does not name the missing key id %s", err, id3)
	}
}

func TestRotateMasterKeyOperatorOnly(t *testing.T) {
	svc, ctx := mustOpenService(t)
	out, err := svc.CreateAccount(ctx, &coffer.AccountCreate{Name: "tenant"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.Authenticate(ctx, coffer.Credential{Token: out.Token, RemoteIP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	tenant := coffer.NewContext(context.Background(), c)
	if _, err := svc.RotateMasterKey(tenant, false); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("RotateMasterKey by a tenant admin: got %v, want EFORBIDDEN", err)
	}
	if _, err := svc.MasterKeyStatus(tenant); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("MasterKeyStatus by a tenant admin: got %v, want EFORBIDDEN", err)
	}
}

func TestRotateStoreKey(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a1", "a2"} {
		if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "A", Value: []byte(v)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "B", Value: []byte("b1")}); err != nil {
		t.Fatal(err)
	}
	t.Run("OK", func(t *testing.T) {
		rot, err := svc.RotateStoreKey(ctx, "s", false)
		if err != nil || rot.KeyID != 2 || rot.Store.KeyID != 2 || rot.Reencrypted != 0 {
			t.Fatalf("RotateStoreKey: got %+v, %v; want key 2", rot, err)
		}
		if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "A", Value: []byte("a3")}); err != nil {
			t.Fatal(err)
		}
		for n, want := range map[int]string{1: "a1", 2: "a2", 3: "a3"} {
			if v, err := svc.Reveal(ctx, "s", "A", n); err != nil || string(v.Data) != want {
				t.Fatalf("Reveal A version %d: got %v, want %q", n, err, want)
			}
		}
	})
	t.Run("Reencrypt", func(t *testing.T) {
		rot, err := svc.RotateStoreKey(ctx, "s", true)
		if err != nil || rot.KeyID != 3 {
			t.Fatalf("RotateStoreKey(reencrypt): got %+v, %v", rot, err)
		}
		// A1, A2 (key 1), A3 (key 2), B1 (key 1).
		if rot.Reencrypted != 4 || rot.Skipped != 0 {
			t.Fatalf("RotateStoreKey(reencrypt): got %d re-encrypted, %d skipped; want 4, 0", rot.Reencrypted, rot.Skipped)
		}
		for n, want := range map[int]string{1: "a1", 2: "a2", 3: "a3"} {
			if v, err := svc.Reveal(ctx, "s", "A", n); err != nil || string(v.Data) != want {
				t.Fatalf("Reveal A version %d after re-encryption: got %v, want %q", n, err, want)
			}
		}
		if v, err := svc.Reveal(ctx, "s", "B", 0); err != nil || string(v.Data) != "b1" {
			t.Fatalf("Reveal B after re-encryption: got %v", err)
		}
		if rot, err = svc.RotateStoreKey(ctx, "s", true); err != nil || rot.KeyID != 4 || rot.Reencrypted != 4 {
			t.Fatalf("second re-encryption: got %+v, %v; want 4 re-encrypted to key 4", rot, err)
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		writer := scoped(t, svc, ctx, coffer.Scope{Store: "s", Actions: []coffer.Action{coffer.ActionRead, coffer.ActionWrite}})
		if _, err := svc.RotateStoreKey(writer, "s", false); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
			t.Fatalf("RotateStoreKey by a writer: got %v, want EFORBIDDEN", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := svc.RotateStoreKey(ctx, "missing", false); coffer.ErrorCode(err) != coffer.ENOTFOUND {
			t.Fatalf("RotateStoreKey of a missing store: got %v, want ENOTFOUND", err)
		}
	})
}
