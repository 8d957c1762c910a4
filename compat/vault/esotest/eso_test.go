package esotest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	esv1 "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	pushfake "github.com/external-secrets/external-secrets/pkg/provider/testing/fake"
)

// TestESOValidate: the SecretStore controller's check (Validate looks the
// token up with auth/token/lookup-self and reads its type and ttl) passes
// for a coffer key, root or scoped, and fails for a token coffer does not
// know.
func TestESOValidate(t *testing.T) {
	s := srv
	s.newStore(t, "eso-validate")
	for name, tok := range map[string]string{
		"root":   s.token,
		"scoped": s.key(t, scope{Store: "eso-validate", Actions: []string{"reveal"}}),
	} {
		got, err := s.eso(t, "eso-validate", tok).Validate()
		if err != nil || got != esv1.ValidationResultReady {
			t.Errorf("%s key: Validate = %v, %v; want Ready", name, got, err)
		}
	}
	got, err := s.eso(t, "eso-validate", "cfr_0000000000000000_"+strings.Repeat("0", 64)).Validate()
	if err == nil || got != esv1.ValidationResultError {
		t.Errorf("unknown token: Validate = %v, %v; want an error", got, err)
	}
}

// TestESOGetSecret reads natively written secrets through ESO: a JSON
// object value is the Vault data, a plain value is {"value": v}; property,
// version, the whole map, custom metadata (labels) and a missing secret.
func TestESOGetSecret(t *testing.T) {
	s := srv
	const mount = "eso-get"
	s.newStore(t, mount)
	s.put(t, mount, "app/db", `{"user":"app","password":"p1"}`, map[string]string{"team": "payments"})
	s.put(t, mount, "app/db", `{"user":"app","password":"p2","port":5432}`, nil)
	s.put(t, mount, "plain", "tok-123", nil)
	c := s.eso(t, mount, s.token)
	ctx := context.Background()

	for _, tc := range []struct {
		ref  esv1.ExternalSecretDataRemoteRef
		want string
	}{
		{esv1.ExternalSecretDataRemoteRef{Key: "app/db", Property: "password"}, "p2"},
		{esv1.ExternalSecretDataRemoteRef{Key: "app/db", Property: "password", Version: "1"}, "p1"},
		{esv1.ExternalSecretDataRemoteRef{Key: "app/db", Property: "port"}, "5432"},
		{esv1.ExternalSecretDataRemoteRef{Key: "app/db"}, `{"password":"p2","port":5432,"user":"app"}`},
		{esv1.ExternalSecretDataRemoteRef{Key: "plain", Property: "value"}, "tok-123"},
		{esv1.ExternalSecretDataRemoteRef{Key: mount + "/app/db", Property: "user"}, "app"}, // a key that repeats the mount
		{esv1.ExternalSecretDataRemoteRef{Key: "app/db", Property: "team", MetadataPolicy: esv1.ExternalSecretMetadataPolicyFetch}, "payments"},
	} {
		got, err := c.GetSecret(ctx, tc.ref)
		if err != nil || string(got) != tc.want {
			t.Errorf("GetSecret(%+v) = %q, %v; want %q", tc.ref, got, err, tc.want)
		}
	}

	m, err := c.GetSecretMap(ctx, esv1.ExternalSecretDataRemoteRef{Key: "app/db"})
	want := map[string]string{"user": "app", "password": "p2", "port": "5432"}
	if err != nil || !maps.Equal(strMap(m), want) {
		t.Errorf("GetSecretMap = %v, %v; want %v", strMap(m), err, want)
	}

	if _, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: "missing"}); !errors.Is(err, esv1.NoSecretError{}) {
		t.Errorf("GetSecret(missing) err = %v; want NoSecretError", err)
	}
	if _, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: "app/db", Property: "nope"}); err == nil {
		t.Error("GetSecret(app/db, property nope) did not fail")
	}
}

// TestESOMountWithSlash: a store whose name has a '/' is the mount of that
// name, as ESO builds paths for it.
func TestESOMountWithSlash(t *testing.T) {
	s := srv
	const mount = "eso-team/kv"
	s.newStore(t, mount)
	s.put(t, mount, "svc/api", `{"key":"k1"}`, nil)
	got, err := s.eso(t, mount, s.token).GetSecret(context.Background(), esv1.ExternalSecretDataRemoteRef{Key: "svc/api", Property: "key"})
	if err != nil || string(got) != "k1" {
		t.Errorf("GetSecret = %q, %v; want k1", got, err)
	}
}

// TestESOGetAllSecrets: find by name walks the mount with LIST (recursing
// into folders, keys ending in '/'), find by tags matches custom_metadata,
// which are coffer labels.
func TestESOGetAllSecrets(t *testing.T) {
	s := srv
	const mount = "eso-find"
	s.newStore(t, mount)
	s.put(t, mount, "app/db", `{"password":"d"}`, map[string]string{"env": "prod", "team": "a"})
	s.put(t, mount, "app/cache/redis", `{"password":"r"}`, map[string]string{"env": "dev"})
	s.put(t, mount, "other", "o", map[string]string{"env": "prod", "team": "b"})
	c := s.eso(t, mount, s.token)
	ctx := context.Background()

	byName, err := c.GetAllSecrets(ctx, esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: "^app/"}})
	want := map[string]string{"app/db": `{"password":"d"}`, "app/cache/redis": `{"password":"r"}`}
	if err != nil || !maps.Equal(strMap(byName), want) {
		t.Errorf("GetAllSecrets(name ^app/) = %v, %v; want %v", strMap(byName), err, want)
	}

	path := "app"
	under, err := c.GetAllSecrets(ctx, esv1.ExternalSecretFind{Path: &path, Name: &esv1.FindName{RegExp: "redis"}})
	want = map[string]string{"app/cache/redis": `{"password":"r"}`}
	if err != nil || !maps.Equal(strMap(under), want) {
		t.Errorf("GetAllSecrets(path app, name redis) = %v, %v; want %v", strMap(under), err, want)
	}

	byTags, err := c.GetAllSecrets(ctx, esv1.ExternalSecretFind{Tags: map[string]string{"env": "prod"}})
	want = map[string]string{"app/db": `{"password":"d"}`, "other": `{"value":"o"}`}
	if err != nil || !maps.Equal(strMap(byTags), want) {
		t.Errorf("GetAllSecrets(tags env=prod) = %v, %v; want %v", strMap(byTags), err, want)
	}
	byTags, err = c.GetAllSecrets(ctx, esv1.ExternalSecretFind{Tags: map[string]string{"env": "prod", "team": "b"}})
	want = map[string]string{"other": `{"value":"o"}`}
	if err != nil || !maps.Equal(strMap(byTags), want) {
		t.Errorf("GetAllSecrets(tags env=prod,team=b) = %v, %v; want %v", strMap(byTags), err, want)
	}
}

// TestESOPushAndDelete drives PushSecret and DeleteSecret: a push to a new
// path marks it managed-by external-secrets (custom_metadata, a coffer
// label) and writes the data; an unchanged push writes nothing; each change
// is a new version in coffer's history; a property push merges; a path
// ESO does not manage is refused on push and left alone on delete.
func TestESOPushAndDelete(t *testing.T) {
	s := srv
	const mount = "eso-push"
	s.newStore(t, mount)
	c := s.eso(t, mount, s.token)
	ctx := context.Background()
	k8s := func(kv ...string) *corev1.Secret {
		d := map[string][]byte{}
		for i := 0; i < len(kv); i += 2 {
			d[kv[i]] = []byte(kv[i+1])
		}
		return &corev1.Secret{Data: d}
	}
	version := func(name string) int {
		t.Helper()
		sec, err := s.secret(mount, name)
		if err != nil {
			t.Fatalf("native secret %s: %v", name, err)
		}
		return sec.Version
	}

	whole := pushfake.PushSecretData{RemoteKey: "pushed/cfg"}
	if err := c.PushSecret(ctx, k8s("user", "svc", "password", "s3cret"), whole); err != nil {
		t.Fatalf("PushSecret (new): %v", err)
	}
	if got, want := s.reveal(t, mount, "pushed/cfg"), `{"password":"s3cret","user":"svc"}`; got != want {
		t.Errorf("native value = %s; want %s", got, want)
	}
	sec, err := s.secret(mount, "pushed/cfg")
	if err != nil || sec.Labels["managed-by"] != "external-secrets" || sec.Version != 1 {
		t.Fatalf("native secret after push = %+v, %v; want version 1 labelled managed-by=external-secrets", sec, err)
	}

	if err := c.PushSecret(ctx, k8s("user", "svc", "password", "s3cret"), whole); err != nil {
		t.Fatalf("PushSecret (same): %v", err)
	}
	if v := version("pushed/cfg"); v != 1 {
		t.Errorf("unchanged push made version %d", v)
	}
	if err := c.PushSecret(ctx, k8s("user", "svc", "password", "n3w"), whole); err != nil {
		t.Fatalf("PushSecret (changed): %v", err)
	}
	if v := version("pushed/cfg"); v != 2 {
		t.Errorf("changed push: version %d, want 2", v)
	}
	prop := pushfake.PushSecretData{RemoteKey: "pushed/cfg", SecretKey: "dsn", Property: "dsn"}
	if err := c.PushSecret(ctx, k8s("dsn", "postgres://db"), prop); err != nil {
		t.Fatalf("PushSecret (property): %v", err)
	}
	if got, want := s.reveal(t, mount, "pushed/cfg"), `{"dsn":"postgres://db","password":"n3w","user":"svc"}`; got != want {
		t.Errorf("native value after property push = %s; want %s", got, want)
	}
	if exists, err := c.SecretExists(ctx, prop); err != nil || !exists {
		t.Errorf("SecretExists(dsn) = %v, %v; want true", exists, err)
	}
	if n := s.versions(t, mount, "pushed/cfg"); n != 3 {
		t.Errorf("native history: %d versions; want 3", n)
	}

	// A secret ESO did not push: push refuses it, delete leaves it.
	s.put(t, mount, "handmade", `{"k":"v"}`, nil)
	err = c.PushSecret(ctx, k8s("k", "other"), pushfake.PushSecretData{RemoteKey: "handmade"})
	if err == nil || !strings.Contains(err.Error(), "not managed by external-secrets") {
		t.Errorf("PushSecret(handmade) err = %v; want not managed", err)
	}
	if err := c.DeleteSecret(ctx, pushfake.PushSecretData{RemoteKey: "handmade"}); err != nil {
		t.Errorf("DeleteSecret(handmade): %v", err)
	}
	if got := s.reveal(t, mount, "handmade"); got != `{"k":"v"}` || version("handmade") != 1 {
		t.Errorf("handmade after ESO push and delete = %s v%d; want untouched", got, version("handmade"))
	}

	// Deleting a property writes the rest as a new version.
	if err := c.DeleteSecret(ctx, prop); err != nil {
		t.Fatalf("DeleteSecret(property dsn): %v", err)
	}
	if got, want := s.reveal(t, mount, "pushed/cfg"), `{"password":"n3w","user":"svc"}`; got != want || version("pushed/cfg") != 4 {
		t.Errorf("after deleting dsn: %s v%d; want %s v4", got, version("pushed/cfg"), want)
	}
	// Deleting the whole secret: DELETE data, then DELETE metadata
	// (coffer's delete of the secret).
	if err := c.DeleteSecret(ctx, whole); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	if _, err := s.secret(mount, "pushed/cfg"); errCode(err) != "not_found" {
		t.Errorf("native secret after DeleteSecret: err %v; want not_found", err)
	}
	if _, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: "pushed/cfg"}); !errors.Is(err, esv1.NoSecretError{}) {
		t.Errorf("GetSecret after DeleteSecret err = %v; want NoSecretError", err)
	}
	if err := c.DeleteSecret(ctx, whole); err != nil {
		t.Errorf("DeleteSecret of a missing secret: %v", err)
	}
	// A push after the delete starts again, as in Vault.
	if err := c.PushSecret(ctx, k8s("a", "b"), whole); err != nil {
		t.Fatalf("PushSecret after delete: %v", err)
	}
	if got := s.reveal(t, mount, "pushed/cfg"); got != `{"a":"b"}` {
		t.Errorf("value after re-push = %s", got)
	}
}

// TestESOScopedKey: a key that may only reveal and list the store serves
// ESO's reads and refuses its writes, with nothing written.
func TestESOScopedKey(t *testing.T) {
	s := srv
	const mount = "eso-scoped"
	s.newStore(t, mount)
	s.put(t, mount, "app/db", `{"password":"d"}`, nil)
	tok := s.key(t, scope{Store: mount, Actions: []string{"read", "reveal", "list"}})
	c := s.eso(t, mount, tok)
	ctx := context.Background()
	if got, err := c.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: "app/db", Property: "password"}); err != nil || string(got) != "d" {
		t.Errorf("GetSecret = %q, %v; want d", got, err)
	}
	all, err := c.GetAllSecrets(ctx, esv1.ExternalSecretFind{Name: &esv1.FindName{RegExp: ".*"}})
	if err != nil || !slices.Equal(slices.Collect(maps.Keys(all)), []string{"app/db"}) {
		t.Errorf("GetAllSecrets = %v, %v; want app/db", strMap(all), err)
	}
	err = c.PushSecret(ctx, &corev1.Secret{Data: map[string][]byte{"x": []byte("y")}}, pushfake.PushSecretData{RemoteKey: "new"})
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("PushSecret with a read-only key err = %v; want permission denied", err)
	}
	if _, err := s.secret(mount, "new"); errCode(err) != "not_found" {
		t.Errorf("refused push left a secret behind: %v", err)
	}
	other := s.eso(t, "eso-validate-none", tok)
	if _, err := other.GetSecret(ctx, esv1.ExternalSecretDataRemoteRef{Key: "app/db"}); err == nil {
		t.Error("GetSecret on a mount the key cannot see did not fail")
	}
}

func strMap(m map[string][]byte) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}
