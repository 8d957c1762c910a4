package vault_test

import (
	"context"
	"testing"

	cf "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/secrets_store"

	"github.com/coffer-dev/coffer/internal/servertest"
)

// TestCloudflareClientToVaultClient writes secrets with Cloudflare's own
// client into a store made through the Vault face, and reads them with
// Vault's client: a plain value reads as {"value": ...}, a JSON object as
// that object. Then a Vault write of a new version shows in the store's
// native history, and Cloudflare's client still lists the secret, once.
func TestCloudflareClientToVaultClient(t *testing.T) {
	e := startVault(t) // mounts "secret": a store Cloudflare's client sees too
	ctx := context.Background()
	account := servertest.AccountOf(t, e.base, e.root)
	c := cf.NewClient(option.WithBaseURL(e.base+"/cloudflare/client/v4/"), option.WithAPIToken(e.root))
	stores, err := c.SecretsStore.Stores.List(ctx, secrets_store.StoreListParams{AccountID: cf.F(account)})
	if err != nil || len(stores.Result) != 1 || stores.Result[0].Name != "secret" {
		t.Fatalf("Cloudflare's store list: got %+v, %v; want the Vault mount 'secret'", stores, err)
	}
	storeID := stores.Result[0].ID
	_, err = c.SecretsStore.Stores.Secrets.New(ctx, storeID, secrets_store.StoreSecretNewParams{AccountID: cf.F(account),
		Body: []secrets_store.StoreSecretNewParamsBody{
			{Name: cf.F("API_TOKEN"), Value: cf.F("from-cloudflare"), Scopes: cf.F([]secrets_store.StoreSecretNewParamsBodyScope{"workers"})},
			{Name: cf.F("DB_JSON"), Value: cf.F(`{"user":"u","pass":"p"}`), Scopes: cf.F([]secrets_store.StoreSecretNewParamsBodyScope{"workers"})},
		}})
	if err != nil {
		t.Fatalf("Cloudflare's create: %v", err)
	}

	kv := e.c.KVv2("secret")
	if s, err := kv.Get(ctx, "API_TOKEN"); err != nil || len(s.Data) != 1 || s.Data["value"] != "from-cloudflare" || s.VersionMetadata.Version != 1 {
		t.Fatalf("Vault read of a Cloudflare value: got %+v, %v; want {value: from-cloudflare} at version 1", s, err)
	}
	if s, err := kv.Get(ctx, "DB_JSON"); err != nil || len(s.Data) != 2 || s.Data["user"] != "u" || s.Data["pass"] != "p" {
		t.Fatalf("Vault read of a Cloudflare JSON object: got %+v, %v; want the object", s, err)
	}

	if _, err := kv.Put(ctx, "API_TOKEN", map[string]any{"value": "from-vault"}); err != nil {
		t.Fatal(err)
	}
	if v, n := e.nativeValue(t, "secret", "API_TOKEN"); v != "from-vault" || n != 2 {
		t.Fatalf("native read after the Vault write: got %q at version %d, want from-vault at 2", v, n)
	}
	if vs := e.nativeVersions(t, "secret", "API_TOKEN"); len(vs) != 2 {
		t.Fatalf("native history: got %v, want 2 versions", vs)
	}
	list, err := c.SecretsStore.Stores.Secrets.List(ctx, storeID, secrets_store.StoreSecretListParams{AccountID: cf.F(account)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range list.Result {
		if s.Name == "API_TOKEN" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("Cloudflare's list after the Vault write: %d secrets named API_TOKEN in %+v, want 1", n, list.Result)
	}
}
