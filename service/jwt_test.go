package service_test

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/jwttest"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// jwtEnv is a service with stores "app" and "other", one secret "k" each.
type jwtEnv struct {
	t    *testing.T
	svc  *service.Service
	root context.Context
	clk  *svctest.Clock
}

func newJWTEnv(t *testing.T, opts service.Options) *jwtEnv {
	t.Helper()
	clk := svctest.NewClock(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	opts.Now = clk.Now
	env := svctest.Open(t, withFaces(opts))
	for _, st := range []string{"app", "other"} {
		if _, err := env.Svc.CreateStore(env.Root, &coffer.StoreCreate{Name: st}); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Svc.PutSecret(env.Root, st, &coffer.SecretPut{Name: "k", Value: []byte("v-" + st)}); err != nil {
			t.Fatal(err)
		}
	}
	return &jwtEnv{t: t, svc: env.Svc, root: env.Root, clk: clk}
}

var revealApp = []coffer.Scope{{Store: "app", Actions: []coffer.Action{coffer.ActionReveal}}}

func (e *jwtEnv) config(c *coffer.JWTConfig) *coffer.JWTConfig {
	e.t.Helper()
	c, err := e.svc.CreateJWTConfig(e.root, c)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *jwtEnv) role(config string, r *coffer.JWTRole) *coffer.JWTRole {
	e.t.Helper()
	if r.Scopes == nil {
		r.Scopes = revealApp
	}
	r, err := e.svc.CreateJWTRole(e.root, config, r)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// reveals reports which of the stores app and other the token reads.
func (e *jwtEnv) reveals(tok string) (app, other bool) {
	e.t.Helper()
	c, err := e.svc.Authenticate(context.Background(), coffer.Credential{Token: tok, RemoteIP: "192.0.2.7"})
	if err != nil {
		return false, false
	}
	ctx := coffer.NewContext(context.Background(), c)
	_, errApp := e.svc.Reveal(ctx, "app", "k", 0)
	_, errOther := e.svc.Reveal(ctx, "other", "k", 0)
	return errApp == nil, errOther == nil
}

const ghIssuer = "https://token.actions.example.test"

// ghClaims are the claims of a GitHub-Actions-shaped token.
func (e *jwtEnv) ghClaims() map[string]any {
	now := e.clk.Now().Unix()
	return map[string]any{"iss": ghIssuer, "aud": "coffer", "sub": "repo:acme/app:environment:prod",
		"repository": "acme/app", "ref": "refs/heads/main", "environment": "prod",
		"iat": now, "nbf": now, "exp": now + 300, "jti": "run-1"}
}

// k8sClaims are the claims of a projected service-account token.
func (e *jwtEnv) k8sClaims(ns, sa string) map[string]any {
	now := e.clk.Now().Unix()
	return map[string]any{"iss": "https://kubernetes.default.svc", "aud": []string{"coffer"},
		"sub": "system:serviceaccount:" + ns + ":" + sa, "iat": now, "nbf": now, "exp": now + 3600,
		"kubernetes.io": map[string]any{"namespace": ns, "serviceaccount": map[string]any{"name": sa, "uid": "u-1"},
			"pod": map[string]any{"name": "p", "uid": "u-2"}}}
}

func (e *jwtEnv) github(key jwttest.Key) {
	e.t.Helper()
	e.config(&coffer.JWTConfig{Name: "github", Issuer: ghIssuer, Keys: jwttest.JWKS(key)})
	e.role("github", &coffer.JWTRole{Name: "deploy", BoundAudiences: []string{"coffer"},
		BoundClaims: map[string][]string{"repository": {"acme/app"}, "ref": {"refs/heads/*"}}, BoundClaimsType: "glob"})
}

func TestJWTLoginGitHub(t *testing.T) {
	for _, key := range []jwttest.Key{jwttest.RSA(t, "r1", 0), jwttest.EC(t, "e1"), jwttest.Ed25519(t, "d1")} {
		t.Run(key.Alg, func(t *testing.T) {
			e := newJWTEnv(t, service.Options{})
			e.github(key)
			tok, err := e.svc.JWTLogin(context.Background(), "github", "deploy", key.Sign(t, e.ghClaims()), "192.0.2.7")
			if err != nil {
				t.Fatal(err)
			}
			ev := lastEvent(t, e.svc, e.root)
			if ev.Action != "jwt.login" || ev.Outcome != "ok" || !strings.Contains(ev.Reason, "sub repo:acme/app:environment:prod") {
				t.Errorf("event: got %s %s %q", ev.Action, ev.Outcome, ev.Reason)
			}
			if app, other := e.reveals(tok.Token); !app || other {
				t.Fatalf("reveals app, other: got %v, %v; want true, false", app, other)
			}
			if want := e.clk.Now().Add(300 * time.Second); !tok.ExpiresAt.Equal(want) {
				t.Errorf("expires: got %v, want the JWT's exp %v", tok.ExpiresAt, want)
			}
		})
	}
}

func TestJWTLoginKubernetes(t *testing.T) {
	e := newJWTEnv(t, service.Options{})
	key := jwttest.RSA(t, "k1", 0)
	e.config(&coffer.JWTConfig{Name: "kubernetes", Issuer: "https://kubernetes.default.svc", Keys: jwttest.JWKS(key)})
	e.role("kubernetes", &coffer.JWTRole{Name: "app", Kind: coffer.JWTKindKubernetes, BoundAudiences: []string{"coffer"},
		BoundServiceAccountNames: []string{"app-sa"}, BoundServiceAccountNamespaces: []string{"prod", "stage-*"}})
	for name, tc := range map[string]struct {
		ns, sa string
		ok     bool
	}{"OK": {"prod", "app-sa", true}, "Glob": {"stage-1", "app-sa", true},
		"ErrNamespace": {"dev", "app-sa", false}, "ErrName": {"prod", "other", false}} {
		t.Run(name, func(t *testing.T) {
			tok, err := e.svc.JWTLogin(context.Background(), "kubernetes", "app", key.Sign(t, e.k8sClaims(tc.ns, tc.sa)), "192.0.2.8")
			if !tc.ok {
				if coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
					t.Fatalf("got %v, want EUNAUTHORIZED", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if app, other := e.reveals(tok.Token); !app || other {
				t.Fatalf("reveals app, other: got %v, %v; want true, false", app, other)
			}
		})
	}
}

func TestJWTLoginRefusals(t *testing.T) {
	key := jwttest.EC(t, "e1")
	setup := func(t *testing.T) *jwtEnv {
		e := newJWTEnv(t, service.Options{})
		e.github(key)
		e.config(&coffer.JWTConfig{Name: "aged", Issuer: ghIssuer, Keys: jwttest.JWKS(key), MaxAge: time.Minute})
		e.role("aged", &coffer.JWTRole{Name: "deploy", BoundAudiences: []string{"coffer"}})
		return e
	}
	e := setup(t) // its clock and claims: every env starts at the same time
	with := func(k string, v any) map[string]any {
		c := e.ghClaims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	now := e.clk.Now().Unix()
	pub, _ := x509.MarshalPKIXPublicKey(key.Priv.Public())
	good := key.Sign(t, e.ghClaims())
	for name, tc := range map[string]struct {
		mount, role, token, reason string
	}{
		"AlgNone":       {"github", "deploy", jwttest.Unsigned(e.ghClaims()), "algorithm not allowed"},
		"HS256":         {"github", "deploy", jwttest.HMAC(pub, "e1", e.ghClaims()), "algorithm not allowed"},
		"OtherKey":      {"github", "deploy", jwttest.EC(t, "e1").Sign(t, e.ghClaims()), "bad signature"},
		"UnknownKid":    {"github", "deploy", jwttest.EC(t, "zz").Sign(t, e.ghClaims()), "no key"},
		"Tampered":      {"github", "deploy", good[:len(good)-4] + "AAAA", "signature"},
		"Expired":       {"github", "deploy", key.Sign(t, with("exp", now-120)), "expired"},
		"NotYetValid":   {"github", "deploy", key.Sign(t, with("nbf", now+600)), "not yet valid"},
		"NoExp":         {"github", "deploy", key.Sign(t, with("exp", nil)), "registered claim"},
		"WrongAudience": {"github", "deploy", key.Sign(t, with("aud", "other")), "audience"},
		"WrongIssuer":   {"github", "deploy", key.Sign(t, with("iss", "https://evil.test")), "no trust configuration"},
		"Bindings":      {"github", "deploy", key.Sign(t, with("repository", "acme/evil")), "repository"},
		"RefBinding":    {"github", "deploy", key.Sign(t, with("ref", "refs/tags/v1")), "ref"},
		"TooOld":        {"aged", "deploy", key.Sign(t, with("iat", now-3600)), "too old"},
		"UnknownRole":   {"github", "nope", good, "no role"},
		"UnknownMount":  {"gitlab", "deploy", good, "no trust configuration"},
		"Malformed":     {"github", "deploy", "not.a-token", "malformed"},
		"BadMount":      {"a/b", "deploy", good, "malformed mount"},
	} {
		t.Run(name, func(t *testing.T) {
			e := setup(t) // a fresh failure budget
			_, err := e.svc.JWTLogin(context.Background(), tc.mount, tc.role, tc.token, "198.51.100.1")
			if coffer.ErrorCode(err) != coffer.EUNAUTHORIZED || coffer.ErrorMessage(err) != "error validating token" {
				t.Fatalf("got %v, want EUNAUTHORIZED error validating token", err)
			}
			ev := lastFailure(t, e)
			if ev.Action != "jwt.login" || ev.Outcome != coffer.EUNAUTHORIZED || !strings.Contains(ev.Reason, tc.reason) {
				t.Errorf("event: got %s %s %q, want reason with %q", ev.Action, ev.Outcome, ev.Reason, tc.reason)
			}
			if strings.Contains(ev.Reason, tc.token) || strings.Contains(ev.Reason, strings.Split(tc.token+".", ".")[1]) && len(tc.token) > 20 {
				t.Errorf("event reason holds the token: %q", ev.Reason)
			}
		})
	}
	// The good token still logs in: refusals spent no budget of it.
	if _, err := e.svc.JWTLogin(context.Background(), "github", "deploy", good, "192.0.2.9"); err != nil {
		t.Fatal(err)
	}
}

// lastFailure returns the newest jwt.login event of the account or the
// operator's (the same here).
func lastFailure(t *testing.T, e *jwtEnv) *coffer.AuditEvent {
	t.Helper()
	return lastEvent(t, e.svc, e.root)
}

func TestJWTLoginRateLimited(t *testing.T) {
	e := newJWTEnv(t, service.Options{})
	key := jwttest.EC(t, "e1")
	e.github(key)
	bad := jwttest.Unsigned(e.ghClaims())
	var err error
	for i := 0; i < 50 && coffer.ErrorCode(err) != coffer.ERATELIMIT; i++ {
		_, err = e.svc.JWTLogin(context.Background(), "github", "deploy", bad, "198.51.100.1")
	}
	if coffer.ErrorCode(err) != coffer.ERATELIMIT {
		t.Fatalf("got %v after 50 failures, want ERATELIMIT", err)
	}
}

func TestJWTLoginSingleUse(t *testing.T) {
	e := newJWTEnv(t, service.Options{})
	key := jwttest.EC(t, "e1")
	e.config(&coffer.JWTConfig{Name: "github", Issuer: ghIssuer, Keys: jwttest.JWKS(key), SingleUse: true})
	e.role("github", &coffer.JWTRole{Name: "deploy", BoundAudiences: []string{"coffer"}})
	for _, tok := range []string{key.Sign(t, e.ghClaims()), key.Sign(t, func() map[string]any {
		c := e.ghClaims()
		delete(c, "jti") // the token's digest stands in
		return c
	}())} {
		if _, err := e.svc.JWTLogin(context.Background(), "github", "deploy", tok, "192.0.2.7"); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.JWTLogin(context.Background(), "github", "deploy", tok, "192.0.2.7")
		if coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("replay: got %v, want EUNAUTHORIZED", err)
		}
		if ev := lastEvent(t, e.svc, e.root); !strings.Contains(ev.Reason, "replayed") {
			t.Errorf("event reason: got %q", ev.Reason)
		}
	}
}

func TestJWTRoleChangesEndTokens(t *testing.T) {
	e := newJWTEnv(t, service.Options{})
	key := jwttest.EC(t, "e1")
	e.github(key)
	login := func() string {
		t.Helper()
		tok, err := e.svc.JWTLogin(context.Background(), "github", "deploy", key.Sign(t, e.ghClaims()), "192.0.2.7")
		if err != nil {
			t.Fatal(err)
		}
		return tok.Token
	}
	t.Run("Scopes", func(t *testing.T) {
		old := login()
		wide := append([]coffer.Scope{{Store: "other", Actions: []coffer.Action{coffer.ActionReveal}}}, revealApp...)
		if _, err := e.svc.UpdateJWTRole(e.root, "github", "deploy", &coffer.JWTRoleUpdate{Scopes: wide}); err != nil {
			t.Fatal(err)
		}
		if app, other := e.reveals(old); app || other {
			t.Fatalf("old token after a scope change: got %v, %v; want refused", app, other)
		}
		if app, other := e.reveals(login()); !app || !other {
			t.Fatalf("new token: got %v, %v; want both", app, other)
		}
		if _, err := e.svc.UpdateJWTRole(e.root, "github", "deploy", &coffer.JWTRoleUpdate{Scopes: revealApp}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("DeleteRole", func(t *testing.T) {
		tok := login()
		if err := e.svc.DeleteJWTRole(e.root, "github", "deploy"); err != nil {
			t.Fatal(err)
		}
		if app, _ := e.reveals(tok); app {
			t.Fatal("token of a deleted role still reads")
		}
	})
	t.Run("DeleteConfig", func(t *testing.T) {
		e.role("github", &coffer.JWTRole{Name: "deploy", BoundAudiences: []string{"coffer"}})
		tok := login()
		if err := e.svc.DeleteJWTConfig(e.root, "github"); err != nil {
			t.Fatal(err)
		}
		if app, _ := e.reveals(tok); app {
			t.Fatal("token of a deleted config still reads")
		}
		if _, err := e.svc.JWTLogin(context.Background(), "github", "deploy", key.Sign(t, e.ghClaims()), "192.0.2.7"); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Fatalf("login after delete: got %v", err)
		}
	})
}

func TestJWTValidation(t *testing.T) {
	e := newJWTEnv(t, service.Options{})
	key := jwttest.EC(t, "e1")
	e.config(&coffer.JWTConfig{Name: "github", Issuer: ghIssuer, Keys: jwttest.JWKS(key)})
	for name, c := range map[string]*coffer.JWTConfig{
		"NoIssuer":    {Name: "a", Keys: jwttest.JWKS(key)},
		"NoKeys":      {Name: "a", Issuer: ghIssuer},
		"TwoSources":  {Name: "a", Issuer: ghIssuer, Keys: jwttest.JWKS(key), JWKSURL: "https://x.test/keys"},
		"BadKeys":     {Name: "a", Issuer: ghIssuer, Keys: "{}"},
		"HTTPURL":     {Name: "a", Issuer: ghIssuer, JWKSURL: "http://x.test/keys"},
		"HTTPIssuer":  {Name: "a", Issuer: "http://x.test", Discovery: true},
		"Reserved":    {Name: "approle", Issuer: ghIssuer, Keys: jwttest.JWKS(key)},
		"BadName":     {Name: "a/b", Issuer: ghIssuer, Keys: jwttest.JWKS(key)},
		"NegativeAge": {Name: "a", Issuer: ghIssuer, Keys: jwttest.JWKS(key), MaxAge: -1},
		"ErrConflict": {Name: "github", Issuer: ghIssuer, Keys: jwttest.JWKS(key)},
	} {
		t.Run("Config"+name, func(t *testing.T) {
			want := coffer.EINVALID
			if name == "ErrConflict" {
				want = coffer.ECONFLICT
			}
			if _, err := e.svc.CreateJWTConfig(e.root, c); coffer.ErrorCode(err) != want {
				t.Fatalf("got %v, want %s", err, want)
			}
		})
	}
	k8s := func(names, spaces []string) *coffer.JWTRole {
		return &coffer.JWTRole{Name: "r", Kind: coffer.JWTKindKubernetes, BoundAudiences: []string{"a"},
			BoundServiceAccountNames: names, BoundServiceAccountNamespaces: spaces}
	}
	for name, r := range map[string]*coffer.JWTRole{
		"BoundToNothing": {Name: "r"},
		"K8sNoAudience":  {Name: "r", Kind: coffer.JWTKindKubernetes, BoundServiceAccountNames: []string{"a"}, BoundServiceAccountNamespaces: []string{"b"}},
		"K8sBothStar":    k8s([]string{"*"}, []string{"*"}),
		"K8sNoNames":     k8s(nil, []string{"b"}),
		"BadKind":        {Name: "r", Kind: "tls", BoundSubject: "x"},
		"LongTTL":        {Name: "r", BoundSubject: "x", TokenTTL: 25 * time.Hour},
		"BadClaimsType":  {Name: "r", BoundSubject: "x", BoundClaimsType: "regex"},
		"SAOnJWT":        {Name: "r", BoundSubject: "x", BoundServiceAccountNames: []string{"a"}},
	} {
		t.Run("Role"+name, func(t *testing.T) {
			if _, err := e.svc.CreateJWTRole(e.root, "github", r); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Fatalf("got %v, want EINVALID", err)
			}
		})
	}
	if _, err := e.svc.CreateJWTRole(e.root, "github", k8s([]string{"*"}, []string{"prod"})); err != nil {
		t.Fatalf("one star with a specific namespace: %v", err)
	}
	t.Run("NoFetch", func(t *testing.T) {
		e := newJWTEnv(t, service.Options{JWT: service.JWTOptions{NoFetch: true}})
		if _, err := e.svc.CreateJWTConfig(e.root, &coffer.JWTConfig{Name: "a", Issuer: ghIssuer, JWKSURL: "https://x.test/keys"}); coffer.ErrorCode(err) != coffer.EINVALID {
			t.Fatalf("got %v, want EINVALID", err)
		}
	})
}

func TestJWTLoginTwoAccounts(t *testing.T) {
	// A config's name is a server-wide mount path: a second account cannot
	// take one in use, so no tenant can make another's logins ambiguous
	// (or refused) by trusting the same issuer under the same name; under
	// its own name, its role bound to the same tokens logs in to its own
	// account only.
	e := newJWTEnv(t, service.Options{})
	key := jwttest.EC(t, "e1")
	e.github(key)
	acc, err := e.svc.CreateAccount(e.root, &coffer.AccountCreate{Name: "tenant"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.svc.Authenticate(context.Background(), coffer.Credential{Token: acc.Token, RemoteIP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	other := coffer.NewContext(context.Background(), c)
	if _, err := e.svc.CreateJWTConfig(other, &coffer.JWTConfig{Name: "github", Issuer: ghIssuer, Keys: jwttest.JWKS(key)}); coffer.ErrorCode(err) != coffer.ECONFLICT {
		t.Fatalf("a second account's config of a name in use: got %v, want ECONFLICT", err)
	}
	if _, err := e.svc.CreateJWTConfig(other, &coffer.JWTConfig{Name: "tenant-github", Issuer: ghIssuer, Keys: jwttest.JWKS(key)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateJWTRole(other, "tenant-github", &coffer.JWTRole{Name: "deploy", BoundAudiences: []string{"coffer"},
		BoundClaims: map[string][]string{"repository": {"acme/app"}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mount string
		mine  bool
	}{{"github", false}, {"tenant-github", true}} {
		tok, err := e.svc.JWTLogin(context.Background(), tc.mount, "deploy", key.Sign(t, e.ghClaims()), "192.0.2.7")
		if err != nil {
			t.Fatalf("login at %s: %v", tc.mount, err)
		}
		if (tok.Caller.AccountID == c.AccountID) != tc.mine {
			t.Fatalf("login at %s went to account %s; want the tenant's: %v", tc.mount, tok.Caller.AccountID, tc.mine)
		}
	}
}

func TestJWTKeyRotation(t *testing.T) {
	old, next := jwttest.RSA(t, "old", 0), jwttest.RSA(t, "new", 1)
	is := jwttest.NewIssuer(t, old)
	e := newJWTEnv(t, service.Options{JWT: service.JWTOptions{Client: is.Client(), Refresh: 20 * time.Millisecond, Poll: time.Hour}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.svc.RunJWTSources(ctx)
	e.config(&coffer.JWTConfig{Name: "oidc", Issuer: is.URL, Discovery: true})
	e.role("oidc", &coffer.JWTRole{Name: "r", BoundAudiences: []string{"coffer"}})
	claims := func() map[string]any {
		now := e.clk.Now().Unix()
		return map[string]any{"iss": is.URL, "aud": "coffer", "sub": "x", "iat": now, "exp": now + 60}
	}
	login := func(k jwttest.Key) error {
		_, err := e.svc.JWTLogin(context.Background(), "oidc", "r", k.Sign(t, claims()), "192.0.2.7")
		return err
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for i := 0; i < 200 && !ok(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if !ok() {
			t.Fatal(what)
		}
	}
	eventually("the old key never logged in", func() bool { return login(old) == nil })
	if err := login(next); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
		t.Fatalf("new key before rotation: got %v", err)
	}
	is.SetKeys(next)
	eventually("the new key never logged in", func() bool { return login(next) == nil })
	if err := login(old); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
		t.Fatalf("old key after rotation: got %v", err)
	}
}

func TestJWTTokenMintsNoKey(t *testing.T) {
	e := newJWTEnv(t, service.Options{})
	key := jwttest.EC(t, "e1")
	e.github(key)
	tok, err := e.svc.JWTLogin(context.Background(), "github", "deploy", key.Sign(t, e.ghClaims()), "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.svc.Authenticate(context.Background(), coffer.Credential{Token: tok.Token, RemoteIP: "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := coffer.NewContext(context.Background(), c)
	if _, _, err := e.svc.CreateAPIKey(ctx, &coffer.APIKeyCreate{Name: "escape", Scopes: revealApp}); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Fatalf("a JWT login's token minting a key: got %v, want EFORBIDDEN", err)
	}
	if _, _, err := e.svc.CreateAPIKey(e.root, &coffer.APIKeyCreate{Name: "jwt:github/deploy", Scopes: revealApp}); coffer.ErrorCode(err) != coffer.EINVALID {
		t.Fatalf("a key named as a JWT role's: got %v, want EINVALID", err)
	}
}
