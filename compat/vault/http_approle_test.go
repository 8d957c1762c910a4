package vault_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/api/auth/approle"

	"github.com/coffer-dev/coffer/internal/servertest"
)

// approleSetup makes stores "app" and "other" with a secret "db" each and,
// through the Vault face as the Vault CLI and Terraform do, a role "ci"
// that reads "app" only; it returns the role id and a secret id.
func approleSetup(t *testing.T, e *vaultEnv) (roleID, secretID string) {
	t.Helper()
	ctx := context.Background()
	for _, m := range []string{"app", "other"} {
		if err := e.c.Sys().Mount(m, &vaultapi.MountInput{Type: "kv-v2"}); err != nil {
			t.Fatalf("mount %s: %v", m, err)
		}
		if _, err := e.c.KVv2(m).Put(ctx, "db", map[string]any{"password": "pw-" + m}); err != nil {
			t.Fatalf("put %s/db: %v", m, err)
		}
	}
	if _, err := e.c.Logical().Write("auth/approle/role/ci", map[string]any{
		"token_policies": "app:*:read,reveal", "token_ttl": "20m", "secret_id_num_uses": 0,
	}); err != nil {
		t.Fatalf("write role: %v", err)
	}
	rid, err := e.c.Logical().Read("auth/approle/role/ci/role-id")
	if err != nil || rid == nil {
		t.Fatalf("read role-id: %v", err)
	}
	sid, err := e.c.Logical().Write("auth/approle/role/ci/secret-id", map[string]any{"metadata": `{"env":"ci"}`})
	if err != nil || sid == nil {
		t.Fatalf("write secret-id: %v", err)
	}
	return rid.Data["role_id"].(string), sid.Data["secret_id"].(string)
}

func TestAppRoleVaultClient(t *testing.T) {
	e := startVault(t)
	ctx := context.Background()
	roleID, secretID := approleSetup(t, e)

	c := vaultClient(t, e.base+"/vault", "")
	auth, err := approle.NewAppRoleAuth(roleID, &approle.SecretID{FromString: secretID})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := c.Auth().Login(ctx, auth)
	if err != nil {
		t.Fatalf("approle login: %v", err)
	}
	if sec.Auth == nil || !strings.HasPrefix(sec.Auth.ClientToken, "cat_") || sec.Auth.LeaseDuration != 1200 ||
		sec.Auth.Metadata["role_name"] != "ci" || len(sec.Auth.Policies) != 1 || sec.Auth.Policies[0] != "app:*:read,reveal" {
		t.Fatalf("login auth: got %+v", sec.Auth)
	}
	// The client now holds the role's token: it reads app, not other.
	got, err := c.KVv2("app").Get(ctx, "db")
	if err != nil || got.Data["password"] != "pw-app" {
		t.Fatalf("read app/db with the role's token: %v, %v", got, err)
	}
	if _, err := c.KVv2("other").Get(ctx, "db"); !isStatus(err, http.StatusForbidden) {
		t.Fatalf("read other/db with the role's token: got %v, want 403", err)
	}
	if _, err := c.KVv2("app").Put(ctx, "db", map[string]any{"password": "x"}); !isStatus(err, http.StatusForbidden) {
		t.Fatalf("write app/db with the role's token: got %v, want 403", err)
	}
	// The same token on the native API.
	nat := &servertest.Client{T: t, Base: e.base, Token: sec.Auth.ClientToken}
	if r := nat.Must(http.StatusOK, "GET", "/v1/stores/app/secrets/db/value", nil); !strings.Contains(string(r.Body), "pw-app") {
		t.Fatalf("native read of app/db: %s", r.Body)
	}
	nat.Must(http.StatusForbidden, "GET", "/v1/stores/other/secrets/db/value", nil)

	// Management paths: list roles and accessors, destroy the secret id.
	list, err := e.c.Logical().List("auth/approle/role")
	if err != nil || list == nil || len(list.Data["keys"].([]any)) != 1 {
		t.Fatalf("list roles: %v, %v", list, err)
	}
	acc, err := e.c.Logical().List("auth/approle/role/ci/secret-id")
	if err != nil || acc == nil {
		t.Fatalf("list accessors: %v", err)
	}
	accessor := acc.Data["keys"].([]any)[0].(string)
	if _, err := e.c.Logical().Write("auth/approle/role/ci/secret-id-accessor/destroy", map[string]any{"secret_id_accessor": accessor}); err != nil {
		t.Fatalf("destroy accessor: %v", err)
	}
	if _, err := vaultClient(t, e.base+"/vault", "").Auth().Login(ctx, auth); !isStatus(err, http.StatusBadRequest) {
		t.Fatalf("login with a destroyed secret id: got %v, want 400", err)
	}
	// Deleting the role ends the token at once.
	if _, err := e.c.Logical().Delete("auth/approle/role/ci"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KVv2("app").Get(ctx, "db"); !isStatus(err, http.StatusForbidden) {
		t.Fatalf("read after the role was deleted: got %v, want 403", err)
	}
}

func isStatus(err error, status int) bool {
	var re *vaultapi.ResponseError
	return errors.As(err, &re) && re.StatusCode == status
}

func TestAppRoleNativeLogin(t *testing.T) {
	e := startVault(t)
	roleID, secretID := approleSetup(t, e)
	anon := &servertest.Client{T: t, Base: e.base}
	r := anon.Must(http.StatusOK, "POST", "/v1/approle/login", map[string]string{"role_id": roleID, "secret_id": secretID})
	tok := servertest.Str(r.JSON(t)["token"])
	nat := &servertest.Client{T: t, Base: e.base, Token: tok}
	nat.Must(http.StatusOK, "GET", "/v1/stores/app/secrets/db/value", nil)
	nat.Must(http.StatusForbidden, "GET", "/v1/stores/other/secrets/db/value", nil)
	// And through the Vault face.
	if got, err := vaultClient(t, e.base+"/vault", tok).KVv2("app").Get(context.Background(), "db"); err != nil || got.Data["password"] != "pw-app" {
		t.Fatalf("vault read with a native login's token: %v", err)
	}
	// Changed scopes end the token at once.
	root := e.nat(t)
	root.Must(http.StatusOK, "PATCH", "/v1/approle/roles/ci", map[string]any{"scopes": []map[string]any{{"store": "other", "actions": []string{"reveal"}}}})
	nat.Must(http.StatusUnauthorized, "GET", "/v1/stores/app/secrets/db/value", nil)
	role := root.Must(http.StatusOK, "GET", "/v1/approle/roles/ci", nil).JSON(t)["role"].(map[string]any)
	if role["role_id"] != roleID || role["token_ttl"].(float64) != 1200 {
		t.Fatalf("role: got %v", role)
	}
}

// TestAppRoleLoginBadInput is the bad-input table of both login routes.
func TestAppRoleLoginBadInput(t *testing.T) {
	e := startVault(t)
	roleID, secretID := approleSetup(t, e)
	anon := &servertest.Client{T: t, Base: e.base}
	bad := "csi_" + strings.Repeat("0", 64)
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		want               string
	}{
		{"VaultMissingRoleID", "POST", "/vault/v1/auth/approle/login", map[string]string{"secret_id": secretID}, 400, "missing role_id"},
		{"VaultMissingSecretID", "POST", "/vault/v1/auth/approle/login", map[string]string{"role_id": roleID}, 400, "missing secret_id"},
		{"VaultBadSecretID", "POST", "/vault/v1/auth/approle/login", map[string]string{"role_id": roleID, "secret_id": bad}, 400, "invalid role or secret ID"},
		{"VaultUnknownRoleID", "POST", "/vault/v1/auth/approle/login", map[string]string{"role_id": "00000000-0000-4000-8000-000000000000", "secret_id": secretID}, 400, "invalid role or secret ID"},
		{"VaultSwapped", "POST", "/vault/v1/auth/approle/login", map[string]string{"role_id": secretID, "secret_id": roleID}, 400, "invalid role or secret ID"},
		{"VaultNotJSON", "POST", "/vault/v1/auth/approle/login", "role_id=x", 400, "failed to parse JSON"},
		{"VaultArray", "POST", "/vault/v1/auth/approle/login", "[]", 400, "JSON object"},
		{"VaultGet", "GET", "/vault/v1/auth/approle/login", nil, 405, ""},
		{"VaultJWTNoConfig", "POST", "/vault/v1/auth/jwt/login", map[string]string{"role": "x", "jwt": "y"}, 400, "error validating token"}, // http_jwt_test.go
		{"NativeMissing", "POST", "/v1/approle/login", map[string]string{"role_id": roleID}, 400, "required"},
		{"NativeUnknownField", "POST", "/v1/approle/login", map[string]string{"role_id": roleID, "secret_id": secretID, "x": "y"}, 400, ""},
		{"NativeBadSecretID", "POST", "/v1/approle/login", map[string]string{"role_id": roleID, "secret_id": bad}, 401, "invalid role_id or secret_id"},
		{"NativeNotJSON", "POST", "/v1/approle/login", "{", 400, ""},
		{"NativeEmpty", "POST", "/v1/approle/login", "", 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := anon.Do(tc.method, tc.path, tc.body)
			if r.Status != tc.status || !strings.Contains(string(r.Body), tc.want) {
				t.Fatalf("got %d %s, want %d %q", r.Status, r.Body, tc.status, tc.want)
			}
			for _, s := range []string{secretID, bad} {
				if strings.Contains(string(r.Body), s) {
					t.Fatalf("the answer holds a secret id: %s", r.Body)
				}
			}
		})
	}
	// The secret id still works after all that (no use spent by refusals).
	anon.Must(http.StatusOK, "POST", "/v1/approle/login", map[string]string{"role_id": roleID, "secret_id": secretID})
}
