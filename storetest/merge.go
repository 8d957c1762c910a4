package storetest

import (
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer"
)

func (r *runner) attributeMerges() {
	r.run("Secret/MergeAttributes", func(t *testing.T, e *env) {
		st := e.store(e.account(), "prod")
		s := e.create(st, "db/password", "v1")
		_, err := e.s.UpdateSecret(e.ctx, s.AccountID, s.ID, &coffer.SecretUpdate{
			Attributes: map[string]string{"keep": "1", "drop": "2"}, At: e.now()}, e.ev("secret.update"))
		noErr(t, "UpdateSecret", err)

		// Concurrent merges of different keys all land: each applies to
		// the secret as stored.
		const n = 16
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = e.s.UpdateSecret(e.ctx, s.AccountID, s.ID, &coffer.SecretUpdate{
					MergeAttributes: map[string]string{fmt.Sprint("c", i): "x", "drop": ""}, At: e.now()}, e.ev("secret.update"))
			})
		}
		wg.Wait()
		want := map[string]string{"keep": "1"}
		for i := range n {
			noErr(t, fmt.Sprint("merge ", i), errs[i])
			want[fmt.Sprint("c", i)] = "x"
		}
		if got := e.secret(s, s.ID); !maps.Equal(got.Attributes, want) {
			t.Fatalf("after %d merges: got %v, want %v", n, got.Attributes, want)
		}

		// Too many after the merge: refused, nothing changed.
		many := map[string]string{}
		for i := range coffer.MaxLabels {
			many[fmt.Sprint("m", i)] = "x"
		}
		ev := e.ev("secret.update")
		_, err = e.s.UpdateSecret(e.ctx, s.AccountID, s.ID, &coffer.SecretUpdate{MergeAttributes: many, At: e.now()}, ev)
		wantCode(t, "a merge past MaxLabels", err, coffer.EINVALID)
		if ev.Outcome != coffer.EINVALID {
			t.Fatalf("event: got outcome %q, want %q", ev.Outcome, coffer.EINVALID)
		}
		if got := e.secret(s, s.ID); !maps.Equal(got.Attributes, want) {
			t.Fatalf("after a refused merge: got %v, want %v", got.Attributes, want)
		}

		// In a batch too.
		b := &coffer.SecretBatch{AccountID: st.AccountID, StoreID: st.ID, Items: []coffer.SecretBatchItem{
			{SecretID: s.ID, Update: &coffer.SecretUpdate{MergeAttributes: map[string]string{"keep": "", "b": "2"}, At: e.now()},
				Event: e.ev("secret.update")},
		}}
		out, err := e.s.WriteSecrets(e.ctx, b)
		noErr(t, "WriteSecrets", err)
		delete(want, "keep")
		want["b"] = "2"
		if !maps.Equal(out[0].Attributes, want) {
			t.Fatalf("batch merge: got %v, want %v", out[0].Attributes, want)
		}
	})
}
