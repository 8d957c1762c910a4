package cloudflare_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/cloudflare"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// quotaFace is the Cloudflare face with limits over a real service, and a
// function that POSTs a body to a path of it as the account's admin.
func quotaFace(t *testing.T, l cloudflare.Limits) (*svctest.Env, func(path, body string) *httptest.ResponseRecorder) {
	env := svctest.Open(t, service.Options{})
	account := coffer.CallerFrom(env.Root).AccountID
	h := (&cloudflare.Server{Secrets: env.Svc, Auth: env.Svc, Limits: l}).Handler()
	return env, func(path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", cloudflare.Prefix+"accounts/"+account+"/secrets_store"+path, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+env.Token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
}

// TestCreateSecretsQuotaRace sends two array creates at once that each fit
// the account's secret quota alone but not together: one is written whole,
// the other refused whole (maximum_secrets_exceeded), never both, never
// half of one.
func TestCreateSecretsQuotaRace(t *testing.T) {
	env, do := quotaFace(t, cloudflare.Limits{MaxStores: 1, MaxSecrets: 4})
	var st struct{ Result struct{ ID string } }
	json.Unmarshal(do("/stores", `{"name":"main"}`).Body.Bytes(), &st)
	if w := do("/stores/"+st.Result.ID+"/secrets", `[{"name":"SEED","value":"v","scopes":["workers"]}]`); w.Code != http.StatusOK {
		t.Fatalf("seed: got %d %s", w.Code, w.Body)
	}
	for round := range 5 {
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range 2 {
			wg.Go(func() {
				body := fmt.Sprintf(`[{"name":"R%d_%d_A","value":"v","scopes":["workers"]},{"name":"R%d_%d_B","value":"v","scopes":["workers"]}]`, round, i, round, i)
				w := do("/stores/"+st.Result.ID+"/secrets", body)
				codes[i] = w.Code
				if w.Code != http.StatusOK && (w.Code != http.StatusBadRequest || !bytes.Contains(w.Body.Bytes(), []byte("maximum_secrets_exceeded"))) {
					t.Errorf("round %d: create %d: got %d %s, want 200 or maximum_secrets_exceeded", round, i, w.Code, w.Body)
				}
			})
		}
		wg.Wait()
		live, err := coffer.AllSecrets(env.Root, env.Svc, st.Result.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(live) > 4 {
			t.Fatalf("round %d: %d live secrets, over the quota of 4 (codes %v)", round, len(live), codes)
		}
		names := map[string]bool{}
		for _, sec := range live {
			names[sec.Name] = true
		}
		made := 0
		for i := range 2 {
			a, b := names[fmt.Sprintf("R%d_%d_A", round, i)], names[fmt.Sprintf("R%d_%d_B", round, i)]
			if a != b {
				t.Fatalf("round %d: create %d was written by half: %v", round, i, names)
			}
			if a != (codes[i] == http.StatusOK) {
				t.Fatalf("round %d: create %d answered %d, but its secrets exist: %v", round, i, codes[i], a)
			}
			if a {
				made++
			}
		}
		if made != 1 {
			t.Fatalf("round %d: %d creates went through, want 1 (codes %v)", round, made, codes)
		}
		for _, sec := range live {
			if sec.Name != "SEED" {
				if _, err := env.Svc.DeleteSecret(env.Root, st.Result.ID, sec.ID, 0); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestCreateStoresQuotaRace sends two store creates at once where the
// account's store quota has room for one: exactly one is made.
func TestCreateStoresQuotaRace(t *testing.T) {
	env, do := quotaFace(t, cloudflare.Limits{MaxStores: 2, MaxSecrets: 10})
	if w := do("/stores", `{"name":"first"}`); w.Code != http.StatusOK {
		t.Fatalf("first store: got %d %s", w.Code, w.Body)
	}
	for round := range 5 {
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range 2 {
			wg.Go(func() {
				w := do("/stores", fmt.Sprintf(`{"name":"r%d_%d"}`, round, i))
				codes[i] = w.Code
				if w.Code != http.StatusOK && (w.Code != http.StatusBadRequest || !bytes.Contains(w.Body.Bytes(), []byte("maximum_stores_exceeded"))) {
					t.Errorf("round %d: create %d: got %d %s", round, i, w.Code, w.Body)
				}
			})
		}
		wg.Wait()
		stores, err := coffer.AllStores(env.Root, env.Svc)
		if err != nil {
			t.Fatal(err)
		}
		if len(stores) != 2 {
			t.Fatalf("round %d: %d stores, want 2 (quota; codes %v)", round, len(stores), codes)
		}
		for _, st := range stores {
			if st.Name != "first" {
				if err := env.Svc.DeleteStore(env.Root, st.ID, true); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
