package cloudflare_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	cf "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/secrets_store"

	"github.com/coffer-dev/coffer/internal/servertest"
)

// These tests drive the Cloudflare face with Cloudflare's own Go client,
// github.com/cloudflare/cloudflare-go/v7, pointed at the real server by its
// base URL only. Every response the client sees is checked against the
// OpenAPI description of the Secrets Store API.

// cfClient returns a cloudflare-go client for the server, with its default
// retry policy, through a validating, counting transport.
func cfClient(t *testing.T, s *cfServer, opts ...option.RequestOption) (*cf.Client, *oasTransport) {
	t.Helper()
	tr := newOASTransport(t)
	opts = append([]option.RequestOption{
		option.WithBaseURL(s.Base + "/cloudflare/client/v4/"),
		option.WithAPIToken(s.Token),
		option.WithHTTPClient(tr.Client()),
	}, opts...)
	return cf.NewClient(opts...), tr
}

// cfErr asserts that err is a *cloudflare.Error with the given status and
// first error code, and returns it.
func cfErr(t *testing.T, err error, status int, code int64) *cf.Error {
	t.Helper()
	var e *cf.Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want *cloudflare.Error %d", err, err, status)
	}
	if e.StatusCode != status || len(e.Errors) == 0 || e.Errors[0].Code != code {
		t.Fatalf("got %d %+v, want %d with code %d", e.StatusCode, e.Errors, status, code)
	}
	return e
}

func TestCloudflareClientStores(t *testing.T) {
	s := startCloudflare(t, "stores=10,secrets=50")
	c, tr := cfClient(t, s)
	ctx := context.Background()
	acct := cf.F(s.Account)

	var ids []string
	for i := range 5 {
		st, err := c.SecretsStore.Stores.New(ctx, secrets_store.StoreNewParams{AccountID: acct, Name: cf.F(fmt.Sprintf("store-%d", i))})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if len(st.ID) != 32 || st.Name != fmt.Sprintf("store-%d", i) || st.AccountID != s.Account || st.Created.IsZero() || st.Modified.IsZero() {
			t.Fatalf("New: got %+v", st)
		}
		ids = append(ids, st.ID)
	}

	t.Run("Get", func(t *testing.T) {
		st, err := c.SecretsStore.Stores.Get(ctx, ids[2], secrets_store.StoreGetParams{AccountID: acct})
		if err != nil || st.ID != ids[2] || st.Name != "store-2" {
			t.Fatalf("got %+v %v, want store-2", st, err)
		}
		_, err = c.SecretsStore.Stores.Get(ctx, strings.Repeat("0", 32), secrets_store.StoreGetParams{AccountID: acct})
		cfErr(t, err, 404, 1002)
	})

	t.Run("ListAutoPaging", func(t *testing.T) {
		it := c.SecretsStore.Stores.ListAutoPaging(ctx, secrets_store.StoreListParams{AccountID: acct, PerPage: cf.F(int64(2))})
		var got []string
		for it.Next() {
			got = append(got, it.Current().ID)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("got %v, want %v (creation order)", got, ids)
		}
		// 3 pages of 2, then the empty page that stops the pager.
		if n := tr.Count("GET", s.URL("/stores")); n != 4 {
			t.Errorf("got %d list requests, want 4", n)
		}
	})

	t.Run("ListOrder", func(t *testing.T) {
		page, err := c.SecretsStore.Stores.List(ctx, secrets_store.StoreListParams{AccountID: acct,
			Order: cf.F(secrets_store.StoreListParamsOrderName), Direction: cf.F(secrets_store.StoreListParamsDirectionDesc), PerPage: cf.F(int64(3))})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, st := range page.Result {
			names = append(names, st.Name)
		}
		if want := []string{"store-4", "store-3", "store-2"}; !slices.Equal(names, want) {
			t.Fatalf("got %v, want %v", names, want)
		}
		// cloudflare-go reads only page and per_page; scripts read the rest.
		var ri struct {
			Page, PerPage, Count, TotalCount, TotalPages int
		}
		raw := page.ResultInfo.JSON.RawJSON()
		if err := json.Unmarshal([]byte(strings.NewReplacer("per_page", "PerPage", "total_count", "TotalCount", "total_pages", "TotalPages").Replace(raw)), &ri); err != nil ||
			ri.Page != 1 || ri.PerPage != 3 || ri.Count != 3 || ri.TotalCount != 5 || ri.TotalPages != 2 {
			t.Fatalf("got result_info %s (%v)", raw, err)
		}
	})

	t.Run("DeleteNotEmpty", func(t *testing.T) {
		_, err := c.SecretsStore.Stores.Secrets.New(ctx, ids[0], secrets_store.StoreSecretNewParams{AccountID: acct,
			Body: []secrets_store.StoreSecretNewParamsBody{{Name: cf.F("K"), Value: cf.F("v"), Scopes: cf.F([]secrets_store.StoreSecretNewParamsBodyScope{"workers"})}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.SecretsStore.Stores.Delete(ctx, ids[0], secrets_store.StoreDeleteParams{AccountID: acct})
		e := cfErr(t, err, 409, 1006)
		if e.Errors[0].Message != "store_not_empty" || e.Response.Header.Get("X-Should-Retry") != "false" {
			t.Fatalf("got %+v %v, want store_not_empty and x-should-retry: false", e.Errors, e.Response.Header)
		}
		// The client retries 409 unless told not to: one request only.
		if n := tr.Count("DELETE", s.URL("/stores/"+ids[0])); n != 1 {
			t.Fatalf("got %d DELETE requests, want 1 (no retry)", n)
		}
		if _, err := c.SecretsStore.Stores.Delete(ctx, ids[0], secrets_store.StoreDeleteParams{AccountID: acct, Force: cf.F(true)}); err != nil {
			t.Fatalf("force delete: %v", err)
		}
		_, err = c.SecretsStore.Stores.Get(ctx, ids[0], secrets_store.StoreGetParams{AccountID: acct})
		cfErr(t, err, 404, 1002)
	})

	t.Run("DeleteEmpty", func(t *testing.T) {
		res, err := c.SecretsStore.Stores.Delete(ctx, ids[1], secrets_store.StoreDeleteParams{AccountID: acct})
		if err != nil || res == nil || *res != nil {
			t.Fatalf("got %v %v, want a null result", res, err)
		}
	})

	t.Run("NameTaken", func(t *testing.T) {
		_, err := c.SecretsStore.Stores.New(ctx, secrets_store.StoreNewParams{AccountID: acct, Name: cf.F("store-2")})
		cfErr(t, err, 409, 1005)
		if n := tr.Count("POST", s.URL("/stores")); n != 6 {
			t.Fatalf("got %d POST requests, want 6 (no retry of the 409)", n)
		}
	})
	t.Run("MaxStores", func(t *testing.T) {
		// 3 stores are left of the 5; the limit is 10.
		for i := 5; i < 12; i++ {
			if _, err := c.SecretsStore.Stores.New(ctx, secrets_store.StoreNewParams{AccountID: acct, Name: cf.F(fmt.Sprintf("store-%d", i))}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := c.SecretsStore.Stores.New(ctx, secrets_store.StoreNewParams{AccountID: acct, Name: cf.F("one-too-many")})
		e := cfErr(t, err, 400, 1003)
		if e.Errors[0].Message != "maximum_stores_exceeded" {
			t.Fatalf("got %+v", e.Errors)
		}
	})

}

// newSecrets creates secrets through the client and returns them.
func newSecrets(t *testing.T, c *cf.Client, s *cfServer, store string, bodies ...secrets_store.StoreSecretNewParamsBody) []secrets_store.StoreSecretNewResponse {
	t.Helper()
	page, err := c.SecretsStore.Stores.Secrets.New(context.Background(), store, secrets_store.StoreSecretNewParams{AccountID: cf.F(s.Account), Body: bodies})
	if err != nil {
		t.Fatalf("create secrets: %v", err)
	}
	if len(page.Result) != len(bodies) {
		t.Fatalf("create secrets: got %d results, want %d", len(page.Result), len(bodies))
	}
	return page.Result
}

func secretBody(name, value, comment string, scopes ...secrets_store.StoreSecretNewParamsBodyScope) secrets_store.StoreSecretNewParamsBody {
	b := secrets_store.StoreSecretNewParamsBody{Name: cf.F(name), Value: cf.F(value), Scopes: cf.F(scopes)}
	if comment != "" {
		b.Comment = cf.F(comment)
	}
	return b
}

func TestCloudflareClientSecrets(t *testing.T) {
	s := startCloudflare(t, "stores=2,secrets=20")
	c, tr := cfClient(t, s)
	ctx := context.Background()
	acct := cf.F(s.Account)
	native := &servertest.Client{T: t, Base: s.Base, Token: s.Token}

	st, err := c.SecretsStore.Stores.New(ctx, secrets_store.StoreNewParams{AccountID: acct, Name: cf.F("main")})
	if err != nil {
		t.Fatal(err)
	}
	created := newSecrets(t, c, s, st.ID,
		secretBody("API_KEY", "value-api-key", "the API key", "workers"),
		secretBody("DB_PASSWORD", "value-db-password", "database", "workers", "ai_gateway"),
		secretBody("TOKEN", "value-token", "", "access"),
	)
	for i, want := range []string{"API_KEY", "DB_PASSWORD", "TOKEN"} {
		got := created[i]
		if got.Name != want || got.StoreID != st.ID || got.Status != "pending" || len(got.ID) != 32 || got.Created.IsZero() {
			t.Fatalf("created[%d]: got %+v, want %s pending in %s", i, got, want, st.ID)
		}
	}
	if created[1].Comment != "database" || !slices.Equal(created[1].Scopes, []secrets_store.StoreSecretNewResponseScope{"workers", "ai_gateway"}) {
		t.Fatalf("got %+v, want comment and scopes kept", created[1])
	}

	t.Run("Get", func(t *testing.T) {
		sec, err := c.SecretsStore.Stores.Secrets.Get(ctx, st.ID, created[0].ID, secrets_store.StoreSecretGetParams{AccountID: acct})
		if err != nil || sec.ID != created[0].ID || sec.Name != "API_KEY" || sec.Comment != "the API key" || sec.Status != "pending" {
			t.Fatalf("got %+v %v", sec, err)
		}
		_, err = c.SecretsStore.Stores.Secrets.Get(ctx, st.ID, strings.Repeat("a", 32), secrets_store.StoreSecretGetParams{AccountID: acct})
		cfErr(t, err, 404, 1002)
	})

	t.Run("ReadThroughNativeAPI", func(t *testing.T) {
		r := native.Must(200, "GET", "/v1/stores/"+st.ID+"/secrets/API_KEY/value", nil)
		if v, n := servertest.Value(t, r); v != "value-api-key" || n != 1 {
			t.Fatalf("got %q v%v, want value-api-key v1", v, n)
		}
		// The first read is the first use: the secret is active now.
		sec, err := c.SecretsStore.Stores.Secrets.Get(ctx, st.ID, created[0].ID, secrets_store.StoreSecretGetParams{AccountID: acct})
		if err != nil || sec.Status != "active" {
			t.Fatalf("got %+v %v, want active after the first read", sec, err)
		}
	})

	t.Run("EditMetadata", func(t *testing.T) {
		sec, err := c.SecretsStore.Stores.Secrets.Edit(ctx, st.ID, created[2].ID, secrets_store.StoreSecretEditParams{AccountID: acct,
			Comment: cf.F("rotated monthly"), Scopes: cf.F([]secrets_store.StoreSecretEditParamsScope{"workers", "dex"})})
		if err != nil || sec.Comment != "rotated monthly" || !slices.Equal(sec.Scopes, []secrets_store.StoreSecretEditResponseScope{"workers", "dex"}) || sec.Name != "TOKEN" {
			t.Fatalf("got %+v %v", sec, err)
		}
		// Metadata alone adds no version.
		r := native.Must(200, "GET", "/v1/stores/"+st.ID+"/secrets/TOKEN/value", nil)
		if v, n := servertest.Value(t, r); v != "value-token" || n != 1 {
			t.Fatalf("got %q v%v, want value-token v1", v, n)
		}
	})

	t.Run("EditValue", func(t *testing.T) {
		sec, err := c.SecretsStore.Stores.Secrets.Edit(ctx, st.ID, created[1].ID, secrets_store.StoreSecretEditParams{AccountID: acct, Value: cf.F("value-db-password-2")})
		if err != nil || sec.ID != created[1].ID || sec.Comment != "database" {
			t.Fatalf("got %+v %v", sec, err)
		}
		r := native.Must(200, "GET", "/v1/stores/"+st.ID+"/secrets/DB_PASSWORD/value", nil)
		if v, n := servertest.Value(t, r); v != "value-db-password-2" || n != 2 {
			t.Fatalf("got %q v%v, want the new value as version 2", v, n)
		}
		r = native.Must(200, "GET", "/v1/stores/"+st.ID+"/secrets/DB_PASSWORD/value?version=1", nil)
		if v, _ := servertest.Value(t, r); v != "value-db-password" {
			t.Fatalf("got %q, want version 1 kept", v)
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		dup, err := c.SecretsStore.Stores.Secrets.Duplicate(ctx, st.ID, created[0].ID, secrets_store.StoreSecretDuplicateParams{AccountID: acct,
			Name: cf.F("API_KEY_COPY"), Scopes: cf.F([]secrets_store.StoreSecretDuplicateParamsScope{"ai_gateway"}), Comment: cf.F("copy")})
		if err != nil || dup.Name != "API_KEY_COPY" || dup.ID == created[0].ID || dup.Comment != "copy" || dup.Status != "pending" {
			t.Fatalf("got %+v %v", dup, err)
		}
		r := native.Must(200, "GET", "/v1/stores/"+st.ID+"/secrets/API_KEY_COPY/value", nil)
		if v, _ := servertest.Value(t, r); v != "value-api-key" {
			t.Fatalf("got %q, want the source's value", v)
		}
		_, err = c.SecretsStore.Stores.Secrets.Duplicate(ctx, st.ID, created[0].ID, secrets_store.StoreSecretDuplicateParams{AccountID: acct,
			Name: cf.F("TOKEN"), Scopes: cf.F([]secrets_store.StoreSecretDuplicateParamsScope{"workers"})})
		cfErr(t, err, 409, 1005)
		if n := tr.Count("POST", s.URL("/stores/"+st.ID+"/secrets/"+created[0].ID+"/duplicate")); n != 2 {
			t.Fatalf("got %d duplicate requests, want 2 (no retry of the 409)", n)
		}
	})

	t.Run("NameTaken", func(t *testing.T) {
		_, err := c.SecretsStore.Stores.Secrets.New(ctx, st.ID, secrets_store.StoreSecretNewParams{AccountID: acct,
			Body: []secrets_store.StoreSecretNewParamsBody{secretBody("NEW_ONE", "x", ""), secretBody("TOKEN", "x", "")}})
		cfErr(t, err, 409, 1005)
		if n := tr.Count("POST", s.URL("/stores/"+st.ID+"/secrets")); n != 2 {
			t.Fatalf("got %d create requests, want 2 (no retry of the 409)", n)
		}
		// Nothing of the refused batch was written.
		native.Must(404, "GET", "/v1/stores/"+st.ID+"/secrets/NEW_ONE", nil)
	})

	t.Run("ListSearchAndScopes", func(t *testing.T) {
		list := func(p secrets_store.StoreSecretListParams) []string {
			t.Helper()
			p.AccountID = acct
			page, err := c.SecretsStore.Stores.Secrets.List(ctx, st.ID, p)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, sec := range page.Result {
				names = append(names, sec.Name)
			}
			return names
		}
		if got, want := list(secrets_store.StoreSecretListParams{}), []string{"API_KEY", "DB_PASSWORD", "TOKEN", "API_KEY_COPY"}; !slices.Equal(got, want) {
			t.Errorf("default order: got %v, want %v (created)", got, want)
		}
		if got, want := list(secrets_store.StoreSecretListParams{Order: cf.F(secrets_store.StoreSecretListParamsOrderName), Direction: cf.F(secrets_store.StoreSecretListParamsDirectionDesc)}),
			[]string{"TOKEN", "DB_PASSWORD", "API_KEY_COPY", "API_KEY"}; !slices.Equal(got, want) {
			t.Errorf("name desc: got %v, want %v", got, want)
		}
		if got, want := list(secrets_store.StoreSecretListParams{Search: cf.F("api")}), []string{"API_KEY", "API_KEY_COPY"}; !slices.Equal(got, want) {
			t.Errorf("search name: got %v, want %v", got, want)
		}
		if got, want := list(secrets_store.StoreSecretListParams{Search: cf.F("MONTHLY")}), []string{"TOKEN"}; !slices.Equal(got, want) {
			t.Errorf("search comment: got %v, want %v", got, want)
		}
		if got, want := list(secrets_store.StoreSecretListParams{Scopes: cf.F([]secrets_store.StoreSecretListParamsScope{"dex", "ai_gateway"})}),
			[]string{"DB_PASSWORD", "TOKEN", "API_KEY_COPY"}; !slices.Equal(got, want) {
			t.Errorf("scopes: got %v, want %v", got, want)
		}
		if got := list(secrets_store.StoreSecretListParams{Page: cf.F(int64(9))}); len(got) != 0 {
			t.Errorf("page past the end: got %v, want none", got)
		}
	})

	t.Run("ListAutoPaging", func(t *testing.T) {
		var bodies []secrets_store.StoreSecretNewParamsBody
		for i := range 6 {
			bodies = append(bodies, secretBody(fmt.Sprintf("PAGED_%02d", i), "v", "paged", "workers"))
		}
		newSecrets(t, c, s, st.ID, bodies...)
		it := c.SecretsStore.Stores.Secrets.ListAutoPaging(ctx, st.ID, secrets_store.StoreSecretListParams{AccountID: acct, PerPage: cf.F(int64(3)), Order: cf.F(secrets_store.StoreSecretListParamsOrderName)})
		var got []string
		for it.Next() {
			got = append(got, it.Current().Name)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		want := []string{"API_KEY", "API_KEY_COPY", "DB_PASSWORD", "PAGED_00", "PAGED_01", "PAGED_02", "PAGED_03", "PAGED_04", "PAGED_05", "TOKEN"}
		if !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		// 4 pages of 3, then the empty page that stops the pager.
		if n := tr.Count("GET", s.URL("/stores/"+st.ID+"/secrets")); n < 5 {
			t.Fatalf("got %d list requests, want at least 5", n)
		}
		// The new secrets are pending (never read), the others active.
		page, err := c.SecretsStore.Stores.Secrets.List(ctx, st.ID, secrets_store.StoreSecretListParams{AccountID: acct,
			Order: cf.F(secrets_store.StoreSecretListParamsOrderStatus), Direction: cf.F(secrets_store.StoreSecretListParamsDirectionDesc), PerPage: cf.F(int64(2))})
		if err != nil || len(page.Result) != 2 || page.Result[0].Name != "PAGED_00" || page.Result[0].Status != "pending" || page.Result[1].Name != "PAGED_01" {
			t.Fatalf("status desc: got %+v %v, want PAGED_00 and PAGED_01, pending", page, err)
		}
	})

	t.Run("Quota", func(t *testing.T) {
		q, err := c.SecretsStore.Quota.Get(ctx, secrets_store.QuotaGetParams{AccountID: acct})
		if err != nil || q.Secrets.Quota != 20 || q.Secrets.Usage != 10 {
			t.Fatalf("got %+v %v, want 10 of 20", q, err)
		}
	})

	t.Run("MaxSecrets", func(t *testing.T) {
		var bodies []secrets_store.StoreSecretNewParamsBody
		for i := range 11 {
			bodies = append(bodies, secretBody(fmt.Sprintf("OVER_%02d", i), "v", ""))
		}
		_, err := c.SecretsStore.Stores.Secrets.New(ctx, st.ID, secrets_store.StoreSecretNewParams{AccountID: acct, Body: bodies})
		e := cfErr(t, err, 400, 1004)
		if e.Errors[0].Message != "maximum_secrets_exceeded" {
			t.Fatalf("got %+v", e.Errors)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		res, err := c.SecretsStore.Stores.Secrets.Delete(ctx, st.ID, created[2].ID, secrets_store.StoreSecretDeleteParams{AccountID: acct})
		if err != nil || res == nil || *res != nil {
			t.Fatalf("got %v %v, want a null result", res, err)
		}
		// A deleted secret is a tombstone: found by id with status deleted,
		// gone from listings, its value unreadable, its name free again.
		sec, err := c.SecretsStore.Stores.Secrets.Get(ctx, st.ID, created[2].ID, secrets_store.StoreSecretGetParams{AccountID: acct})
		if err != nil || sec.Status != "deleted" {
			t.Fatalf("got %+v %v, want status deleted", sec, err)
		}
		native.Must(404, "GET", "/v1/stores/"+st.ID+"/secrets/TOKEN/value", nil)
		_, err = c.SecretsStore.Stores.Secrets.Delete(ctx, st.ID, created[2].ID, secrets_store.StoreSecretDeleteParams{AccountID: acct})
		cfErr(t, err, 404, 1002)
		_, err = c.SecretsStore.Stores.Secrets.Edit(ctx, st.ID, created[2].ID, secrets_store.StoreSecretEditParams{AccountID: acct, Comment: cf.F("x")})
		cfErr(t, err, 404, 1002)
		newSecrets(t, c, s, st.ID, secretBody("TOKEN", "value-token-2", ""))
	})

	t.Run("BulkDelete", func(t *testing.T) {
		// cloudflare-go sends this request without a body, which names no
		// secret: refused, and nothing is deleted.
		_, err := c.SecretsStore.Stores.Secrets.BulkDelete(ctx, st.ID, secrets_store.StoreSecretBulkDeleteParams{AccountID: acct})
		cfErr(t, err, 400, 1001)
		ids := []string{created[0].ID, created[1].ID}
		res, err := c.SecretsStore.Stores.Secrets.BulkDelete(ctx, st.ID, secrets_store.StoreSecretBulkDeleteParams{AccountID: acct}, option.WithJSONSet("ids", ids))
		if err != nil || res == nil || *res != nil {
			t.Fatalf("got %v %v, want a null result", res, err)
		}
		for _, name := range []string{"API_KEY", "DB_PASSWORD"} {
			native.Must(404, "GET", "/v1/stores/"+st.ID+"/secrets/"+name+"/value", nil)
		}
		// An unknown id refuses the whole request.
		_, err = c.SecretsStore.Stores.Secrets.BulkDelete(ctx, st.ID, secrets_store.StoreSecretBulkDeleteParams{AccountID: acct},
			option.WithJSONSet("ids", []string{dupID(t, c, s, st.ID, "API_KEY_COPY"), strings.Repeat("b", 32)}))
		cfErr(t, err, 404, 1002)
		native.Must(200, "GET", "/v1/stores/"+st.ID+"/secrets/API_KEY_COPY/value", nil)
	})

	// No response carried a value.
	for _, b := range tr.Bodies() {
		if bytes.Contains(b, []byte("value-")) {
			t.Fatalf("a response carries a secret value: %s", b)
		}
	}
}

// dupID returns the id of the live secret of that name.
func dupID(t *testing.T, c *cf.Client, s *cfServer, store, name string) string {
	t.Helper()
	it := c.SecretsStore.Stores.Secrets.ListAutoPaging(context.Background(), store, secrets_store.StoreSecretListParams{AccountID: cf.F(s.Account), Search: cf.F(name)})
	for it.Next() {
		if it.Current().Name == name {
			return it.Current().ID
		}
	}
	t.Fatalf("no secret %s: %v", name, it.Err())
	return ""
}

func TestCloudflareClientErrors(t *testing.T) {
	s := startCloudflare(t)
	ctx := context.Background()

	t.Run("Unauthorized", func(t *testing.T) {
		bad := *s
		bad.Token = "cfr_0000000000000000_" + strings.Repeat("0", 64)
		c, tr := cfClient(t, &bad)
		_, err := c.SecretsStore.Quota.Get(ctx, secrets_store.QuotaGetParams{AccountID: cf.F(s.Account)})
		cfErr(t, err, 401, 10000)
		if n := tr.Count("GET", s.URL("/quota")); n != 1 {
			t.Fatalf("got %d requests, want 1 (no retry of the 401)", n)
		}
	})

	t.Run("LegacyKeyAndEmail", func(t *testing.T) {
		tr := newOASTransport(t)
		c := cf.NewClient(option.WithBaseURL(s.Base+"/cloudflare/client/v4/"), option.WithHTTPClient(tr.Client()),
			option.WithHeaderDel("authorization"), option.WithAPIKey(s.Token), option.WithAPIEmail("ops@example.com"))
		q, err := c.SecretsStore.Quota.Get(ctx, secrets_store.QuotaGetParams{AccountID: cf.F(s.Account)})
		if err != nil || q.Secrets.Quota != 100 {
			t.Fatalf("got %+v %v", q, err)
		}
	})

	t.Run("WrongAccount", func(t *testing.T) {
		c, _ := cfClient(t, s)
		_, err := c.SecretsStore.Stores.List(ctx, secrets_store.StoreListParams{AccountID: cf.F(strings.Repeat("f", 32))})
		cfErr(t, err, 403, 10000)
	})

	t.Run("DefaultLimits", func(t *testing.T) {
		c, _ := cfClient(t, s)
		acct := cf.F(s.Account)
		st, err := c.SecretsStore.Stores.New(ctx, secrets_store.StoreNewParams{AccountID: acct, Name: cf.F("default_secrets_store")})
		if err != nil {
			t.Fatal(err)
		}
		// Cloudflare's beta limit: one store per account.
		_, err = c.SecretsStore.Stores.New(ctx, secrets_store.StoreNewParams{AccountID: acct, Name: cf.F("second")})
		cfErr(t, err, 400, 1003)
		q, err := c.SecretsStore.Quota.Get(ctx, secrets_store.QuotaGetParams{AccountID: acct})
		if err != nil || q.Secrets.Quota != 100 || q.Secrets.Usage != 0 {
			t.Fatalf("got %+v %v, want 0 of 100", q, err)
		}
		// Values up to 64 KiB.
		big := strings.Repeat("x", 64<<10)
		newSecrets(t, c, s, st.ID, secretBody("BIG", big, "", "workers"))
		_, err = c.SecretsStore.Stores.Secrets.New(ctx, st.ID, secrets_store.StoreSecretNewParams{AccountID: acct,
			Body: []secrets_store.StoreSecretNewParamsBody{secretBody("TOO_BIG", big+"x", "", "workers")}})
		cfErr(t, err, 400, 1001)
	})

	t.Run("BadName", func(t *testing.T) {
		c, _ := cfClient(t, s)
		page, err := c.SecretsStore.Stores.List(ctx, secrets_store.StoreListParams{AccountID: cf.F(s.Account)})
		if err != nil || len(page.Result) != 1 {
			t.Fatalf("got %v %v", page, err)
		}
		_, err = c.SecretsStore.Stores.Secrets.New(ctx, page.Result[0].ID, secrets_store.StoreSecretNewParams{AccountID: cf.F(s.Account),
			Body: []secrets_store.StoreSecretNewParamsBody{secretBody("my.secret", "v", "", "workers")}})
		cfErr(t, err, 400, 1001)
	})
}

// TestCloudflareAudit checks that what the Cloudflare face does is audited,
// with the face named, and that no value reaches the audit log.
func TestCloudflareAudit(t *testing.T) {
	s := startCloudflare(t)
	c, _ := cfClient(t, s)
	ctx := context.Background()
	acct := cf.F(s.Account)
	st, err := c.SecretsStore.Stores.New(ctx, secrets_store.StoreNewParams{AccountID: acct, Name: cf.F("audited")})
	if err != nil {
		t.Fatal(err)
	}
	sec := newSecrets(t, c, s, st.ID, secretBody("AUDITED", "value-audited-secret", "", "workers"))[0]
	if _, err := c.SecretsStore.Stores.Secrets.Delete(ctx, st.ID, sec.ID, secrets_store.StoreSecretDeleteParams{AccountID: acct}); err != nil {
		t.Fatal(err)
	}
	r := (&servertest.Client{T: t, Base: s.Base, Token: s.Token}).Must(200, "GET", "/v1/audit?limit=1000", nil)
	if bytes.Contains(r.Body, []byte("value-audited-secret")) {
		t.Fatal("the audit log holds a secret value")
	}
	var page struct {
		Events []struct {
			Action  string `json:"action"`
			Face    string `json:"face"`
			StoreID string `json:"store_id"`
			Outcome string `json:"outcome"`
		} `json:"events"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"store.create": false, "secret.write": false, "secret.delete": false}
	for _, ev := range page.Events {
		if _, ok := want[ev.Action]; ok && ev.Face == "cloudflare" && ev.Outcome == "ok" && ev.StoreID == st.ID {
			want[ev.Action] = true
		}
	}
	for action, seen := range want {
		if !seen {
			t.Errorf("no %s event from the cloudflare face in %s", action, r.Body)
		}
	}
}
