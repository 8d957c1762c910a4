package vault_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	k8sauth "github.com/hashicorp/vault/api/auth/kubernetes"

	"github.com/coffer-dev/coffer/internal/jwttest"
	"github.com/coffer-dev/coffer/internal/servertest"
)

// jwtEnv is a server with KV stores "app" and "other" (a secret "db" each)
// and JWT trust configurations "kubernetes", "jwt" and "github" whose
// roles reveal "app" only.
type jwtEnv struct {
	*vaultEnv
	k8sKey, ghKey jwttest.Key
}

const (
	k8sIssuer = "https://kubernetes.default.svc.cluster.local"
	ghIssuer  = "https://token.actions.githubusercontent.example"
)

func startJWT(t *testing.T) *jwtEnv {
	t.Helper()
	e := &jwtEnv{vaultEnv: startVault(t), k8sKey: jwttest.RSA(t, "k8s-1", 0), ghKey: jwttest.EC(t, "gh-1")}
	ctx := context.Background()
	for _, st := range []string{"app", "other"} {
		if err := e.c.Sys().Mount(st, &vaultapi.MountInput{Type: "kv-v2"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.KVv2(st).Put(ctx, "db", map[string]any{"password": "pw-" + st}); err != nil {
			t.Fatal(err)
		}
	}
	n := e.nat(t)
	reveal := servertest.Scopes("app:*:read,reveal")
	n.Must(201, "POST", "/v1/jwt/configs", map[string]any{"name": "kubernetes", "issuer": k8sIssuer, "keys": jwttest.JWKS(e.k8sKey)})
	n.Must(201, "POST", "/v1/jwt/configs/kubernetes/roles", map[string]any{"name": "app", "kind": "kubernetes",
		"bound_audiences": []string{"vault"}, "bound_service_account_names": []string{"app"},
		"bound_service_account_namespaces": []string{"prod"}, "scopes": reveal, "token_ttl": 600})
	for _, mount := range []string{"jwt", "github"} {
		n.Must(201, "POST", "/v1/jwt/configs", map[string]any{"name": mount, "issuer": ghIssuer, "keys": jwttest.JWKS(e.ghKey), "max_age": 600})
		n.Must(201, "POST", "/v1/jwt/configs/"+mount+"/roles", map[string]any{"name": "deploy",
			"bound_audiences": []string{"https://github.com/acme"}, "bound_claims_type": "glob",
			"bound_claims": map[string][]string{"repository": {"acme/app"}, "ref": {"refs/heads/main"}, "environment": {"prod*"}},
			"scopes":       reveal})
	}
	return e
}

func (e *jwtEnv) k8sToken(t *testing.T, ns, sa string) string {
	now := time.Now().Unix()
	return e.k8sKey.Sign(t, map[string]any{"iss": k8sIssuer, "aud": []string{"vault"}, "sub": "system:serviceaccount:" + ns + ":" + sa,
		"iat": now, "nbf": now, "exp": now + 3600, "kubernetes.io": map[string]any{"namespace": ns,
			"serviceaccount": map[string]any{"name": sa, "uid": "8d1a"}, "pod": map[string]any{"name": sa + "-0", "uid": "77c2"}}})
}

func (e *jwtEnv) ghToken(t *testing.T, repo string) string {
	now := time.Now().Unix()
	return e.ghKey.Sign(t, map[string]any{"iss": ghIssuer, "aud": "https://github.com/acme", "sub": "repo:" + repo + ":environment:prod",
		"repository": repo, "ref": "refs/heads/main", "environment": "prod", "iat": now, "nbf": now, "exp": now + 300, "jti": servertest.RandHex(8)})
}

// reaches reports whether token reads app's and other's secret through the
// Vault face.
func (e *jwtEnv) reaches(t *testing.T, token string) (app, other bool) {
	t.Helper()
	c := vaultClient(t, e.base+"/vault", token)
	_, errApp := c.KVv2("app").Get(context.Background(), "db")
	_, errOther := c.KVv2("other").Get(context.Background(), "db")
	return errApp == nil, errOther == nil
}

func TestVaultJWTLogin(t *testing.T) {
	e := startJWT(t)
	anon := vaultClient(t, e.base+"/vault", "")
	for name, tc := range map[string]struct{ path, token string }{
		"Kubernetes": {"auth/kubernetes/login", e.k8sToken(t, "prod", "app")},
		"JWT":        {"auth/jwt/login", e.ghToken(t, "acme/app")},
		"GitHub":     {"auth/github/login", e.ghToken(t, "acme/app")},
	} {
		t.Run(name, func(t *testing.T) {
			role := "deploy"
			if name == "Kubernetes" {
				role = "app"
			}
			s, err := anon.Logical().Write(tc.path, map[string]any{"role": role, "jwt": tc.token})
			if err != nil {
				t.Fatal(err)
			}
			if s.Auth == nil || !strings.HasPrefix(s.Auth.ClientToken, "cat_") || s.Auth.LeaseDuration <= 0 || s.Auth.Metadata["role"] != role {
				t.Fatalf("auth block: got %+v", s.Auth)
			}
			if app, other := e.reaches(t, s.Auth.ClientToken); !app || other {
				t.Fatalf("reaches app, other: got %v, %v; want true, false", app, other)
			}
		})
	}
	t.Run("Native", func(t *testing.T) {
		n := &servertest.Client{T: t, Base: e.base}
		for _, in := range []map[string]any{
			{"config": "kubernetes", "role": "app", "jwt": e.k8sToken(t, "prod", "app")},
			{"config": "github", "role": "deploy", "jwt": e.ghToken(t, "acme/app")},
		} {
			out := n.Must(200, "POST", "/v1/jwt/login", in).JSON(t)
			tok := servertest.Str(out["token"])
			as := &servertest.Client{T: t, Base: e.base, Token: tok}
			if r := as.Do("GET", servertest.SecretPath("app", "db")+"/value", nil); r.Status != 200 {
				t.Fatalf("app with the login's token: got %d %s", r.Status, r.Body)
			}
			if r := as.Do("GET", servertest.SecretPath("other", "db")+"/value", nil); r.Status != 403 && r.Status != 404 {
				t.Fatalf("other with the login's token: got %d, want refused", r.Status)
			}
		}
	})
}

func TestVaultJWTLoginRefused(t *testing.T) {
	e := startJWT(t)
	anon := vaultClient(t, e.base+"/vault", "")
	// First: the refusals below spend the loopback address's failure budget.
	t.Run("InputRaw", func(t *testing.T) {
		c := &servertest.Client{T: t, Base: e.base}
		for _, tc := range []struct {
			method, path string
			body         any
			want         int
		}{
			{"POST", "/vault/v1/auth/kubernetes/login", "{not json", 400},
			{"POST", "/vault/v1/auth/kubernetes/login", `{"role":"app","jwt":"x","extra":1}`, 400},
			{"POST", "/vault/v1/auth/kubernetes/login", `{"role":1,"jwt":"x"}`, 400},
			{"GET", "/vault/v1/auth/kubernetes/login", nil, 405},
			{"POST", "/vault/v1/auth/token/login", `{"role":"app","jwt":"x"}`, 403}, // unauthenticated: Vault's answer
			{"POST", "/v1/jwt/login", `{"config":"kubernetes","role":"app"}`, 400},
			{"POST", "/v1/jwt/login", `{"config":"kubernetes","role":"app","jwt":"x","extra":1}`, 400},
			{"POST", "/v1/jwt/login", "{not json", 400},
			{"POST", "/v1/jwt/login", `{"config":"kubernetes","role":"app","jwt":"a.b.c"}`, 401},
			{"POST", "/v1/jwt/login?x=%zz", `{}`, 400},
			{"GET", "/v1/jwt/configs", nil, 401},
		} {
			if r := c.Do(tc.method, tc.path, tc.body); r.Status != tc.want {
				t.Errorf("%s %s %v: got %d %s, want %d", tc.method, tc.path, tc.body, r.Status, r.Body, tc.want)
			}
		}
	})
	for name, tc := range map[string]struct {
		path  string
		body  map[string]any
		token func(e *jwtEnv) string
	}{
		"WrongNamespace": {"auth/kubernetes/login", map[string]any{"role": "app"}, func(e *jwtEnv) string { return e.k8sToken(t, "dev", "app") }},
		"WrongRepo":      {"auth/jwt/login", map[string]any{"role": "deploy"}, func(e *jwtEnv) string { return e.ghToken(t, "acme/evil") }},
		"WrongIssuer":    {"auth/kubernetes/login", map[string]any{"role": "app"}, func(e *jwtEnv) string { return e.ghToken(t, "acme/app") }},
		"UnknownRole":    {"auth/jwt/login", map[string]any{"role": "nope"}, func(e *jwtEnv) string { return e.ghToken(t, "acme/app") }},
		"UnknownMount":   {"auth/gitlab/login", map[string]any{"role": "deploy"}, func(e *jwtEnv) string { return e.ghToken(t, "acme/app") }},
		"AlgNone":        {"auth/jwt/login", map[string]any{"role": "deploy"}, func(*jwtEnv) string { return jwttest.Unsigned(map[string]any{"iss": ghIssuer}) }},
		"Garbage":        {"auth/jwt/login", map[string]any{"role": "deploy"}, func(*jwtEnv) string { return "abc" }},
	} {
		t.Run(name, func(t *testing.T) {
			e := startJWT(t) // a fresh failure budget for the loopback address
			body := map[string]any{"role": tc.body["role"], "jwt": tc.token(e)}
			_, err := vaultClient(t, e.base+"/vault", "").Logical().Write(tc.path, body)
			mustStatus(t, err, 400, "error validating token")
		})
	}
	for name, tc := range map[string]struct {
		body       map[string]any
		want       int
		msg, extra string
	}{
		"NoRole": {map[string]any{"jwt": "x"}, 400, "missing role", ""},
		"NoJWT":  {map[string]any{"role": "app"}, 400, "missing jwt", ""},
	} {
		t.Run("Input"+name, func(t *testing.T) {
			_, err := anon.Logical().Write("auth/kubernetes/login", tc.body)
			mustStatus(t, err, tc.want, tc.msg)
		})
	}
	t.Run("RoleDeleted", func(t *testing.T) {
		s, err := anon.Logical().Write("auth/kubernetes/login", map[string]any{"role": "app", "jwt": e.k8sToken(t, "prod", "app")})
		if err != nil {
			t.Fatal(err)
		}
		e.nat(t).Must(http.StatusNoContent, "DELETE", "/v1/jwt/configs/kubernetes/roles/app", nil)
		if app, _ := e.reaches(t, s.Auth.ClientToken); app {
			t.Fatal("the token of a deleted role still reads")
		}
	})
}

// TestVaultKubernetesAuthHelper logs in with the Vault client's own
// kubernetes auth helper, reading the token from a file as in a pod.
func TestVaultKubernetesAuthHelper(t *testing.T) {
	e := startJWT(t)
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(e.k8sToken(t, "prod", "app")), 0o600); err != nil {
		t.Fatal(err)
	}
	login, err := k8sauth.NewKubernetesAuth("app", k8sauth.WithServiceAccountTokenPath(path))
	if err != nil {
		t.Fatal(err)
	}
	c := vaultClient(t, e.base+"/vault", "")
	s, err := c.Auth().Login(context.Background(), login)
	if err != nil {
		t.Fatal(err)
	}
	if c.Token() != s.Auth.ClientToken || !strings.HasPrefix(c.Token(), "cat_") {
		t.Fatalf("the helper did not take the login's token: %q", s.Auth.ClientToken)
	}
	if app, other := e.reaches(t, c.Token()); !app || other {
		t.Fatalf("reaches app, other: got %v, %v; want true, false", app, other)
	}
	bad, _ := k8sauth.NewKubernetesAuth("app", k8sauth.WithServiceAccountToken(e.k8sToken(t, "dev", "app")))
	if _, err := vaultClient(t, e.base+"/vault", "").Auth().Login(context.Background(), bad); status(err) != 400 {
		t.Fatalf("another namespace's token: got %v, want 400", err)
	}
}
