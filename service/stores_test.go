package service_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/chutes"
	"github.com/coffer-dev/coffer/service"
)

// scoped returns a context acting with a new key of the root principal that
// has the given scopes.
func scoped(t *testing.T, svc *service.Service, ctx context.Context, scopes ...coffer.Scope) context.Context {
	t.Helper()
	_, token, err := svc.CreateAPIKey(ctx, &coffer.APIKeyCreate{Name: "scoped", Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.Authenticate(ctx, coffer.Credential{Token: token, RemoteIP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	c.Face = "test"
	return coffer.NewContext(context.Background(), c)
}

func TestUpdateStore(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s", Comment: "c", Attributes: map[string]string{"a": "1"}}); err != nil {
		t.Fatal(err)
	}
	st, err := svc.UpdateStore(ctx, "s", &coffer.StoreUpdate{Attributes: map[string]string{"a": "2", "b": "3"}})
	if err != nil || st.Comment != "c" || st.Attributes["a"] != "2" || st.Attributes["b"] != "3" {
		t.Fatalf("UpdateStore: got %+v, %v; want comment kept and attributes replaced", st, err)
	}
	if got, err := svc.Store(ctx, "s"); err != nil || got.Attributes["a"] != "2" {
		t.Fatalf("Store after update: got %+v, %v", got, err)
	}
	long := string(make([]byte, 5000))
	for name, in := range map[string]*coffer.StoreUpdate{
		"LongComment":  {Comment: &long},
		"BadAttribute": {Attributes: map[string]string{"": "x"}},
	} {
		if _, err := svc.UpdateStore(ctx, "s", in); coffer.ErrorCode(err) != coffer.EINVALID {
			t.Errorf("%s: got %v, want EINVALID", name, err)
		}
	}
	if _, err := svc.UpdateStore(ctx, "missing", &coffer.StoreUpdate{}); coffer.ErrorCode(err) != coffer.ENOTFOUND {
		t.Errorf("missing store: got %v, want ENOTFOUND", err)
	}
	// Only ActionAdmin on the store may change it.
	writer := scoped(t, svc, ctx, coffer.Scope{Store: "s", Actions: []coffer.Action{coffer.ActionList, coffer.ActionRead, coffer.ActionWrite, coffer.ActionDelete}})
	if _, err := svc.UpdateStore(writer, "s", &coffer.StoreUpdate{Attributes: map[string]string{"a": "x"}}); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Errorf("writer: got %v, want EFORBIDDEN", err)
	}
	admin := scoped(t, svc, ctx, coffer.Scope{Store: "s", Actions: []coffer.Action{coffer.ActionAdmin}})
	if _, err := svc.UpdateStore(admin, "s", &coffer.StoreUpdate{Attributes: map[string]string{"a": "y"}}); err != nil {
		t.Errorf("store admin: %v", err)
	}
}

func TestSecretByID(t *testing.T) {
	svc, ctx := mustOpenService(t)
	for _, s := range []string{"a", "b"} {
		if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: s}); err != nil {
			t.Fatal(err)
		}
	}
	inB, err := svc.PutSecret(ctx, "b", &coffer.SecretPut{Name: "db/pw", Value: []byte("v")})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := svc.SecretByID(ctx, inB.ID); err != nil || got.StoreID != inB.StoreID || got.Name != "db/pw" {
		t.Fatalf("SecretByID: got %+v, %v", got, err)
	}
	if _, err := svc.SecretByID(ctx, coffer.NewID()); coffer.ErrorCode(err) != coffer.ENOTFOUND {
		t.Errorf("missing id: got %v, want ENOTFOUND", err)
	}
	// A key scoped to store a may not read b's secret through its id.
	onlyA := scoped(t, svc, ctx, coffer.Scope{Store: "a", Actions: []coffer.Action{coffer.ActionList, coffer.ActionRead}})
	if _, err := svc.SecretByID(onlyA, inB.ID); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Errorf("key of store a: got %v, want EFORBIDDEN", err)
	}
	onlyB := scoped(t, svc, ctx, coffer.Scope{Store: "b", Secret: "db/*", Actions: []coffer.Action{coffer.ActionRead}})
	if got, err := svc.SecretByID(onlyB, inB.ID); err != nil || got.ID != inB.ID {
		t.Errorf("key of b's db/*: got %+v, %v", got, err)
	}
}

func TestKeysOfOwnPrincipal(t *testing.T) {
	svc, ctx := mustOpenService(t)
	read := coffer.Scope{Store: "s", Actions: []coffer.Action{coffer.ActionList, coffer.ActionRead}}
	list := coffer.Scope{Store: "s", Actions: []coffer.Action{coffer.ActionList}}
	wide := scoped(t, svc, ctx, read)
	narrow, narrowTok, err := svc.CreateAPIKey(wide, &coffer.APIKeyCreate{Name: "narrow", Scopes: []coffer.Scope{list}})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := svc.CreateAPIKey(ctx, &coffer.APIKeyCreate{Name: "other", Scopes: []coffer.Scope{{Store: "t", Actions: []coffer.Action{coffer.ActionList}}}})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := svc.APIKeys(wide)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, k := range keys {
		names[k.Name] = true
	}
	if !names["narrow"] || !names["scoped"] || names["other"] || names["root"] {
		t.Errorf("APIKeys of a scoped key: got %v, want itself and narrow only", names)
	}
	c, err := svc.Authenticate(ctx, coffer.Credential{Token: narrowTok, RemoteIP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	narrowCtx := coffer.NewContext(context.Background(), c)
	if err := svc.RevokeAPIKey(narrowCtx, other.ID); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Errorf("narrow key revokes an unrelated key: got %v, want EFORBIDDEN", err)
	}
	wideID := ""
	for _, k := range keys {
		if k.Name == "scoped" {
			wideID = k.ID
		}
	}
	if err := svc.RevokeAPIKey(narrowCtx, wideID); coffer.ErrorCode(err) != coffer.EFORBIDDEN {
		t.Errorf("narrow key revokes its wider parent: got %v, want EFORBIDDEN", err)
	}
	if err := svc.RevokeAPIKey(wide, narrow.ID); err != nil {
		t.Errorf("wide key revokes its narrower child: %v", err)
	}
	if _, err := svc.Authenticate(ctx, coffer.Credential{Token: narrowTok, RemoteIP: "127.0.0.1"}); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
		t.Errorf("revoked key authenticates: %v", err)
	}
	if err := svc.RevokeAPIKey(wide, coffer.NewID()[:16]); coffer.ErrorCode(err) != coffer.ENOTFOUND {
		t.Errorf("revoke of a missing key: got %v, want ENOTFOUND", err)
	}
}

func TestChutesKeyFormat(t *testing.T) {
	svc, ctx := mustOpenService(t)
	k, token, err := svc.CreateAPIKey(ctx, &coffer.APIKeyCreate{Name: "ci", Format: chutes.KeyFormatName, Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^cpk_[a-f0-9]{32}\.[a-f0-9]{32}\.[a-zA-Z0-9]{32}$`).MatchString(token) || len(token) != 102 {
		t.Fatalf("token %q: want Chutes' cpk_<key id>.<principal id>.<secret>, 102 characters", token)
	}
	if want := "cpk_" + k.ID + "." + k.PrincipalID + "."; !strings.HasPrefix(token, want) {
		t.Fatalf("token %q: want prefix %q", token, want)
	}
	c, err := svc.Authenticate(ctx, coffer.Credential{Token: token, RemoteIP: "127.0.0.1"})
	if err != nil || c.KeyID != k.ID || !c.Admin {
		t.Fatalf("Authenticate: got %+v, %v", c, err)
	}
	// Another principal's id in the token, or a changed secret, does not verify.
	other := strings.Repeat("0", 32)
	for name, bad := range map[string]string{
		"OtherPrincipal": token[:4+33] + other + token[4+33+32:],
		"ChangedSecret":  token[:len(token)-1] + map[bool]string{true: "A", false: "B"}[token[len(token)-1] != 'A'],
		"Short":          token[:len(token)-1],
		"Dashes":         strings.Replace(token, ".", "-", 1),
	} {
		if _, err := svc.Authenticate(ctx, coffer.Credential{Token: bad, RemoteIP: "127.0.0.2"}); coffer.ErrorCode(err) != coffer.EUNAUTHORIZED {
			t.Errorf("%s: got %v, want EUNAUTHORIZED", name, err)
		}
	}
	if _, _, err := svc.CreateAPIKey(ctx, &coffer.APIKeyCreate{Name: "x", Format: "jwt", Admin: true}); coffer.ErrorCode(err) != coffer.EINVALID {
		t.Errorf("unknown format: got %v, want EINVALID", err)
	}
}

func TestPutSecretWithID(t *testing.T) {
	svc, ctx := mustOpenService(t)
	if _, err := svc.CreateStore(ctx, &coffer.StoreCreate{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	id := strings.Repeat("ab", 16)
	sec, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "A", Value: []byte("v"), ID: id})
	if err != nil || sec.ID != id {
		t.Fatalf("PutSecret with id: got %+v, %v", sec, err)
	}
	// A new version keeps the id; the field only names a secret being created.
	if sec, err = svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "A", Value: []byte("v2"), ID: strings.Repeat("cd", 16)}); err != nil || sec.ID != id || sec.Version != 2 {
		t.Fatalf("new version: got %+v, %v", sec, err)
	}
	if _, err := svc.DeleteSecret(ctx, "s", "A", 0); err != nil {
		t.Fatal(err)
	}
	// The id stays taken by the deleted secret.
	if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "A", Value: []byte("v"), ID: id}); coffer.ErrorCode(err) != coffer.ECONFLICT {
		t.Errorf("id of a deleted secret: got %v, want ECONFLICT", err)
	}
	for _, bad := range []string{"AB" + strings.Repeat("ab", 15), "abc", strings.Repeat("ab", 16) + "-"} {
		if _, err := svc.PutSecret(ctx, "s", &coffer.SecretPut{Name: "B", Value: []byte("v"), ID: bad}); coffer.ErrorCode(err) != coffer.EINVALID {
			t.Errorf("id %q: got %v, want EINVALID", bad, err)
		}
	}
}
