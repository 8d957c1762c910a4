package vault_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	bao "github.com/openbao/openbao/api/v2"

	"github.com/coffer-dev/coffer/internal/servertest"
	"github.com/coffer-dev/coffer/server"
)

// TestVaultBadInput sends malformed paths, bodies, CAS values, versions
// lists and metadata, and unknown mounts, each of which must be answered in
// Vault's error shape ({"errors": [...]}) with Vault's status, and write
// nothing: the store stays empty when read back natively.
func TestVaultBadInput(t *testing.T) {
	e := startVault(t)
	c := &servertest.Client{T: t, Base: e.base}
	tok := []string{"X-Vault-Token", e.root}
	merge := append([]string{"Content-Type", "application/merge-patch+json"}, tok...)
	many := map[string]string{}
	for i := range 65 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	huge := strings.Repeat("x", 70<<10)
	for _, tt := range []struct {
		name         string
		method, path string
		body         any
		hdr          []string
		status       int
		msg          string // in the errors; "" for an empty list
	}{
		{"NotJSON", "POST", "secret/data/a", "{", tok, 400, "failed to parse JSON"},
		{"NotObject", "POST", "secret/data/a", `[1]`, tok, 400, "JSON object"},
		{"TrailingGarbage", "POST", "secret/data/a", `{"data":{"a":"b"}} x`, tok, 400, "failed to parse JSON"},
		{"NoData", "POST", "secret/data/a", `{}`, tok, 400, "no data provided"},
		{"NullData", "POST", "secret/data/a", `{"data":null}`, tok, 400, "no data provided"},
		{"DataString", "POST", "secret/data/a", `{"data":"text"}`, tok, 400, "JSON object"},
		{"DataArray", "POST", "secret/data/a", `{"data":[1,2]}`, tok, 400, "JSON object"},
		{"DuplicateKey", "POST", "secret/data/a", `{"data":{"k":1,"k":2}}`, tok, 400, "duplicate"},
		{"DuplicateTopKey", "POST", "secret/data/a", `{"data":{"k":1},"data":{"k":2}}`, tok, 400, "duplicate"},
		{"BadUTF8", "POST", "secret/data/a", "{\"data\":{\"k\":\"\xff\"}}", tok, 400, "UTF-8"},
		{"LoneSurrogate", "POST", "secret/data/a", `{"data":{"k":"\ud800"}}`, tok, 400, "surrogate"},
		{"OptionsNotObject", "POST", "secret/data/a", `{"data":{"k":1},"options":"x"}`, tok, 400, "failed to parse JSON"},
		{"CASGarbage", "POST", "secret/data/a", `{"data":{"k":1},"options":{"cas":"abc"}}`, tok, 400, "check-and-set"},
		{"CASNegative", "POST", "secret/data/a", `{"data":{"k":1},"options":{"cas":-1}}`, tok, 400, "check-and-set"},
		{"CASHuge", "POST", "secret/data/a", `{"data":{"k":1},"options":{"cas":99999999999}}`, tok, 400, "check-and-set"},
		{"CASExponent", "POST", "secret/data/a", `{"data":{"k":1},"options":{"cas":1e99}}`, tok, 400, "check-and-set"},
		{"CASFraction", "POST", "secret/data/a", `{"data":{"k":1},"options":{"cas":0.5}}`, tok, 400, "check-and-set"},
		{"CASObject", "POST", "secret/data/a", `{"data":{"k":1},"options":{"cas":{}}}`, tok, 400, "check-and-set"},
		{"CASMismatchNew", "POST", "secret/data/a", `{"data":{"k":1},"options":{"cas":3}}`, tok, 400, "did not match the current version"},
		{"ValueTooLarge", "POST", "secret/data/a", map[string]any{"data": map[string]any{"value": huge}}, tok, 413, "larger"},
		{"BodyTooLarge", "POST", "secret/data/a", `{"data":{"value":"` + strings.Repeat("y", 2<<20) + `"}}`, tok, 413, ""},
		{"VersionQuery", "GET", "secret/data/a?version=x", nil, tok, 400, "version"},
		{"PatchNoContentType", "PATCH", "secret/data/a", `{"data":{"k":1}}`, tok, 415, "merge-patch"},
		{"PatchWrongType", "PATCH", "secret/data/a", `{"data":{"k":1}}`, append([]string{"Content-Type", "application/json"}, tok...), 415, "merge-patch"},
		{"PatchDataNotObject", "PATCH", "secret/data/a", `{"data":"x"}`, merge, 400, "JSON object"},
		{"PatchMissing", "PATCH", "secret/data/a", `{"data":{"k":1}}`, merge, 404, ""},
		{"VersionsMissing", "POST", "secret/delete/a", `{}`, tok, 400, "no version"},
		{"VersionsEmpty", "POST", "secret/destroy/a", `{"versions":[]}`, tok, 400, "no version"},
		{"VersionsWords", "POST", "secret/undelete/a", `{"versions":["one"]}`, tok, 400, "version numbers"},
		{"VersionsZero", "POST", "secret/delete/a", `{"versions":[0]}`, tok, 400, "version numbers"},
		{"VersionsNegative", "POST", "secret/destroy/a", `{"versions":"1,-2"}`, tok, 400, "version numbers"},
		{"VersionsObject", "POST", "secret/destroy/a", `{"versions":{"a":1}}`, tok, 400, "version numbers"},
		{"MetadataTooMany", "POST", "secret/metadata/a", map[string]any{"custom_metadata": many}, tok, 400, "at most 64"},
		{"MetadataNotStrings", "POST", "secret/metadata/a", `{"custom_metadata":{"k":1}}`, tok, 400, "custom_metadata"},
		{"MetadataNullValue", "POST", "secret/metadata/a", `{"custom_metadata":{"k":null}}`, tok, 400, "custom_metadata"},
		{"MetadataLongValue", "POST", "secret/metadata/a", map[string]any{"custom_metadata": map[string]string{"k": strings.Repeat("v", 600)}}, tok, 400, "label"},
		{"MaxVersionsNegative", "POST", "secret/metadata/a", `{"max_versions":-1}`, tok, 400, "max_versions"},
		{"MaxVersionsWord", "POST", "secret/metadata/a", `{"max_versions":"many"}`, tok, 400, "max_versions"},
		{"CASRequiredWord", "POST", "secret/metadata/a", `{"cas_required":"perhaps"}`, tok, 400, "cas_required"},
		{"DeleteAfterWord", "POST", "secret/metadata/a", `{"delete_version_after":"soon"}`, tok, 400, "delete_version_after"},
		{"DeleteAfterNegative", "POST", "secret/metadata/a", `{"delete_version_after":"-1h"}`, tok, 400, "delete_version_after"},
		{"MetadataPatchMissing", "PATCH", "secret/metadata/a", `{"max_versions":2}`, merge, 404, ""},
		{"ConfigBad", "POST", "secret/config", `{"max_versions":"x"}`, tok, 400, "max_versions"},
		{"NameSpace", "POST", "secret/data/a%20b", `{"data":{"k":1}}`, tok, 400, "secret name"},
		{"NameStar", "POST", "secret/data/a*", `{"data":{"k":1}}`, tok, 400, "secret name"},
		{"TrailingSlash", "POST", "secret/data/a/", `{"data":{"k":1}}`, tok, 400, "segment"},
		{"NoName", "POST", "secret/data/", `{"data":{"k":1}}`, tok, 400, "segment"},
		{"NoNameNoSlash", "POST", "secret/data", `{"data":{"k":1}}`, tok, 400, "missing path"},
		{"NameTooLong", "POST", "secret/data/" + strings.Repeat("n", 300), `{"data":{"k":1}}`, tok, 400, "longer"},
		{"UnknownMount", "POST", "nope/data/a", `{"data":{"k":1}}`, tok, 404, ""},
		{"UnknownMountMetadata", "POST", "nope/metadata/a", `{"max_versions":1}`, tok, 404, ""},
		{"NoVerb", "POST", "secret/a", `{"data":{"k":1}}`, tok, 404, "Invalid path"},
		{"ListOnData", "LIST", "secret/data/a", nil, tok, 405, ""},
		{"BadMethod", "TRACE", "secret/data/a", nil, tok, 405, ""},
		{"BadListFlag", "GET", "secret/metadata/?list=maybe", nil, tok, 400, "list"},
		{"MountBadType", "POST", "sys/mounts/other", `{"type":"transit"}`, tok, 400, "KV version 2"},
		{"MountNoType", "POST", "sys/mounts/other", `{}`, tok, 400, "type"},
		{"MountBadName", "POST", "sys/mounts/a%20b", `{"type":"kv-v2"}`, tok, 400, "name"},
		{"TokenBadTTL", "POST", "auth/token/create", `{"ttl":"forever"}`, tok, 400, "ttl"},
		{"TokenNumUses", "POST", "auth/token/create", `{"num_uses":3}`, tok, 400, "num_uses"},
		{"NoToken", "POST", "secret/data/a", `{"data":{"k":1}}`, nil, 403, "permission denied"},
		{"BadToken", "POST", "secret/data/a", `{"data":{"k":1}}`, []string{"X-Vault-Token", "hvs.nothing"}, 403, "permission denied"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c.T = t
			r := c.Do(tt.method, "/vault/v1/"+tt.path, tt.body, tt.hdr...)
			var body struct {
				Errors []string `json:"errors"`
			}
			if err := json.Unmarshal(r.Body, &body); err != nil || body.Errors == nil || r.Status != tt.status {
				t.Fatalf("got %d %s, want %d {\"errors\":[...]}", r.Status, r.Body, tt.status)
			}
			if msg := strings.Join(body.Errors, "\n"); tt.msg == "" && tt.status == 404 && len(body.Errors) != 0 && !strings.Contains(tt.name, "Mount") ||
				tt.msg != "" && !strings.Contains(msg, tt.msg) {
				t.Fatalf("got errors %q, want %q", body.Errors, tt.msg)
			}
		})
	}
	c.T = t
	// Nothing was written: the store is empty, and no other store exists.
	r := e.nat(t).Must(200, "GET", "/v1/stores/secret/secrets?include_deleted=true", nil)
	if strings.Contains(string(r.Body), `"name"`) {
		t.Fatalf("bad input wrote secrets: %s", r.Body)
	}
	r = e.nat(t).Must(200, "GET", "/v1/stores", nil)
	if n := strings.Count(string(r.Body), `"name"`); n != 1 {
		t.Fatalf("bad input made stores: %s", r.Body)
	}
}

// TestOpenBaoClient drives the face with OpenBao's fork of the client.
func TestOpenBaoClient(t *testing.T) {
	e := startVault(t)
	ctx := context.Background()
	cfg := bao.DefaultConfig()
	cfg.Address, cfg.MaxRetries = e.base+"/vault", 0
	c, err := bao.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(e.root)
	kv := c.KVv2("secret")
	if _, err := kv.Put(ctx, "bao/one", map[string]any{"a": "1"}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if _, err := kv.Put(ctx, "bao/one", map[string]any{"a": "2"}, bao.WithCheckAndSet(1)); err != nil {
		t.Fatalf("Put cas: %v", err)
	}
	s, err := kv.Get(ctx, "bao/one")
	if err != nil || s.Data["a"] != "2" || s.VersionMetadata.Version != 2 {
		t.Fatalf("Get: got %+v %v", s, err)
	}
	if s, err = kv.GetVersion(ctx, "bao/one", 1); err != nil || s.Data["a"] != "1" {
		t.Fatalf("GetVersion: got %+v %v", s, err)
	}
	l, err := c.Logical().List("secret/metadata/bao")
	if err != nil || l == nil || fmt.Sprint(l.Data["keys"]) != "[one]" {
		t.Fatalf("List: got %+v %v", l, err)
	}
	if _, err := kv.Patch(ctx, "bao/one", map[string]any{"b": "3"}, bao.WithMergeMethod(bao.KVMergeMethodPatch)); err != nil {
		t.Fatalf("Patch: %v", err)
	}
	if v, _ := e.nativeValue(t, "secret", "bao/one"); v != `{"a":"2","b":"3"}` {
		t.Fatalf("after patch: got %q", v)
	}
	md, err := kv.GetMetadata(ctx, "bao/one")
	if err != nil || md.CurrentVersion != 3 || len(md.Versions) != 3 {
		t.Fatalf("GetMetadata: got %+v %v", md, err)
	}
	if h, err := c.Sys().Health(); err != nil || h.Sealed {
		t.Fatalf("Health: %+v %v", h, err)
	}
	ls, err := c.Auth().Token().LookupSelf()
	if err != nil || ls.Data["accessor"] == "" {
		t.Fatalf("LookupSelf: %+v %v", ls, err)
	}
	// Versions: soft delete, undelete, destroy.
	if err := kv.DeleteVersions(ctx, "bao/one", []int{3}); err != nil {
		t.Fatal(err)
	}
	if s, err := kv.Get(ctx, "bao/one"); err != nil || s.Data != nil || s.VersionMetadata.DeletionTime.IsZero() {
		t.Fatalf("Get of a deleted version: got %+v %v", s, err)
	}
	if err := kv.Undelete(ctx, "bao/one", []int{3}); err != nil {
		t.Fatal(err)
	}
	if err := kv.Destroy(ctx, "bao/one", []int{1}); err != nil {
		t.Fatal(err)
	}
	if s, err := kv.GetVersion(ctx, "bao/one", 1); err != nil || !s.VersionMetadata.Destroyed {
		t.Fatalf("GetVersion of a destroyed version: got %+v %v", s, err)
	}
	if err := kv.PutMetadata(ctx, "bao/one", bao.KVMetadataPutInput{CustomMetadata: map[string]any{"team": "a"}}); err != nil {
		t.Fatal(err)
	}
	if s, err := kv.Get(ctx, "bao/one"); err != nil || s.Data["b"] != "3" || s.CustomMetadata["team"] != "a" {
		t.Fatalf("Get after undelete: got %+v %v", s, err)
	}
	// Mounts, capabilities and child tokens.
	if err := c.Sys().Mount("baomount", &bao.MountInput{Type: "kv-v2"}); err != nil {
		t.Fatal(err)
	}
	if ms, err := c.Sys().ListMounts(); err != nil || ms["baomount/"] == nil {
		t.Fatalf("ListMounts: %v %v", ms, err)
	}
	child, err := c.Auth().Token().Create(&bao.TokenCreateRequest{TTL: "1h", Policies: []string{"secret:bao/*:read,reveal"}})
	if err != nil || child.Auth == nil {
		t.Fatalf("token create: %+v %v", child, err)
	}
	cc, _ := bao.NewClient(cfg)
	cc.SetToken(child.Auth.ClientToken)
	if caps, err := cc.Sys().CapabilitiesSelf("secret/data/bao/one"); err != nil || fmt.Sprint(caps) != "[read]" {
		t.Fatalf("child capabilities: %v %v", caps, err)
	}
	if _, err := cc.KVv2("secret").Put(ctx, "bao/one", map[string]any{"x": "y"}); err == nil {
		t.Fatal("a read-only child wrote")
	}
	if err := c.Sys().Unmount("baomount"); err != nil {
		t.Fatal(err)
	}
	if err := kv.DeleteMetadata(ctx, "bao/one"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "bao/one"); err == nil {
		t.Fatal("Get after DeleteMetadata: want not found")
	}
}

// TestVaultCrossFace checks that a secret written with the Cloudflare wire
// reads through Vault's client as {"value": ...}, and that a map written
// through Vault shows its versions in the native history.
func TestVaultCrossFace(t *testing.T) {
	e := startVault(t, func(c *server.Config) { c.CloudflareLimits = []string{"stores=10"} })
	ctx := context.Background()
	acct := servertest.AccountOf(t, e.base, e.root)
	cf := e.nat(t)
	path := func(p string) string { return "/cloudflare/client/v4/accounts/" + acct + "/secrets_store" + p }
	r := cf.Must(200, "POST", path("/stores"), map[string]any{"name": "cfstore"})
	var st struct {
		Result struct{ ID string } `json:"result"`
	}
	servertest.Decode(t, r.Body, &st)
	cf.Must(200, "POST", path("/stores/"+st.Result.ID+"/secrets"), []map[string]any{{"name": "API_KEY", "value": "abc123", "scopes": []string{"workers"}}})

	s, err := e.c.KVv2("cfstore").Get(ctx, "API_KEY")
	if err != nil || len(s.Data) != 1 || s.Data["value"] != "abc123" || s.VersionMetadata.Version != 1 {
		t.Fatalf("Cloudflare secret through Vault: got %+v %v, want {value: abc123} at version 1", s, err)
	}
	kv := e.c.KVv2("cfstore")
	for i := range 3 {
		if _, err := kv.Put(ctx, "db/creds", map[string]any{"user": "u", "n": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	vs := e.nativeVersions(t, "cfstore", "db/creds")
	if len(vs) != 3 || fmt.Sprint(vs[0]["version"]) != "3" {
		t.Fatalf("native history of a Vault write: got %v, want versions 3, 2, 1", vs)
	}
	md, err := kv.GetMetadata(ctx, "db/creds")
	if err != nil || md.CurrentVersion != 3 || len(md.Versions) != 3 {
		t.Fatalf("Vault metadata: got %+v %v", md, err)
	}
	for _, v := range vs {
		n := fmt.Sprint(v["version"])
		if md.Versions[n].CreatedTime.Format("2006-01-02T15:04:05.999999999Z07:00") != v["created_at"] {
			t.Fatalf("version %s: Vault created_time %v, native created_at %v", n, md.Versions[n].CreatedTime, v["created_at"])
		}
	}
}
