package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// The workload identities populate adds (issue 20), which checkRolesLoaded
// logs in with after a Load.
const (
	dumpRoleName   = "ci"
	dumpSecretHash = "secret-id-hash"
	dumpJWTMount   = "k8s-dump"
	dumpJWTRole    = "deploy"
)

// populateRoles adds to account a, for principal p, an AppRole role with a
// secret id of limited uses and one that expires, and a JWT config with a
// role: a dump must carry them after the keys and principals they name.
func (e *env) populateRoles(a *coffer.Account, p *coffer.Principal) {
	e.t.Helper()
	role := e.appRole(a, p, dumpRoleName)
	e.appRoleSecret(role, dumpSecretHash, 3)
	exp := e.now().Add(time.Hour)
	sec := &coffer.AppRoleSecret{Accessor: coffer.NewID(), AccountID: a.ID, RoleID: role.RoleID,
		Hash: []byte("another-hash"), CreatedAt: e.now(), ExpiresAt: &exp}
	noErr(e.t, "CreateAppRoleSecret", e.s.CreateAppRoleSecret(e.ctx, sec, e.ev("approle.secret-id.create")))
	e.jwtRole(e.jwtConfig(a, dumpJWTMount), p, dumpJWTRole)
}

// checkRolesLoaded checks, at the storage level, that the roles populate
// added work after a Load: the AppRole role is found by its role id, its
// secret id by its hash and can be used, the JWT config by its mount and
// its role by name, and both roles' keys are the loaded, unrevoked keys of
// their principal.
func checkRolesLoaded(t *testing.T, e *env) {
	t.Helper()
	var want *coffer.AppRole
	for _, rec := range Dump(t, e.s) {
		if rec.AppRole != nil && rec.AppRole.Name == dumpRoleName {
			want = rec.AppRole
		}
	}
	if want == nil {
		t.Fatalf("dump after Load: no AppRole role %q", dumpRoleName)
	}
	role, err := e.s.AppRoleByID(e.ctx, want.RoleID)
	noErr(t, "AppRoleByID after Load", err)
	checkRoleKey(t, e, "AppRole", role.KeyID, role.PrincipalID)
	sec, err := e.s.AppRoleSecret(e.ctx, role.RoleID, []byte(dumpSecretHash))
	noErr(t, "AppRoleSecret after Load", err)
	if sec.UsesLeft != 3 || sec.Metadata["env"] != "ci" || len(sec.BoundCIDRs) != 1 {
		t.Fatalf("AppRoleSecret after Load: got %+v", sec)
	}
	noErr(t, "UseAppRoleSecret after Load", e.s.UseAppRoleSecret(e.ctx, role.RoleID, sec.Accessor, e.ev("approle.login")))

	cfgs, err := e.s.JWTConfigsNamed(e.ctx, dumpJWTMount)
	noErr(t, "JWTConfigsNamed after Load", err)
	if len(cfgs) != 1 || cfgs[0].AccountID != role.AccountID || !cfgs[0].SingleUse || cfgs[0].MaxAge != time.Minute {
		t.Fatalf("JWTConfigsNamed after Load: got %+v", cfgs)
	}
	jr, err := e.s.JWTRole(e.ctx, cfgs[0].ID, dumpJWTRole)
	noErr(t, "JWTRole after Load", err)
	if jr.Kind != coffer.JWTKindKubernetes || len(jr.BoundClaims["repository"]) != 1 || jr.BoundClaimsType != "glob" {
		t.Fatalf("JWTRole after Load: got %+v", jr)
	}
	checkRoleKey(t, e, "JWT role", jr.KeyID, jr.PrincipalID)
}

// checkRoleKey checks that the key a role names exists, is its principal's
// and is not revoked: a login's token is an access token of it.
func checkRoleKey(t *testing.T, e *env, what, keyID, principalID string) {
	t.Helper()
	k, err := e.s.APIKey(e.ctx, keyID)
	noErr(t, what+" key after Load", err)
	if k.PrincipalID != principalID || k.RevokedAt != nil || !bytes.Equal(k.Hash, []byte("h")) {
		t.Fatalf("%s key after Load: got %+v", what, k)
	}
}
