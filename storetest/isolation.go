package storetest

import (
	"testing"

	"github.com/coffer-dev/coffer"
)

// isolation calls every method that takes an account id with another
// account's id and the first account's object ids. Each must answer as if
// the object did not exist and change nothing.
func (r *runner) isolation() {
	r.run("Isolation/EveryMethod", func(t *testing.T, e *env) {
		a, b := e.account(), e.account()
		st := e.store(a, "prod")
		e.store(b, "mine")
		s := e.create(st, "db/password", "v1")
		gone := e.delete(e.create(st, "old", "v1"))
		k := e.key(a, "deploy")
		notFound := func(what string, err error) {
			t.Helper()
			wantCode(t, what+" with another account's id", err, coffer.ENOTFOUND)
		}

		_, err := e.s.Store(e.ctx, b.ID, st.ID)
		notFound("Store(id)", err)
		_, err = e.s.Store(e.ctx, b.ID, st.Name)
		notFound("Store(name)", err)
		stores, err := e.s.Stores(e.ctx, b.ID, "", 0)
		noErr(t, "Stores", err)
		if len(stores) != 1 || stores[0].Name != "mine" {
			t.Fatalf("Stores of the other account: got %d stores, want only its own", len(stores))
		}
		_, err = e.s.StoreKey(e.ctx, b.ID, st.ID, 1)
		notFound("StoreKey", err)
		notFound("DeleteStore", e.s.DeleteStore(e.ctx, b.ID, st.ID, true, e.ev("store.delete")))

		_, err = e.s.WriteSecret(e.ctx, &coffer.SecretWrite{AccountID: b.ID, StoreID: st.ID, Name: s.Name, Seal: seal("x"), At: e.now()}, e.ev("secret.write"))
		notFound("WriteSecret(new version)", err)
		w := e.newSecret(st, "planted", seal("x"))
		w.AccountID = b.ID
		_, err = e.s.WriteSecret(e.ctx, w, e.ev("secret.create"))
		notFound("WriteSecret(create)", err)
		_, err = e.s.Secret(e.ctx, b.ID, st.ID, s.ID)
		notFound("Secret(id)", err)
		_, err = e.s.Secret(e.ctx, b.ID, st.ID, s.Name)
		notFound("Secret(name)", err)
		_, err = e.s.Secret(e.ctx, b.ID, st.ID, gone.ID)
		notFound("Secret(deleted id)", err)
		_, err = e.s.UpdateSecret(e.ctx, b.ID, s.ID, &coffer.SecretUpdate{Comment: ptr("pwned"), At: e.now()}, e.ev("secret.update"))
		notFound("UpdateSecret(metadata)", err)
		_, err = e.s.UpdateSecret(e.ctx, b.ID, s.ID, &coffer.SecretUpdate{Status: ptr(coffer.StatusDeleted), At: e.now()}, e.ev("secret.delete"))
		notFound("UpdateSecret(delete)", err)
		_, err = e.s.UpdateSecret(e.ctx, b.ID, gone.ID, &coffer.SecretUpdate{Status: ptr(coffer.StatusActive), At: e.now()}, e.ev("secret.undelete"))
		notFound("UpdateSecret(undelete)", err)
		notFound("PurgeSecret", e.s.PurgeSecret(e.ctx, b.ID, gone.ID, e.ev("secret.purge")))
		for _, ref := range []string{s.ID, s.Name} {
			for _, store := range []string{st.ID, st.Name} {
				_, _, err = e.s.ReadVersion(e.ctx, b.ID, store, ref, 0)
				notFound("ReadVersion("+store+", "+ref+")", err)
				_, _, err = e.s.ReadVersion(e.ctx, b.ID, store, ref, 1)
				notFound("ReadVersion("+store+", "+ref+", 1)", err)
			}
		}
		notFound("DestroyVersion", e.s.DestroyVersion(e.ctx, b.ID, s.ID, 1, e.now(), e.ev("version.destroy")))

		// Listings answer exactly as for a missing store or secret.
		secrets, err := e.s.Secrets(e.ctx, b.ID, st.ID, coffer.SecretQuery{IncludeDeleted: true})
		missing, errMissing := e.s.Secrets(e.ctx, b.ID, coffer.NewID(), coffer.SecretQuery{IncludeDeleted: true})
		if len(secrets) != 0 || len(missing) != 0 || coffer.ErrorCode(err) != coffer.ErrorCode(errMissing) {
			t.Fatalf("Secrets with another account's id: got %d secrets and %v, want what a missing store gives: %d and %v",
				len(secrets), err, len(missing), errMissing)
		}
		versions, err := e.s.Versions(e.ctx, b.ID, s.ID)
		missingVersions, errMissing := e.s.Versions(e.ctx, b.ID, coffer.NewID())
		if len(versions) != 0 || len(missingVersions) != 0 || coffer.ErrorCode(err) != coffer.ErrorCode(errMissing) {
			t.Fatalf("Versions with another account's id: got %d versions and %v, want what a missing secret gives: %d and %v",
				len(versions), err, len(missingVersions), errMissing)
		}

		keys, err := e.s.APIKeys(e.ctx, b.ID)
		noErr(t, "APIKeys", err)
		if len(keys) != 0 {
			t.Fatalf("APIKeys of the other account: got %d, want 0", len(keys))
		}
		notFound("RevokeAPIKey", e.s.RevokeAPIKey(e.ctx, b.ID, k.ID, e.now(), e.ev("key.revoke")))

		events, err := e.s.AuditEvents(e.ctx, b.ID, coffer.AuditQuery{})
		noErr(t, "AuditEvents", err)
		for _, ev := range events {
			if ev.AccountID != b.ID {
				t.Fatalf("AuditEvents of the other account: got an event of account %q", ev.AccountID)
			}
		}

		// Nothing changed.
		_, err = e.s.Store(e.ctx, a.ID, st.ID)
		noErr(t, "Store", err)
		checkSecret(t, "Secret", e.secret(s, s.ID), s)
		checkSecret(t, "deleted Secret", e.secret(gone, gone.ID), gone)
		if got, want := e.value(st, s.Name, 1), ciphertext(s.ID, 1, "v1"); got != want {
			t.Fatalf("ReadVersion: got %q, want %q", got, want)
		}
		got, err := e.s.Secrets(e.ctx, a.ID, st.ID, coffer.SecretQuery{IncludeDeleted: true})
		noErr(t, "Secrets", err)
		if len(got) != 2 {
			t.Fatalf("Secrets: got %v, want db/password and old", names(got))
		}
		key, err := e.s.APIKey(e.ctx, k.ID)
		noErr(t, "APIKey", err)
		if key.RevokedAt != nil {
			t.Fatal("APIKey: got revoked, want not revoked")
		}
	})
}
