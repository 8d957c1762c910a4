package vault_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// TestVaultClientVersions drives soft delete, undelete, destroy,
// max_versions and delete_version_after with Vault's client, and checks
// that the native history shows the same facts.
func TestVaultClientVersions(t *testing.T) {
	e := startVault(t)
	ctx := context.Background()
	kv := e.c.KVv2("secret")
	for i := 1; i <= 3; i++ {
		if _, err := kv.Put(ctx, "v", map[string]any{"n": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("SoftDelete", func(t *testing.T) {
		if err := kv.Delete(ctx, "v"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		s, err := kv.Get(ctx, "v")
		if err != nil || s.Data != nil || s.VersionMetadata == nil || s.VersionMetadata.Version != 3 || s.VersionMetadata.DeletionTime.IsZero() {
			t.Fatalf("Get of a deleted latest version: got %+v %v, want metadata with a deletion_time and no data", s, err)
		}
		if s, err := kv.GetVersion(ctx, "v", 2); err != nil || s.Data["n"] != "2" {
			t.Fatalf("older version stays readable: got %+v %v", s, err)
		}
		if err := kv.DeleteVersions(ctx, "v", []int{1, 2}); err != nil {
			t.Fatal(err)
		}
		md, err := kv.GetMetadata(ctx, "v")
		if err != nil || md.Versions["1"].DeletionTime.IsZero() || md.Versions["3"].DeletionTime.IsZero() {
			t.Fatalf("metadata after deletes: got %+v %v", md, err)
		}
		for _, v := range e.nativeVersions(t, "secret", "v") {
			if v["deleted_at"] == nil {
				t.Fatalf("native history: version %v not deleted: %v", v["version"], v)
			}
		}
		if err := kv.Undelete(ctx, "v", []int{2, 3}); err != nil {
			t.Fatalf("Undelete: %v", err)
		}
		if s, err := kv.Get(ctx, "v"); err != nil || s.Data["n"] != "3" {
			t.Fatalf("Get after undelete: got %+v %v", s, err)
		}
		if _, err := kv.GetVersion(ctx, "v", 1); err != nil && !errors.Is(err, vaultapi.ErrSecretNotFound) {
			t.Fatal(err)
		}
	})

	t.Run("Destroy", func(t *testing.T) {
		if err := kv.Destroy(ctx, "v", []int{2}); err != nil {
			t.Fatalf("Destroy: %v", err)
		}
		s, err := kv.GetVersion(ctx, "v", 2)
		if err != nil || s.Data != nil || !s.VersionMetadata.Destroyed {
			t.Fatalf("GetVersion of a destroyed version: got %+v %v", s, err)
		}
		if err := kv.Undelete(ctx, "v", []int{2}); err != nil {
			t.Fatal(err)
		}
		if s, _ := kv.GetVersion(ctx, "v", 2); s == nil || s.Data != nil || !s.VersionMetadata.Destroyed {
			t.Fatalf("a destroyed version stays destroyed: got %+v", s)
		}
		for _, v := range e.nativeVersions(t, "secret", "v") {
			if (fmt.Sprint(v["version"]) == "2") != (v["destroyed_at"] != nil) {
				t.Fatalf("native history: %v", v)
			}
		}
		// Missing secrets and versions are no error, as in Vault.
		if err := kv.Destroy(ctx, "v", []int{42}); err != nil {
			t.Fatal(err)
		}
		if err := kv.DeleteVersions(ctx, "nothing", []int{1}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("MaxVersions", func(t *testing.T) {
		if err := kv.PutMetadata(ctx, "mv", vaultapi.KVMetadataPutInput{MaxVersions: 2}); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 4; i++ {
			if _, err := kv.Put(ctx, "mv", map[string]any{"n": fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		md, err := kv.GetMetadata(ctx, "mv")
		if err != nil || md.MaxVersions != 2 || len(md.Versions) != 2 || md.OldestVersion != 3 || md.CurrentVersion != 4 {
			t.Fatalf("metadata with max_versions 2: got %+v %v", md, err)
		}
		if _, err := kv.GetVersion(ctx, "mv", 1); err == nil {
			t.Fatal("a pruned version is still readable")
		}
		destroyed := 0
		for _, v := range e.nativeVersions(t, "secret", "mv") {
			if v["destroyed_at"] != nil {
				destroyed++
			}
		}
		if destroyed != 2 {
			t.Fatalf("native history: got %d destroyed versions, want 2", destroyed)
		}
	})

	t.Run("DeleteVersionAfter", func(t *testing.T) {
		if err := kv.PutMetadata(ctx, "dva", vaultapi.KVMetadataPutInput{DeleteVersionAfter: time.Hour}); err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		w, err := kv.Put(ctx, "dva", map[string]any{"a": "b"})
		if err != nil {
			t.Fatal(err)
		}
		dt := w.VersionMetadata.DeletionTime
		if dt.Before(before.Add(time.Hour-time.Minute)) || dt.After(time.Now().Add(time.Hour+time.Minute)) {
			t.Fatalf("deletion_time: got %v, want about an hour from now", dt)
		}
		s, err := kv.Get(ctx, "dva")
		if err != nil || s.Data["a"] != "b" {
			t.Fatalf("a version deleted only in the future reads: got %+v %v", s, err)
		}
		md, _ := kv.GetMetadata(ctx, "dva")
		if md.DeleteVersionAfter != time.Hour {
			t.Fatalf("delete_version_after: got %v", md.DeleteVersionAfter)
		}
		vs := e.nativeVersions(t, "secret", "dva")
		if len(vs) != 1 || vs[0]["deleted_at"] == nil {
			t.Fatalf("native history: got %v, want a scheduled deleted_at", vs)
		}
	})
}
