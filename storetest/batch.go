package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer"
)

// liveNames lists the names of a store's live secrets, in order.
func (e *env) liveNames(st *coffer.Store) []string {
	e.t.Helper()
	list, err := e.s.Secrets(e.ctx, st.AccountID, st.ID, coffer.SecretQuery{Limit: coffer.MaxPageSize})
	if err != nil {
		e.t.Fatalf("Secrets: %v", err)
	}
	return names(list)
}

// createItem is a batch item that creates the secret name with a value.
func (e *env) createItem(st *coffer.Store, name, value string) coffer.SecretBatchItem {
	w := e.newSecret(st, name, seal(value))
	w.IfVersion = -1
	return coffer.SecretBatchItem{Write: w, Event: e.ev("secret.write")}
}

// deleteItem is a batch item that soft-deletes s.
func (e *env) deleteItem(s *coffer.Secret) coffer.SecretBatchItem {
	return coffer.SecretBatchItem{SecretID: s.ID, Update: &coffer.SecretUpdate{Status: ptr(coffer.StatusDeleted), At: e.now()},
		Event: e.ev("secret.delete")}
}

func (r *runner) secretBatches() {
	r.run("Batch/OK", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		old := e.create(st, "old", "v1")
		kept := e.create(st, "kept", "v1")
		gen := e.storeGen(&coffer.Account{ID: st.AccountID}, st)
		b := &coffer.SecretBatch{AccountID: st.AccountID, StoreID: st.ID, Items: []coffer.SecretBatchItem{
			e.createItem(st, "a", "1"),
			{Write: &coffer.SecretWrite{Name: "kept", IfVersion: 1, Seal: seal("v2"), By: "p-writer", At: e.now()}, Event: e.ev("secret.write")},
			e.deleteItem(old),
		}}
		got, err := e.s.WriteSecrets(e.ctx, b)
		noErr(t, "WriteSecrets", err)
		if len(got) != 3 || got[0].Name != "a" || got[0].Version != 1 || got[1].ID != kept.ID || got[1].Version != 2 ||
			got[2].ID != old.ID || got[2].Status != coffer.StatusDeleted {
			t.Fatalf("WriteSecrets: got %v, want a v1, kept v2, old deleted", got)
		}
		if got, want := e.liveNames(st), []string{"a", "kept"}; !slices.Equal(got, want) {
			t.Fatalf("live secrets: got %q, want %q", got, want)
		}
		if got, want := e.value(st, "kept", 0), ciphertext(kept.ID, 2, "v2"); got != want {
			t.Fatalf("kept value: got %q, want %q", got, want)
		}
		for i, it := range b.Items {
			if it.Event.Outcome != "ok" || it.Event.SecretID != got[i].ID || it.Event.StoreID != st.ID {
				t.Fatalf("event %d: got outcome %q secret %q store %q, want ok %q %q", i, it.Event.Outcome,
					it.Event.SecretID, it.Event.StoreID, got[i].ID, st.ID)
			}
		}
		if g := e.storeGen(&coffer.Account{ID: st.AccountID}, st); g == gen {
			t.Fatalf("store Gen: got %d unchanged, want it changed", g)
		}
	})
	r.run("Batch/AllOrNothing", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		old := e.create(st, "old", "v1")
		e.create(st, "taken", "v1")
		gen := e.storeGen(&coffer.Account{ID: st.AccountID}, st)
		seq := e.lastEvent().Seq
		b := &coffer.SecretBatch{AccountID: st.AccountID, StoreID: st.ID, Items: []coffer.SecretBatchItem{
			e.createItem(st, "a", "1"),
			e.deleteItem(old),
			e.createItem(st, "taken", "2"),
			e.createItem(st, "b", "3"),
		}}
		_, err := e.s.WriteSecrets(e.ctx, b)
		wantCode(t, "WriteSecrets with a taken name", err, coffer.EPRECONDITION)
		if got, want := e.liveNames(st), []string{"old", "taken"}; !slices.Equal(got, want) {
			t.Fatalf("live secrets after a failed batch: got %q, want %q", got, want)
		}
		if g := e.storeGen(&coffer.Account{ID: st.AccountID}, st); g != gen {
			t.Fatalf("store Gen after a failed batch: got %d, want %d", g, gen)
		}
		evs := e.events()
		if got := len(evs) - int(seq); got != 4 {
			t.Fatalf("events of a failed batch: got %d, want 4", got)
		}
		for _, ev := range evs[seq:] {
			if ev.Outcome != coffer.EPRECONDITION {
				t.Fatalf("event %s of a failed batch: got outcome %q, want %q", ev.Action, ev.Outcome, coffer.EPRECONDITION)
			}
		}
		// The batch can run once the conflict is gone.
		e.delete(e.secret(old, "taken"))
		b.Items[2] = e.createItem(st, "taken", "2")
		_, err = e.s.WriteSecrets(e.ctx, b)
		noErr(t, "WriteSecrets again", err)
		if got, want := e.liveNames(st), []string{"a", "b", "taken"}; !slices.Equal(got, want) {
			t.Fatalf("live secrets: got %q, want %q", got, want)
		}
	})
	r.run("Batch/ErrNotFound", func(t *testing.T, e *env) {
		a := e.account()
		st, other := e.store(a, "prod"), e.store(a, "dev")
		elsewhere := e.create(other, "x", "v1")
		_, err := e.s.WriteSecrets(e.ctx, &coffer.SecretBatch{AccountID: a.ID, StoreID: st.ID, Items: []coffer.SecretBatchItem{
			e.createItem(st, "a", "1"), e.deleteItem(elsewhere),
		}})
		wantCode(t, "WriteSecrets deleting a secret of another store", err, coffer.ENOTFOUND)
		if got := e.liveNames(st); len(got) != 0 {
			t.Fatalf("live secrets: got %q, want none", got)
		}
		if got := e.secret(elsewhere, elsewhere.ID); got.Status == coffer.StatusDeleted {
			t.Fatal("a secret of another store was deleted")
		}
		_, err = e.s.WriteSecrets(e.ctx, &coffer.SecretBatch{AccountID: e.account().ID, StoreID: st.ID, Items: []coffer.SecretBatchItem{
			e.createItem(st, "a", "1"),
		}})
		wantCode(t, "WriteSecrets in another account's store", err, coffer.ENOTFOUND)
	})
	r.run("Batch/Limit", func(t *testing.T, e *env) {
		a := e.account()
		st, other := e.store(a, "prod"), e.store(a, "dev")
		e.create(other, "x", "v1")
		old := e.create(st, "old", "v1")
		e.delete(e.create(st, "gone", "v1")) // deleted secrets do not count
		limit := func(max int, items ...coffer.SecretBatchItem) error {
			_, err := e.s.WriteSecrets(e.ctx, &coffer.SecretBatch{AccountID: a.ID, StoreID: st.ID, MaxLiveSecrets: max, Items: items})
			return err
		}
		err := limit(3, e.createItem(st, "a", "1"), e.createItem(st, "b", "1"))
		wantCode(t, "WriteSecrets over the limit", err, coffer.ECONFLICT)
		if !errors.Is(err, coffer.ErrSecretLimit) {
			t.Fatalf("WriteSecrets over the limit: got %v, want ErrSecretLimit", err)
		}
		if got, want := e.liveNames(st), []string{"old"}; !slices.Equal(got, want) {
			t.Fatalf("live secrets: got %q, want %q", got, want)
		}
		// A delete in the batch makes room.
		noErr(t, "WriteSecrets at the limit", limit(3, e.deleteItem(old), e.createItem(st, "a", "1"), e.createItem(st, "b", "1")))
		// A batch that creates nothing passes over a limit already reached.
		noErr(t, "WriteSecrets of a new version", limit(1, coffer.SecretBatchItem{
			Write: &coffer.SecretWrite{Name: "a", Seal: seal("2"), By: "p-writer", At: e.now()}, Event: e.ev("secret.write")}))
		wantCode(t, "WriteSecrets with one more", limit(3, e.createItem(st, "c", "1")), coffer.ECONFLICT)
	})
	r.run("Batch/LimitConcurrent", func(t *testing.T, e *env) {
		a := e.account()
		st := e.store(a, "prod")
		const max, writers = 5, 6
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				_, errs[i] = e.s.WriteSecrets(e.ctx, &coffer.SecretBatch{AccountID: a.ID, StoreID: st.ID, MaxLiveSecrets: max,
					Items: []coffer.SecretBatchItem{e.createItem(st, fmt.Sprint(i, "a"), "1"), e.createItem(st, fmt.Sprint(i, "b"), "1")}})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, coffer.ErrSecretLimit) {
				t.Fatalf("WriteSecrets: got %v, want nil or ErrSecretLimit", err)
			}
		}
		live := e.liveNames(st)
		if ok != max/2 || len(live) != 2*ok {
			t.Fatalf("concurrent batches at a limit of %d: got %d through and %d secrets, want %d and %d", max, ok, len(live), max/2, max/2*2)
		}
		for _, n := range live {
			if !slices.Contains(live, n[:len(n)-1]+"a") || !slices.Contains(live, n[:len(n)-1]+"b") {
				t.Fatalf("half a batch was written: %q", live)
			}
		}
	})
	r.run("Batch/CreateStore", func(t *testing.T, e *env) {
		a := e.account()
		e.store(a, "taken")
		newStore := func(name string) *coffer.SecretBatch {
			at := e.now()
			st := &coffer.Store{ID: coffer.NewID(), AccountID: a.ID, Name: name, KeyID: 1, CreatedAt: at, UpdatedAt: at}
			return &coffer.SecretBatch{AccountID: a.ID, StoreID: st.ID, Store: st, StoreKey: []byte("wrapped-" + name),
				StoreEvent: e.ev("store.create"), Items: []coffer.SecretBatchItem{e.createItem(st, "a", "1"), e.createItem(st, "b", "2")}}
		}
		b := newStore("group")
		got, err := e.s.WriteSecrets(e.ctx, b)
		noErr(t, "WriteSecrets with a new store", err)
		if len(got) != 2 || got[0].StoreID != b.StoreID || got[1].Version != 1 {
			t.Fatalf("WriteSecrets: got %v, want a and b at version 1 in the new store", got)
		}
		if got, want := e.liveNames(b.Store), []string{"a", "b"}; !slices.Equal(got, want) {
			t.Fatalf("live secrets: got %q, want %q", got, want)
		}
		if b.StoreEvent.Outcome != "ok" || b.StoreEvent.StoreID != b.StoreID {
			t.Fatalf("store event: got outcome %q store %q, want ok %q", b.StoreEvent.Outcome, b.StoreEvent.StoreID, b.StoreID)
		}
		key, err := e.s.StoreKey(e.ctx, a.ID, b.StoreID, 1)
		noErr(t, "StoreKey", err)
		if string(key) != "wrapped-group" {
			t.Fatalf("StoreKey: got %q, want %q", key, "wrapped-group")
		}

		b = newStore("taken")
		_, err = e.s.WriteSecrets(e.ctx, b)
		wantCode(t, "WriteSecrets with a taken store name", err, coffer.ECONFLICT)

		b = newStore("half")
		b.Items[1] = e.createItem(b.Store, "a", "again")
		_, err = e.s.WriteSecrets(e.ctx, b)
		wantCode(t, "WriteSecrets with a name given twice", err, coffer.EPRECONDITION)
		var ie *coffer.BatchItemError
		if !errors.As(err, &ie) || ie.Index != 1 {
			t.Fatalf("WriteSecrets with a name given twice: got %v, want a BatchItemError of item 1", err)
		}
		_, err = e.s.Store(e.ctx, a.ID, b.StoreID)
		wantCode(t, "Store after a failed batch", err, coffer.ENOTFOUND)
		if b.StoreEvent.Outcome != coffer.EPRECONDITION {
			t.Fatalf("store event of a failed batch: got outcome %q, want %q", b.StoreEvent.Outcome, coffer.EPRECONDITION)
		}
	})
}

// storeItem is a batch item that creates the store name in account a.
func (e *env) storeItem(a *coffer.Account, name string) coffer.StoreBatchItem {
	at := e.now()
	return coffer.StoreBatchItem{Store: &coffer.Store{ID: coffer.NewID(), AccountID: a.ID, Name: name, KeyID: 1, CreatedAt: at, UpdatedAt: at},
		Key: []byte("wrapped-" + name), Event: e.ev("store.create")}
}

// storeNames lists the names of an account's stores, in order.
func (e *env) storeNames(a *coffer.Account) []string {
	e.t.Helper()
	stores, err := e.s.Stores(e.ctx, a.ID, "", coffer.MaxPageSize)
	if err != nil {
		e.t.Fatalf("Stores: %v", err)
	}
	var out []string
	for _, st := range stores {
		out = append(out, st.Name)
	}
	return out
}

func (r *runner) storeBatches() {
	r.run("StoreBatch/OK", func(t *testing.T, e *env) {
		a := e.account()
		b := &coffer.StoreBatch{AccountID: a.ID, Items: []coffer.StoreBatchItem{e.storeItem(a, "b"), e.storeItem(a, "a")}}
		noErr(t, "CreateStores", e.s.CreateStores(e.ctx, b))
		if got, want := e.storeNames(a), []string{"a", "b"}; !slices.Equal(got, want) {
			t.Fatalf("stores: got %q, want %q", got, want)
		}
		for _, it := range b.Items {
			if it.Event.Outcome != "ok" || it.Event.StoreID != it.Store.ID {
				t.Fatalf("event: got outcome %q store %q, want ok %q", it.Event.Outcome, it.Event.StoreID, it.Store.ID)
			}
			key, err := e.s.StoreKey(e.ctx, a.ID, it.Store.ID, 1)
			noErr(t, "StoreKey", err)
			if string(key) != "wrapped-"+it.Store.Name {
				t.Fatalf("StoreKey: got %q", key)
			}
		}
	})
	r.run("StoreBatch/AllOrNothing", func(t *testing.T, e *env) {
		a := e.account()
		e.store(a, "taken")
		b := &coffer.StoreBatch{AccountID: a.ID, Items: []coffer.StoreBatchItem{e.storeItem(a, "new"), e.storeItem(a, "taken")}}
		err := e.s.CreateStores(e.ctx, b)
		wantCode(t, "CreateStores with a taken name", err, coffer.ECONFLICT)
		var ie *coffer.BatchItemError
		if !errors.As(err, &ie) || ie.Index != 1 {
			t.Fatalf("CreateStores with a taken name: got %v, want a BatchItemError of item 1", err)
		}
		if got, want := e.storeNames(a), []string{"taken"}; !slices.Equal(got, want) {
			t.Fatalf("stores: got %q, want %q", got, want)
		}
		_, err = e.s.Store(e.ctx, a.ID, b.Items[0].Store.ID)
		wantCode(t, "Store of a failed batch", err, coffer.ENOTFOUND)
		if b.Items[0].Event.Outcome != coffer.ECONFLICT {
			t.Fatalf("event of a failed batch: got outcome %q, want %q", b.Items[0].Event.Outcome, coffer.ECONFLICT)
		}
		other := e.account()
		err = e.s.CreateStores(e.ctx, &coffer.StoreBatch{AccountID: a.ID, Items: []coffer.StoreBatchItem{e.storeItem(other, "x")}})
		wantCode(t, "CreateStores of another account's store", err, coffer.EINVALID)
	})
	r.run("StoreBatch/Limit", func(t *testing.T, e *env) {
		a := e.account()
		e.store(a, "one")
		e.store(e.account(), "elsewhere") // other accounts do not count
		err := e.s.CreateStores(e.ctx, &coffer.StoreBatch{AccountID: a.ID, MaxStores: 2,
			Items: []coffer.StoreBatchItem{e.storeItem(a, "two"), e.storeItem(a, "three")}})
		wantCode(t, "CreateStores over the limit", err, coffer.ECONFLICT)
		if !errors.Is(err, coffer.ErrStoreLimit) {
			t.Fatalf("CreateStores over the limit: got %v, want ErrStoreLimit", err)
		}
		noErr(t, "CreateStores at the limit", e.s.CreateStores(e.ctx, &coffer.StoreBatch{AccountID: a.ID, MaxStores: 2,
			Items: []coffer.StoreBatchItem{e.storeItem(a, "two")}}))
		if got, want := e.storeNames(a), []string{"one", "two"}; !slices.Equal(got, want) {
			t.Fatalf("stores: got %q, want %q", got, want)
		}
	})
	r.run("StoreBatch/LimitConcurrent", func(t *testing.T, e *env) {
		a := e.account()
		const writers = 4
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				errs[i] = e.s.CreateStores(e.ctx, &coffer.StoreBatch{AccountID: a.ID, MaxStores: 3,
					Items: []coffer.StoreBatchItem{e.storeItem(a, fmt.Sprint(i, "a")), e.storeItem(a, fmt.Sprint(i, "b"))}})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, coffer.ErrStoreLimit) {
				t.Fatalf("CreateStores: got %v, want nil or ErrStoreLimit", err)
			}
		}
		if got := e.storeNames(a); ok != 1 || len(got) != 2 {
			t.Fatalf("concurrent batches at a limit of 3: got %d through and stores %q, want 1 and 2 stores", ok, got)
		}
	})
}
