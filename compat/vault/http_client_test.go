package vault_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/servertest"
	"github.com/coffer-dev/coffer/server"
)

// These tests drive the Vault face with Vault's own Go client,
// github.com/hashicorp/vault/api (the client under the vault CLI, External
// Secrets Operator and Terraform's provider), pointed at the real server
// by VAULT_ADDR only: http://HOST/vault.

// vaultEnv is a server with a store "secret" made through sys/mounts.
type vaultEnv struct {
	base string // http://HOST:PORT
	root string
	c    *vaultapi.Client
	srv  *server.Server
}

func startVault(t *testing.T, mods ...func(*server.Config)) *vaultEnv {
	t.Helper()
	srv := servertest.Open(t, nil, mods...)
	e := &vaultEnv{base: "http://" + srv.Addr, root: srv.RootToken, srv: srv}
	e.c = vaultClient(t, e.base+"/vault", e.root)
	if err := e.c.Sys().Mount("secret", &vaultapi.MountInput{Type: "kv-v2", Description: "test mount"}); err != nil {
		t.Fatalf("mount secret: %v", err)
	}
	return e
}

// nat returns a native API client with the root token, failing t.
func (e *vaultEnv) nat(t *testing.T) *servertest.Client {
	return &servertest.Client{T: t, Base: e.base, Token: e.root}
}

// vaultClient returns Vault's client for addr with token, without retries.
func vaultClient(t *testing.T, addr, token string) *vaultapi.Client {
	t.Helper()
	cfg := vaultapi.DefaultConfig()
	cfg.Address, cfg.MaxRetries = addr, 0
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

// status returns the HTTP status of a Vault client error (0 for none).
func status(err error) int {
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// mustStatus fails unless err is a Vault response error with the status
// and, when given, a message containing msg.
func mustStatus(t *testing.T, err error, want int, msg string) {
	t.Helper()
	var re *vaultapi.ResponseError
	if !errors.As(err, &re) || re.StatusCode != want || msg != "" && !strings.Contains(strings.Join(re.Errors, "\n"), msg) {
		t.Fatalf("got error %v, want status %d with %q", err, want, msg)
	}
}

// nativeValue reads a secret's latest value through the native API.
func (e *vaultEnv) nativeValue(t *testing.T, store, name string) (string, int) {
	t.Helper()
	r := e.nat(t).Do("GET", servertest.SecretPath(store, name)+"/value", nil)
	if r.Status == 404 {
		return "", 0
	}
	v, n := servertest.Value(t, r)
	return v, int(n)
}

// nativeVersions returns a secret's versions as the native API shows them.
func (e *vaultEnv) nativeVersions(t *testing.T, store, name string) []map[string]any {
	t.Helper()
	r := e.nat(t).Must(200, "GET", servertest.SecretPath(store, name)+"/versions", nil)
	var out struct {
		Versions []map[string]any `json:"versions"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("versions: %v in %s", err, r.Body)
	}
	return out.Versions
}

func TestVaultClientKV(t *testing.T) {
	e := startVault(t)
	ctx := context.Background()
	kv := e.c.KVv2("secret")

	w, err := kv.Put(ctx, "app/db", map[string]any{"user": "app", "pass": "p1"})
	if err != nil || w.VersionMetadata == nil || w.VersionMetadata.Version != 1 || w.VersionMetadata.CreatedTime.IsZero() {
		t.Fatalf("Put: got %+v %v, want version 1", w, err)
	}
	if _, err := kv.Put(ctx, "app/db", map[string]any{"user": "app", "pass": "p2"}); err != nil {
		t.Fatal(err)
	}

	t.Run("Get", func(t *testing.T) {
		s, err := kv.Get(ctx, "app/db")
		if err != nil || s.Data["pass"] != "p2" || s.Data["user"] != "app" || s.VersionMetadata.Version != 2 {
			t.Fatalf("Get: got %+v %v, want version 2 with pass p2", s, err)
		}
		s, err = kv.GetVersion(ctx, "app/db", 1)
		if err != nil || s.Data["pass"] != "p1" || s.VersionMetadata.Version != 1 {
			t.Fatalf("GetVersion 1: got %+v %v", s, err)
		}
		if _, err := kv.GetVersion(ctx, "app/db", 9); !errors.Is(err, vaultapi.ErrSecretNotFound) {
			t.Fatalf("GetVersion 9: got %v, want ErrSecretNotFound", err)
		}
		if _, err := kv.Get(ctx, "app/none"); !errors.Is(err, vaultapi.ErrSecretNotFound) {
			t.Fatalf("Get missing: got %v, want ErrSecretNotFound", err)
		}
	})

	t.Run("SameFactsNatively", func(t *testing.T) {
		v, n := e.nativeValue(t, "secret", "app/db")
		// Vault's client sends a Go map: its keys sorted.
		if v != `{"pass":"p2","user":"app"}` || n != 2 {
			t.Fatalf("native value: got %q v%d, want the map's JSON text at v2", v, n)
		}
		if vs := e.nativeVersions(t, "secret", "app/db"); len(vs) != 2 {
			t.Fatalf("native history: got %v, want 2 versions", vs)
		}
	})

	t.Run("RequestID", func(t *testing.T) {
		s, err := e.c.Logical().Read("secret/data/app/db")
		if err != nil || s.RequestID == "" {
			t.Fatalf("got %+v %v, want a request_id", s, err)
		}
	})

	t.Run("CAS", func(t *testing.T) {
		if _, err := kv.Put(ctx, "cas/a", map[string]any{"v": "1"}, vaultapi.WithCheckAndSet(0)); err != nil {
			t.Fatalf("create-only on a new path: %v", err)
		}
		_, err := kv.Put(ctx, "cas/a", map[string]any{"v": "2"}, vaultapi.WithCheckAndSet(0))
		mustStatus(t, err, 400, "check-and-set parameter did not match the current version")
		_, err = kv.Put(ctx, "cas/a", map[string]any{"v": "2"}, vaultapi.WithCheckAndSet(5))
		mustStatus(t, err, 400, "check-and-set parameter did not match the current version")
		if s, err := kv.Put(ctx, "cas/a", map[string]any{"v": "2"}, vaultapi.WithCheckAndSet(1)); err != nil || s.VersionMetadata.Version != 2 {
			t.Fatalf("cas=1: got %+v %v", s, err)
		}
		// Terraform sends cas as a string.
		if _, err := e.c.Logical().Write("secret/data/cas/a", map[string]any{"data": map[string]any{"v": "3"}, "options": map[string]any{"cas": "2"}}); err != nil {
			t.Fatalf("cas as a string: %v", err)
		}
		if v, n := e.nativeValue(t, "secret", "cas/a"); v != `{"v":"3"}` || n != 3 {
			t.Fatalf("after CAS writes: got %q v%d", v, n)
		}
	})

	t.Run("CASRace", func(t *testing.T) {
		const writers = 8
		if _, err := kv.Put(ctx, "race", map[string]any{"w": "start"}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		for i := range writers {
			wg.Go(func() {
				_, err := kv.Put(ctx, "race", map[string]any{"w": fmt.Sprint(i)}, vaultapi.WithCheckAndSet(1))
				mu.Lock()
				defer mu.Unlock()
				switch status(err) {
				case 0:
					won++
				case 400:
					lost++
				default:
					t.Errorf("writer %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if won != 1 || lost != writers-1 {
			t.Fatalf("got %d winners and %d losers, want 1 and %d", won, lost, writers-1)
		}
		if _, n := e.nativeValue(t, "secret", "race"); n != 2 {
			t.Fatalf("got version %d, want 2", n)
		}
	})

	t.Run("Patch", func(t *testing.T) {
		s, err := kv.Patch(ctx, "app/db", map[string]any{"pass": "p3", "extra": "x"}, vaultapi.WithMergeMethod(vaultapi.KVMergeMethodPatch))
		if err != nil || s.VersionMetadata.Version != 3 {
			t.Fatalf("Patch: got %+v %v", s, err)
		}
		if v, _ := e.nativeValue(t, "secret", "app/db"); v != `{"pass":"p3","user":"app","extra":"x"}` {
			t.Fatalf("after patch: got %q, want keys in order with pass p3 and extra", v)
		}
		if _, err := kv.Patch(ctx, "app/db", map[string]any{"extra": nil}, vaultapi.WithMergeMethod(vaultapi.KVMergeMethodPatch)); err != nil {
			t.Fatal(err)
		}
		if v, _ := e.nativeValue(t, "secret", "app/db"); v != `{"pass":"p3","user":"app"}` {
			t.Fatalf("after patch with null: got %q", v)
		}
		_, err = kv.Patch(ctx, "app/none", map[string]any{"a": "b"}, vaultapi.WithMergeMethod(vaultapi.KVMergeMethodPatch))
		if !errors.Is(err, vaultapi.ErrSecretNotFound) {
			t.Fatalf("patch of a missing secret: got %v, want ErrSecretNotFound (404)", err)
		}
		_, err = kv.Patch(ctx, "app/db", map[string]any{"a": "b"}, vaultapi.WithMergeMethod(vaultapi.KVMergeMethodPatch), vaultapi.WithCheckAndSet(1))
		mustStatus(t, err, 400, "check-and-set")
		// A value written by another face is {"value": v}; patching its
		// value gives plain text again.
		e.nat(t).Must(201, "PUT", servertest.SecretPath("secret", "plain"), map[string]any{"value": "one"})
		if _, err := kv.Patch(ctx, "plain", map[string]any{"value": "two"}, vaultapi.WithMergeMethod(vaultapi.KVMergeMethodPatch)); err != nil {
			t.Fatal(err)
		}
		if v, _ := e.nativeValue(t, "secret", "plain"); v != "two" {
			t.Fatalf("patched plain value: got %q, want two", v)
		}
	})

	t.Run("List", func(t *testing.T) {
		for _, p := range []string{"tree/a", "tree/b/c", "tree/b/d/e", "tree/b-x"} {
			if _, err := kv.Put(ctx, p, map[string]any{"k": "v"}); err != nil {
				t.Fatal(err)
			}
		}
		s, err := e.c.Logical().List("secret/metadata/tree")
		if err != nil || s == nil {
			t.Fatalf("List: %v", err)
		}
		if got := keys(s); !slices.Equal(got, []string{"a", "b-x", "b/"}) {
			t.Fatalf("List tree: got %v, want [a b-x b/]", got)
		}
		var all []string
		var walk func(p string)
		walk = func(p string) {
			s, err := e.c.Logical().List("secret/metadata/" + p)
			if err != nil || s == nil {
				t.Fatalf("List %s: %v", p, err)
			}
			for _, k := range keys(s) {
				if strings.HasSuffix(k, "/") {
					walk(p + k)
				} else {
					all = append(all, p+k)
				}
			}
		}
		walk("tree/")
		slices.Sort(all)
		if want := []string{"tree/a", "tree/b-x", "tree/b/c", "tree/b/d/e"}; !slices.Equal(all, want) {
			t.Fatalf("recursive list: got %v, want %v", all, want)
		}
		if s, err := e.c.Logical().List("secret/metadata/nothing-here"); err != nil || s != nil {
			t.Fatalf("List of nothing: got %+v %v, want no secret (404)", s, err)
		}
		// LIST as a method, as the CLI's raw requests send it.
		r := e.nat(t).Do("LIST", "/vault/v1/secret/metadata/tree/b", nil, "X-Vault-Token", e.root)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"keys":["c","d/"]`) {
			t.Fatalf("LIST method: got %d %s", r.Status, r.Body)
		}
	})

	t.Run("Subkeys", func(t *testing.T) {
		if _, err := kv.Put(ctx, "nested", map[string]any{"a": map[string]any{"b": map[string]any{"c": 1}}, "d": "x"}); err != nil {
			t.Fatal(err)
		}
		s, err := e.c.Logical().Read("secret/subkeys/nested")
		if err != nil || s == nil {
			t.Fatalf("subkeys: %v", err)
		}
		if got, _ := json.Marshal(s.Data["subkeys"]); string(got) != `{"a":{"b":{"c":null}},"d":null}` {
			t.Fatalf("subkeys: got %s", got)
		}
		s, err = e.c.Logical().ReadWithData("secret/subkeys/nested", map[string][]string{"depth": {"1"}})
		if got, _ := json.Marshal(s.Data["subkeys"]); err != nil || string(got) != `{"a":null,"d":null}` {
			t.Fatalf("subkeys depth 1: got %s %v", got, err)
		}
	})

	t.Run("DeleteMetadata", func(t *testing.T) {
		if _, err := kv.Put(ctx, "gone", map[string]any{"k": "1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "gone", map[string]any{"k": "2"}); err != nil {
			t.Fatal(err)
		}
		if err := kv.DeleteMetadata(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Get(ctx, "gone"); !errors.Is(err, vaultapi.ErrSecretNotFound) {
			t.Fatalf("Get after DeleteMetadata: got %v, want ErrSecretNotFound", err)
		}
		if err := kv.DeleteMetadata(ctx, "gone"); err != nil {
			t.Fatalf("DeleteMetadata of a missing secret: %v, want success as in Vault", err)
		}
		s, err := kv.Put(ctx, "gone", map[string]any{"k": "3"})
		if err != nil || s.VersionMetadata.Version != 1 {
			t.Fatalf("Put after DeleteMetadata: got %+v %v, want version 1 again", s, err)
		}
	})
}

// keys returns the keys of a LIST answer.
func keys(s *vaultapi.Secret) []string {
	var out []string
	raw, _ := s.Data["keys"].([]any)
	for _, k := range raw {
		out = append(out, fmt.Sprint(k))
	}
	return out
}

func TestVaultClientMetadataAndConfig(t *testing.T) {
	e := startVault(t)
	ctx := context.Background()
	kv := e.c.KVv2("secret")

	if _, err := kv.Put(ctx, "m", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	err := kv.PutMetadata(ctx, "m", vaultapi.KVMetadataPutInput{CustomMetadata: map[string]any{"owner": "team-a", "tier": "1"}, CASRequired: true})
	if err != nil {
		t.Fatalf("PutMetadata: %v", err)
	}
	md, err := kv.GetMetadata(ctx, "m")
	if err != nil || md.CustomMetadata["owner"] != "team-a" || !md.CASRequired || md.CurrentVersion != 1 || len(md.Versions) != 1 || md.CreatedTime.IsZero() {
		t.Fatalf("GetMetadata: got %+v %v", md, err)
	}
	r := e.nat(t).Must(200, "GET", servertest.SecretPath("secret", "m"), nil).JSON(t)
	if labels, _ := r["labels"].(map[string]any); labels["owner"] != "team-a" || labels["tier"] != "1" {
		t.Fatalf("native labels: got %v, want custom_metadata", r["labels"])
	}
	// cas_required: a write without cas is refused.
	_, err = kv.Put(ctx, "m", map[string]any{"k": "v2"})
	mustStatus(t, err, 400, "check-and-set parameter required")
	if _, err := kv.Put(ctx, "m", map[string]any{"k": "v2"}, vaultapi.WithCheckAndSet(1)); err != nil {
		t.Fatal(err)
	}
	// PATCH merges custom_metadata; null removes a key.
	if err := kv.PatchMetadata(ctx, "m", vaultapi.KVMetadataPatchInput{CustomMetadata: map[string]any{"tier": nil, "new": "n"}}); err != nil {
		t.Fatalf("PatchMetadata: %v", err)
	}
	md, _ = kv.GetMetadata(ctx, "m")
	if len(md.CustomMetadata) != 2 || md.CustomMetadata["new"] != "n" || md.CustomMetadata["owner"] != "team-a" {
		t.Fatalf("after PatchMetadata: got %v", md.CustomMetadata)
	}
	// POST replaces custom_metadata whole.
	if err := kv.PutMetadata(ctx, "m", vaultapi.KVMetadataPutInput{CustomMetadata: map[string]any{"only": "this"}}); err != nil {
		t.Fatal(err)
	}
	md, _ = kv.GetMetadata(ctx, "m")
	if len(md.CustomMetadata) != 1 || md.CustomMetadata["only"] != "this" || md.CASRequired {
		t.Fatalf("after PutMetadata: got %+v", md)
	}

	t.Run("MetadataOnlyCreate", func(t *testing.T) {
		if err := kv.PutMetadata(ctx, "pending", vaultapi.KVMetadataPutInput{CustomMetadata: map[string]any{"managed-by": "external-secrets"}}); err != nil {
			t.Fatalf("PutMetadata of a new path: %v", err)
		}
		md, err := kv.GetMetadata(ctx, "pending")
		if err != nil || md.CurrentVersion != 0 || md.CustomMetadata["managed-by"] != "external-secrets" {
			t.Fatalf("GetMetadata pending: got %+v %v", md, err)
		}
		if _, err := kv.Put(ctx, "pending", map[string]any{"a": "b"}, vaultapi.WithCheckAndSet(0)); err != nil {
			t.Fatalf("first write with cas 0 after metadata: %v", err)
		}
	})

	t.Run("Config", func(t *testing.T) {
		if _, err := e.c.Logical().Write("secret/config", map[string]any{"cas_required": true, "max_versions": 4, "delete_version_after": "2h"}); err != nil {
			t.Fatalf("write config: %v", err)
		}
		s, err := e.c.Logical().Read("secret/config")
		if err != nil || s.Data["cas_required"] != true || fmt.Sprint(s.Data["max_versions"]) != "4" || s.Data["delete_version_after"] != "2h0m0s" {
			t.Fatalf("read config: got %+v %v", s, err)
		}
		_, err = kv.Put(ctx, "cfg", map[string]any{"a": "b"})
		mustStatus(t, err, 400, "check-and-set parameter required")
		if _, err := e.c.Logical().Write("secret/config", map[string]any{"cas_required": false, "max_versions": 0, "delete_version_after": "0s"}); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "cfg", map[string]any{"a": "b"}); err != nil {
			t.Fatalf("write after config reset: %v", err)
		}
	})
}

func TestVaultClientSys(t *testing.T) {
	e := startVault(t)

	t.Run("Mounts", func(t *testing.T) {
		ms, err := e.c.Sys().ListMounts()
		if err != nil || ms["secret/"] == nil || ms["secret/"].Type != "kv" || ms["secret/"].Options["version"] != "2" || ms["secret/"].Description != "test mount" {
			t.Fatalf("ListMounts: got %+v %v", ms, err)
		}
		if err := e.c.Sys().Mount("team/app", &vaultapi.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
			t.Fatalf("mount kv version 2: %v", err)
		}
		e.nat(t).Must(200, "GET", "/v1/stores/team%2Fapp", nil)
		mustStatus(t, e.c.Sys().Mount("v1", &vaultapi.MountInput{Type: "kv"}), 400, "KV version 2")
		if _, err := e.c.Logical().Write("sys/mounts/numbered", map[string]any{"type": "kv", "options": map[string]any{"version": 2}}); err != nil {
			t.Fatalf("options.version as a number: %v", err)
		}
		mustStatus(t, e.c.Sys().Mount("secret", &vaultapi.MountInput{Type: "kv-v2"}), 400, "already in use")
		if _, err := e.c.KVv2("team/app").Put(context.Background(), "x/y", map[string]any{"a": "b"}); err != nil {
			t.Fatalf("put in a mount whose name has a '/': %v", err)
		}
		s, err := e.c.Logical().Read("sys/mounts/team/app")
		if err != nil || s.Data["type"] != "kv" {
			t.Fatalf("GET sys/mounts/team/app: got %+v %v", s, err)
		}
		s, err = e.c.Logical().Read("sys/mounts/team/app/tune")
		if err != nil || s.Data["options"] == nil {
			t.Fatalf("GET tune: got %+v %v", s, err)
		}
		if err := e.c.Sys().Unmount("team/app"); err != nil {
			t.Fatalf("Unmount: %v", err)
		}
		if r := e.nat(t).Do("GET", "/v1/stores/team%2Fapp", nil); r.Status != 404 {
			t.Fatalf("store after Unmount: got %d, want 404", r.Status)
		}
		if err := e.c.Sys().Unmount("never"); err != nil {
			t.Fatalf("Unmount of nothing: %v, want success as in Vault", err)
		}
	})

	t.Run("UIMounts", func(t *testing.T) {
		s, err := e.c.Logical().Read("sys/internal/ui/mounts/secret/some/path")
		if err != nil || s.Data["path"] != "secret/" || s.Data["type"] != "kv" {
			t.Fatalf("preflight: got %+v %v", s, err)
		}
		if opts, _ := s.Data["options"].(map[string]any); opts["version"] != "2" {
			t.Fatalf("preflight options: got %v, want version 2", s.Data["options"])
		}
		_, err = e.c.Logical().Read("sys/internal/ui/mounts/nomount/x")
		mustStatus(t, err, 403, "permission denied")
	})

	t.Run("HealthAndSeal", func(t *testing.T) {
		anon := vaultClient(t, e.base+"/vault", "")
		anon.ClearToken()
		h, err := anon.Sys().Health()
		if err != nil || !h.Initialized || h.Sealed || h.Standby {
			t.Fatalf("Health: got %+v %v", h, err)
		}
		ss, err := anon.Sys().SealStatus()
		if err != nil || ss.Sealed || !ss.Initialized {
			t.Fatalf("SealStatus: got %+v %v", ss, err)
		}
		// 'vault status' reads sys/leader after the seal status.
		if l, err := anon.Sys().Leader(); err != nil || l.HAEnabled {
			t.Fatalf("Leader: got %+v %v", l, err)
		}
		// 'vault auth list' lists the token method.
		if am, err := e.c.Sys().ListAuthWithContext(context.Background()); err != nil || am["token/"] == nil || am["token/"].Type != "token" {
			t.Fatalf("ListAuth: got %+v %v", am, err)
		}
		for _, q := range []string{"", "?standbyok=true&perfstandbyok=true", "?activecode=204"} {
			resp, err := http.Head(e.base + "/vault/v1/sys/health" + q)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := 200
			if strings.Contains(q, "activecode") {
				want = 204
			}
			if resp.StatusCode != want {
				t.Fatalf("HEAD sys/health%s: got %d, want %d", q, resp.StatusCode, want)
			}
		}
	})

	t.Run("Logins", func(t *testing.T) {
		anon := vaultClient(t, e.base+"/vault", "")
		anon.ClearToken()
		for _, m := range []string{"token"} { // approle: http_approle_test.go; jwt, kubernetes and other mounts: http_jwt_test.go
			_, err := anon.Logical().Write("auth/"+m+"/login", map[string]any{"role": "r", "jwt": "x"})
			mustStatus(t, err, 403, "permission denied")
			_, err = e.c.Logical().Write("auth/"+m+"/login", map[string]any{"role": "r"})
			mustStatus(t, err, 404, "no handler for route")
		}
	})

	t.Run("VersionOnePath", func(t *testing.T) {
		// The client reads any 404 as "no secret"; the answer itself:
		r := e.nat(t).Do("GET", "/vault/v1/secret/app", nil, "X-Vault-Token", e.root)
		if r.Status != 404 || !strings.Contains(string(r.Body), "Invalid path for a versioned K/V secrets engine") {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})

	t.Run("Headers", func(t *testing.T) {
		r := e.nat(t).Do("GET", "/vault/v1/secret/data/none", nil, "X-Vault-Token", e.root)
		if r.Status != 404 || strings.TrimSpace(string(r.Body)) != `{"errors":[]}` || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("missing secret: got %d %v %s", r.Status, r.Header, r.Body)
		}
		r = e.nat(t).Do("GET", "/vault/v1/secret/config", nil, "X-Vault-Token", e.root)
		if id := r.JSON(t)["request_id"]; r.Status != 200 || id == "" || id != r.Header.Get("X-Request-Id") {
			t.Fatalf("request_id %v, X-Request-Id %q: want the same", id, r.Header.Get("X-Request-Id"))
		}
	})
}

func TestVaultOwnListener(t *testing.T) {
	e := startVault(t, func(c *server.Config) { c.VaultAddr = "127.0.0.1:0" })
	if e.srv.VaultAddr == "" {
		t.Fatal("no Vault listener")
	}
	c := vaultClient(t, "http://"+e.srv.VaultAddr, e.root)
	ctx := context.Background()
	if _, err := c.KVv2("secret").Put(ctx, "own", map[string]any{"a": "b"}); err != nil {
		t.Fatalf("put on the Vault listener: %v", err)
	}
	s, err := e.c.KVv2("secret").Get(ctx, "own")
	if err != nil || s.Data["a"] != "b" {
		t.Fatalf("read through /vault/: got %+v %v", s, err)
	}
	r, err := http.Get("http://" + e.srv.VaultAddr + "/v1/sys/health")
	if err != nil || r.StatusCode != 200 || r.Header.Get("X-Request-Id") == "" {
		t.Fatalf("health on the Vault listener: %v %v", r, err)
	}
	r.Body.Close()
}
