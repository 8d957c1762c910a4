package cloudflare_test

import (
	"bytes"
	"fmt"
	"testing"
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
