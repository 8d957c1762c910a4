package storetest

import (
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// jwtConfig adds a trust configuration named name to a.
func (e *env) jwtConfig(a *coffer.Account, name string) *coffer.JWTConfig {
	e.t.Helper()
	c := &coffer.JWTConfig{ID: coffer.NewID(), AccountID: a.ID, Name: name, Issuer: "https://issuer.test",
		Keys: `{"keys":[]}`, MaxAge: time.Minute, SingleUse: true, CreatedAt: e.now(), UpdatedAt: e.now()}
	noErr(e.t, "CreateJWTConfig", e.s.CreateJWTConfig(e.ctx, c, e.ev("jwt.config.create")))
	return c
}

// jwtRole adds a role named name to c with a new key of principal p.
func (e *env) jwtRole(c *coffer.JWTConfig, p *coffer.Principal, name string) (*coffer.JWTRole, *coffer.APIKey) {
	e.t.Helper()
	r := &coffer.JWTRole{ID: coffer.NewID(), AccountID: c.AccountID, ConfigID: c.ID, Name: name, Kind: coffer.JWTKindKubernetes,
		PrincipalID: p.ID, Scopes: []coffer.Scope{{Store: "app", Actions: []coffer.Action{coffer.ActionRead}}},
		BoundAudiences: []string{"coffer"}, BoundClaims: map[string][]string{"repository": {"acme/*"}}, BoundClaimsType: "glob",
		BoundServiceAccountNames: []string{"sa"}, BoundServiceAccountNamespaces: []string{"prod"}, TokenTTL: time.Hour,
		CreatedAt: e.now(), UpdatedAt: e.now()}
	k := &coffer.APIKey{ID: coffer.NewID(), AccountID: c.AccountID, PrincipalID: p.ID, Name: "jwt:" + c.Name + "/" + name,
		Scopes: r.Scopes, Hash: []byte("h"), CreatedAt: e.now()}
	noErr(e.t, "CreateJWTRole", e.s.CreateJWTRole(e.ctx, r, k, e.ev("jwt.role.create")))
	return r, k
}

func (r *runner) jwtRoles() {
	r.run("JWT/OK", func(t *testing.T, e *env) {
		a := e.account()
		c := e.jwtConfig(a, "github")
		got, err := e.s.JWTConfig(e.ctx, a.ID, "github")
		noErr(t, "JWTConfig", err)
		if got.ID != c.ID || got.Issuer != c.Issuer || got.Keys != c.Keys || got.MaxAge != time.Minute || !got.SingleUse ||
			!got.UpdatedAt.Equal(c.UpdatedAt) {
			t.Fatalf("JWTConfig: got %+v, want %+v", got, c)
		}
		b := e.account()
		// A config's name is a server-wide mount path: another account
		// cannot take one in use.
		wantCode(t, "CreateJWTConfig of a name another account holds", e.s.CreateJWTConfig(e.ctx, &coffer.JWTConfig{ID: coffer.NewID(), AccountID: b.ID,
			Name: "github", Issuer: "x", CreatedAt: e.now(), UpdatedAt: e.now()}, e.ev("jwt.config.create")), coffer.ECONFLICT)
		e.jwtConfig(b, "gitlab")
		e.jwtConfig(a, "kubernetes")
		named, err := e.s.JWTConfigsNamed(e.ctx, "github")
		noErr(t, "JWTConfigsNamed", err)
		all, err := e.s.JWTConfigs(e.ctx, "")
		noErr(t, "JWTConfigs all", err)
		mine, err := e.s.JWTConfigs(e.ctx, a.ID)
		noErr(t, "JWTConfigs", err)
		if len(named) != 1 || len(all) != 3 || len(mine) != 2 || mine[0].Name != "github" || mine[1].Name != "kubernetes" {
			t.Fatalf("lists: got %d named, %d in all, %d of a; want 1, 3, 2", len(named), len(all), len(mine))
		}
		p := e.principal(a, "svc")
		role, k := e.jwtRole(c, p, "deploy")
		gr, err := e.s.JWTRole(e.ctx, c.ID, "deploy")
		noErr(t, "JWTRole", err)
		if gr.ID != role.ID || gr.KeyID != k.ID || gr.Kind != coffer.JWTKindKubernetes || gr.BoundClaims["repository"][0] != "acme/*" ||
			gr.BoundClaimsType != "glob" || len(gr.BoundServiceAccountNamespaces) != 1 || gr.TokenTTL != time.Hour || len(gr.Scopes) != 1 {
			t.Fatalf("JWTRole: got %+v, want %+v", gr, role)
		}
		wantCode(t, "CreateJWTConfig taken", e.s.CreateJWTConfig(e.ctx, &coffer.JWTConfig{ID: coffer.NewID(), AccountID: a.ID,
			Name: "github", Issuer: "x", CreatedAt: e.now(), UpdatedAt: e.now()}, e.ev("jwt.config.create")), coffer.ECONFLICT)
		dup := *role
		dup.ID = coffer.NewID()
		wantCode(t, "CreateJWTRole taken", e.s.CreateJWTRole(e.ctx, &dup, &coffer.APIKey{ID: coffer.NewID(), AccountID: a.ID,
			PrincipalID: p.ID, Scopes: []coffer.Scope{}, CreatedAt: e.now()}, e.ev("jwt.role.create")), coffer.ECONFLICT)
		_, err = e.s.JWTRole(e.ctx, c.ID, "nope")
		wantCode(t, "JWTRole missing", err, coffer.ENOTFOUND)
		_, err = e.s.JWTConfig(e.ctx, b.ID, "kubernetes")
		wantCode(t, "JWTConfig of another account", err, coffer.ENOTFOUND)
	})
	r.run("JWT/Update", func(t *testing.T, e *env) {
		a := e.account()
		c := e.jwtConfig(a, "github")
		c.Issuer, c.Keys, c.JWKSURL, c.UpdatedAt = "https://other.test", "", "https://other.test/keys", e.now()
		noErr(t, "UpdateJWTConfig", e.s.UpdateJWTConfig(e.ctx, c, e.ev("jwt.config.update")))
		got, err := e.s.JWTConfig(e.ctx, a.ID, "github")
		noErr(t, "JWTConfig", err)
		if got.Issuer != c.Issuer || got.Keys != "" || got.JWKSURL != c.JWKSURL || !got.UpdatedAt.Equal(c.UpdatedAt) {
			t.Fatalf("after update: got %+v", got)
		}
		p := e.principal(a, "svc")
		role, old := e.jwtRole(c, p, "deploy")
		role.BoundSubject, role.UpdatedAt = "repo:x", e.now()
		nk := &coffer.APIKey{ID: coffer.NewID(), AccountID: a.ID, PrincipalID: p.ID, Scopes: []coffer.Scope{}, Hash: []byte("h2"), CreatedAt: e.now()}
		noErr(t, "UpdateJWTRole", e.s.UpdateJWTRole(e.ctx, role, nk, e.ev("jwt.role.update")))
		gr, err := e.s.JWTRole(e.ctx, c.ID, "deploy")
		noErr(t, "JWTRole", err)
		ok, err := e.s.APIKey(e.ctx, old.ID)
		noErr(t, "APIKey", err)
		if gr.KeyID != nk.ID || gr.BoundSubject != "repo:x" || ok.RevokedAt == nil {
			t.Fatalf("after key change: key %s (want %s), subject %q, old revoked %v", gr.KeyID, nk.ID, gr.BoundSubject, ok.RevokedAt)
		}
		other := e.account()
		role.AccountID = other.ID
		wantCode(t, "UpdateJWTRole other account", e.s.UpdateJWTRole(e.ctx, role, nil, e.ev("jwt.role.update")), coffer.ENOTFOUND)
	})
	r.run("JWT/Delete", func(t *testing.T, e *env) {
		a := e.account()
		c := e.jwtConfig(a, "github")
		p := e.principal(a, "svc")
		r1, k1 := e.jwtRole(c, p, "one")
		_, k2 := e.jwtRole(c, p, "two")
		b := e.account()
		wantCode(t, "DeleteJWTRole other account", e.s.DeleteJWTRole(e.ctx, b.ID, r1.ID, e.now(), e.ev("jwt.role.delete")), coffer.ENOTFOUND)
		noErr(t, "DeleteJWTRole", e.s.DeleteJWTRole(e.ctx, a.ID, r1.ID, e.now(), e.ev("jwt.role.delete")))
		_, err := e.s.JWTRole(e.ctx, c.ID, "one")
		wantCode(t, "JWTRole deleted", err, coffer.ENOTFOUND)
		wantCode(t, "DeleteJWTConfig other account", e.s.DeleteJWTConfig(e.ctx, b.ID, c.ID, e.now(), e.ev("jwt.config.delete")), coffer.ENOTFOUND)
		noErr(t, "DeleteJWTConfig", e.s.DeleteJWTConfig(e.ctx, a.ID, c.ID, e.now(), e.ev("jwt.config.delete")))
		for _, k := range []*coffer.APIKey{k1, k2} {
			got, err := e.s.APIKey(e.ctx, k.ID)
			noErr(t, "APIKey", err)
			if got.RevokedAt == nil {
				t.Fatalf("key %s of a deleted role not revoked", k.Name)
			}
		}
		roles, err := e.s.JWTRoles(e.ctx, c.ID)
		noErr(t, "JWTRoles", err)
		_, err = e.s.JWTConfig(e.ctx, a.ID, "github")
		wantCode(t, "JWTConfig deleted", err, coffer.ENOTFOUND)
		if len(roles) != 0 {
			t.Fatalf("roles of a deleted config: got %d", len(roles))
		}
		e.jwtConfig(a, "github") // the name is free again
	})
}
