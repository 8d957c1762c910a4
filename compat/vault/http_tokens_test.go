package vault_test

import (
	"context"
	"slices"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/coffer-dev/coffer/internal/servertest"
)

// mintScoped mints a native key with scopes, expiring after ttl (never
// when 0), and returns its token.
func (e *vaultEnv) mintScoped(t *testing.T, ttl time.Duration, scopes ...string) string {
	t.Helper()
	body := map[string]any{"name": "scoped", "scopes": servertest.Scopes(scopes...)}
	if ttl > 0 {
		body["expires_at"] = time.Now().Add(ttl).UTC().Format(time.RFC3339)
	}
	tok, _ := servertest.Mint(t, e.nat(t), body)
	return tok
}

func TestVaultClientTokens(t *testing.T) {
	e := startVault(t)
	ctx := context.Background()
	addr := e.base + "/vault"
	if _, err := e.c.KVv2("secret").Put(ctx, "app/db", map[string]any{"k": "v1"}); err != nil {
		t.Fatal(err)
	}

	t.Run("LookupSelfRoot", func(t *testing.T) {
		s, err := e.c.Auth().Token().LookupSelf()
		if err != nil {
			t.Fatal(err)
		}
		pol, _ := s.TokenPolicies()
		if acc, _ := s.Data["accessor"].(string); acc == "" || !slices.Equal(pol, []string{"root"}) || s.Data["id"] != e.root {
			t.Fatalf("lookup-self: got %+v", s.Data)
		}
		// GET, as some clients send it.
		if s, err := e.c.Logical().Read("auth/token/lookup-self"); err != nil || s.Data["accessor"] == "" {
			t.Fatalf("GET lookup-self: got %+v %v", s, err)
		}
	})

	ro := e.mintScoped(t, time.Hour, "secret:*:list,read,reveal")
	roc := vaultClient(t, addr, ro)

	t.Run("ScopedKey", func(t *testing.T) {
		s, err := roc.KVv2("secret").Get(ctx, "app/db")
		if err != nil || s.Data["k"] != "v1" {
			t.Fatalf("read-only key reads: got %+v %v", s, err)
		}
		_, err = roc.KVv2("secret").Put(ctx, "app/db", map[string]any{"k": "v2"})
		mustStatus(t, err, 403, "permission denied")
		_, err = roc.KVv2("secret").Put(ctx, "app/new", map[string]any{"k": "v2"})
		mustStatus(t, err, 403, "permission denied")
		mustStatus(t, roc.KVv2("secret").DeleteMetadata(ctx, "app/db"), 403, "permission denied")
		if v, n := e.nativeValue(t, "secret", "app/db"); v != `{"k":"v1"}` || n != 1 {
			t.Fatalf("after refused writes: got %q v%d, want v1 unchanged", v, n)
		}
		if v, _ := e.nativeValue(t, "secret", "app/new"); v != "" {
			t.Fatalf("refused create wrote %q", v)
		}
		ls, err := roc.Auth().Token().LookupSelf()
		if err != nil {
			t.Fatal(err)
		}
		ttl, _ := ls.TokenTTL()
		pol, _ := ls.TokenPolicies()
		if ttl <= 0 || ttl > time.Hour || !slices.Equal(pol, []string{"secret:*:list,read,reveal"}) {
			t.Fatalf("lookup-self of a scoped key: ttl %v, policies %v", ttl, pol)
		}
	})

	t.Run("Unauthenticated", func(t *testing.T) {
		for _, tok := range []string{"", "cfr_not_a_key", servertest.FlipLast(ro)} {
			c := vaultClient(t, addr, tok)
			if tok == "" {
				c.ClearToken()
			}
			_, err := c.KVv2("secret").Get(ctx, "app/db")
			mustStatus(t, err, 403, "permission denied")
			_, err = c.KVv2("secret").Put(ctx, "app/anon", map[string]any{"k": "x"})
			mustStatus(t, err, 403, "permission denied")
		}
		if v, _ := e.nativeValue(t, "secret", "app/anon"); v != "" {
			t.Fatalf("unauthenticated write wrote %q", v)
		}
	})

	t.Run("ChildNoWider", func(t *testing.T) {
		sec, err := roc.Auth().Token().Create(&vaultapi.TokenCreateRequest{TTL: "10h", DisplayName: "child"})
		if err != nil {
			t.Fatalf("create child: %v", err)
		}
		if sec.Auth == nil || sec.Auth.ClientToken == "" || sec.Auth.LeaseDuration <= 0 || sec.Auth.LeaseDuration > 3600 || len(sec.Warnings) == 0 {
			t.Fatalf("child: got %+v (warnings %v), want a token capped at the parent's hour", sec.Auth, sec.Warnings)
		}
		child := vaultClient(t, addr, sec.Auth.ClientToken)
		if s, err := child.KVv2("secret").Get(ctx, "app/db"); err != nil || s.Data["k"] != "v1" {
			t.Fatalf("child reads: got %+v %v", s, err)
		}
		_, err = child.KVv2("secret").Put(ctx, "app/db", map[string]any{"k": "child"})
		mustStatus(t, err, 403, "permission denied")
		// A child asking for more than its parent is refused.
		_, err = roc.Auth().Token().Create(&vaultapi.TokenCreateRequest{Policies: []string{"secret:*:write"}})
		mustStatus(t, err, 403, "permission denied")
		// A narrower one is made, with "default" ignored.
		sec, err = roc.Auth().Token().Create(&vaultapi.TokenCreateRequest{Policies: []string{"default", "secret:app/*:reveal"}})
		if err != nil {
			t.Fatalf("narrower child: %v", err)
		}
		if !slices.Equal(sec.Auth.Policies, []string{"secret:app/*:reveal"}) {
			t.Fatalf("narrower child policies: got %v", sec.Auth.Policies)
		}
		_, err = roc.Auth().Token().Create(&vaultapi.TokenCreateRequest{Policies: []string{"admins"}})
		mustStatus(t, err, 400, "unknown policy")
		// Renewal answers the time left; revoke-self ends the token.
		if s, err := child.Auth().Token().RenewSelf(0); err != nil || s.Auth == nil || s.Auth.LeaseDuration <= 0 {
			t.Fatalf("renew-self: got %+v %v", s, err)
		}
		if err := child.Auth().Token().RevokeSelf(""); err != nil {
			t.Fatalf("revoke-self: %v", err)
		}
		_, err = child.KVv2("secret").Get(ctx, "app/db")
		mustStatus(t, err, 403, "permission denied")
	})

	t.Run("Orphan", func(t *testing.T) {
		sec, err := e.c.Auth().Token().CreateOrphan(&vaultapi.TokenCreateRequest{TTL: "1h", Policies: []string{"secret:*:reveal,list,read,write"}})
		if err != nil || sec.Auth == nil {
			t.Fatalf("create-orphan: %+v %v", sec, err)
		}
		c := vaultClient(t, addr, sec.Auth.ClientToken)
		if _, err := c.KVv2("secret").Put(ctx, "orphan", map[string]any{"a": "b"}); err != nil {
			t.Fatalf("orphan writes: %v", err)
		}
		_, err = c.Auth().Token().Create(&vaultapi.TokenCreateRequest{TTL: "1h", ID: "mine"})
		mustStatus(t, err, 400, "id")
	})
}

func TestVaultClientCapabilities(t *testing.T) {
	e := startVault(t)
	ro := vaultClient(t, e.base+"/vault", e.mintScoped(t, 0, "secret:app/*:read,reveal,list", "secret:ops/*:write,delete"))
	for _, tt := range []struct {
		path string
		want []string
	}{
		{"secret/data/app/db", []string{"read"}},
		{"secret/metadata/app/db", []string{"read", "list"}},
		{"secret/data/ops/x", []string{"create", "update", "delete"}},
		{"secret/destroy/ops/x", []string{"update"}},
		{"secret/data/other", []string{"deny"}},
		{"nomount/data/x", []string{"deny"}},
		{"sys/mounts", []string{"deny"}},
	} {
		got, err := ro.Sys().CapabilitiesSelf(tt.path)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("capabilities-self %s: got %v %v, want %v", tt.path, got, err, tt.want)
		}
	}
	got, err := e.c.Sys().CapabilitiesSelf("secret/data/x")
	if err != nil || !slices.Contains(got, "sudo") || !slices.Contains(got, "read") {
		t.Fatalf("root capabilities: got %v %v", got, err)
	}
}

// TestVaultPreflightScoped checks that a key that may only read some
// secrets passes the CLI's KV preflight for their paths, and no other.
func TestVaultPreflightScoped(t *testing.T) {
	e := startVault(t)
	c := vaultClient(t, e.base+"/vault", e.mintScoped(t, 0, "secret:app/*:reveal"))
	s, err := c.Logical().Read("sys/internal/ui/mounts/secret/app/db")
	if err != nil || s == nil || s.Data["path"] != "secret/" {
		t.Fatalf("preflight of a readable path: got %+v %v", s, err)
	}
	_, err = c.Logical().Read("sys/internal/ui/mounts/secret/other")
	mustStatus(t, err, 403, "permission denied")
}

// TestVaultQuietRefusals checks that a key that may only reveal or only
// write is not refused, and no refusal audited, for facts the face only
// wants (metadata, settings) on its reads and writes.
func TestVaultQuietRefusals(t *testing.T) {
	e := startVault(t)
	ctx := context.Background()
	if _, err := e.c.KVv2("secret").Put(ctx, "app/db", map[string]any{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	reader := vaultClient(t, e.base+"/vault", e.mintScoped(t, 0, "secret:app/*:reveal"))
	writer := vaultClient(t, e.base+"/vault", e.mintScoped(t, 0, "secret:app/*:write"))
	deleter := vaultClient(t, e.base+"/vault", e.mintScoped(t, 0, "secret:app/*:delete"))
	if s, err := reader.KVv2("secret").Get(ctx, "app/db"); err != nil || s.Data["k"] != "v" {
		t.Fatalf("reveal-only read: got %+v %v", s, err)
	}
	if _, err := writer.KVv2("secret").Put(ctx, "app/db", map[string]any{"k": "w"}); err != nil {
		t.Fatalf("write-only write: %v", err)
	}
	if err := deleter.KVv2("secret").Delete(ctx, "app/db"); err != nil {
		t.Fatalf("delete-only DELETE data: %v", err)
	}
	if vs := e.nativeVersions(t, "secret", "app/db"); len(vs) != 2 || vs[0]["deleted_at"] == nil || vs[1]["deleted_at"] != nil {
		t.Fatalf("after a delete-only DELETE data: versions %v, want the latest (only) deleted", vs)
	}
	evs, raw := servertest.Events(t, e.base, e.root)
	if ev := servertest.Find(evs, func(ev servertest.Event) bool { return ev.Outcome == "forbidden" }); ev != nil {
		t.Fatalf("a refusal was audited: %+v in %s", ev, raw)
	}
}
