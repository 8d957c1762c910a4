package cloudflare_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/cloudflare"
)

// TestListSecretsPaths checks that a listing the service pages (no search,
// no scopes) answers exactly as the same listing filtered by a scope every
// secret has, which the face pages itself over the whole store: same
// order, ties included, same pages, same counts.
func TestListSecretsPaths(t *testing.T) {
	f := mustOpenFace(t)
	base := "/stores/" + f.store + "/secrets"
	// One array create gives secrets created at nearly the same time; a
	// patch moves one's modified time.
	if w := f.do(t, "POST", base, []byte(`[{"name":"b","value":"v","scopes":["workers"]},{"name":"a","value":"v","scopes":["workers"]},{"name":"C","value":"v","scopes":["workers"]}]`)); w.Code != 200 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	for _, name := range []string{"z", "m", "A"} {
		if w := f.do(t, "POST", base, []byte(`[{"name":"`+name+`","value":"v","scopes":["workers"]}]`)); w.Code != 200 {
			t.Fatalf("create %s: %d %s", name, w.Code, w.Body)
		}
	}
	if w := f.do(t, "PATCH", base+"/"+f.secret, []byte(`{"value":"v2"}`)); w.Code != 200 {
		t.Fatalf("patch: %d %s", w.Code, w.Body)
	}
	for _, order := range []string{"", "name", "created", "modified"} {
		for _, dir := range []string{"", "asc", "desc"} {
			for _, pp := range []struct{ page, perPage int }{{1, 20}, {1, 2}, {2, 2}, {4, 2}, {5, 2}, {2, 5}} {
				q := fmt.Sprintf("?order=%s&direction=%s&page=%d&per_page=%d", order, dir, pp.page, pp.perPage)
				got, want := f.do(t, "GET", base+q, nil), f.do(t, "GET", base+q+"&scopes=workers", nil)
				if got.Code != 200 || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
					t.Fatalf("%s: got %d %s, want %s", q, got.Code, got.Body, want.Body)
				}
			}
		}
	}
}

// TestListStoresOrders checks the store list's orders, directions, pages
// and counts against the stores as the face shows them.
func TestListStoresOrders(t *testing.T) {
	env, do := quotaFace(t, cloudflare.Limits{MaxStores: 10, MaxSecrets: 10})
	// One request each: the face shows times to the microsecond, which
	// then order as the stored times do.
	for _, name := range []string{"m", "b", "z", "a"} {
		if w := do("/stores", `{"name":"`+name+`"}`); w.Code != 200 {
			t.Fatalf("create: %d %s", w.Code, w.Body)
		}
	}
	list := func(q string) ([]storeJSON, map[string]int) {
		req := httptest.NewRequest("GET", cloudflare.Prefix+"accounts/"+coffer.CallerFrom(env.Root).AccountID+"/secrets_store/stores"+q, nil)
		req.Header.Set("Authorization", "Bearer "+env.Token)
		w := httptest.NewRecorder()
		(&cloudflare.Server{Secrets: env.Svc, Auth: env.Svc}).Handler().ServeHTTP(w, req)
		var body struct {
			Result     []storeJSON
			ResultInfo map[string]int `json:"result_info"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 200 {
			t.Fatalf("GET %s: %d %s", q, w.Code, w.Body)
		}
		return body.Result, body.ResultInfo
	}
	all, _ := list("?per_page=100")
	for _, order := range []string{"name", "created", "modified"} {
		for _, desc := range []bool{false, true} {
			want := slices.Clone(all)
			slices.SortStableFunc(want, func(x, y storeJSON) int {
				var c int
				switch order {
				case "created":
					c = parseTime(t, x.Created).Compare(parseTime(t, y.Created))
				case "modified":
					c = parseTime(t, x.Modified).Compare(parseTime(t, y.Modified))
				}
				if desc {
					c = -c
				}
				if c == 0 {
					c = cmp.Or(strings.Compare(x.Name, y.Name), strings.Compare(x.ID, y.ID))
					if desc && order == "name" {
						c = -c
					}
				}
				return c
			})
			dir := map[bool]string{false: "asc", true: "desc"}[desc]
			for page := 1; page <= 3; page++ {
				got, info := list(fmt.Sprintf("?order=%s&direction=%s&page=%d&per_page=2", order, dir, page))
				lo, hi := min((page-1)*2, len(want)), min(page*2, len(want))
				if !slices.Equal(got, want[lo:hi]) && !(len(got) == 0 && lo == hi) {
					t.Fatalf("%s %s page %d: got %v, want %v", order, dir, page, got, want[lo:hi])
				}
				if info["total_count"] != len(want) || info["count"] != hi-lo || info["total_pages"] != (len(want)+1)/2 {
					t.Fatalf("%s %s page %d: result_info %v", order, dir, page, info)
				}
			}
		}
	}
}

// storeJSON is a store as the face shows it.
type storeJSON struct {
	ID, Name, Created, Modified string
}

func parseTime(t *testing.T, s string) time.Time {
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
