package service_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/internal/svctest"
	"github.com/coffer-dev/coffer/service"
)

// patternMatches is the scope rule for a secret pattern, written out from
// the spec: "" and "*" match every name, "p*" every name starting with p,
// anything else only itself.
func patternMatches(pattern, name string) bool {
	if pattern == "" || pattern == "*" {
		return true
	}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, p)
	}
	return pattern == name
}

var refsFuzzSeq atomic.Int64

// FuzzRefScope feeds random names, refs and scope patterns through the
// service's ref resolution and scope checks. Each run makes a store holding
// db/pw (with a value), a secret of the fuzzed name (made through the
// service when the name is allowed, else written to storage as a legacy
// name, pending), and optionally a legacy secret named after db/pw's id.
// A key whose one scope has the fuzzed pattern then reads, reveals and
// updates by a ref (the fuzzed one, or one of the ids and names). It checks
// that:
//   - a new name of an id's shape is refused (EINVALID);
//   - every allowed access is to a secret whose real name the pattern
//     matches;
//   - a ref that is the id of a secret of the store reaches that secret, and
//     any other ref reaches only a secret of exactly that name.
func FuzzRefScope(f *testing.F) {
	env := svctest.Open(f, service.Options{})
	root := coffer.CallerFrom(env.Root)
	for _, s := range []struct {
		name, ref, pattern string
		shadow             bool
		pick               uint8
	}{
		{"db/pw2", "", "0*", false, 1},
		{"db/pw2", "", "01*", false, 1},
		{"api/key", "", "a*", true, 3},
		{"0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef", "0*", false, 0},
		{"0123456789ABCDEF0123456789ABCDEF", "0123456789ABCDEF0123456789ABCDEF", "0*", false, 0},
		{"01234567-89ab-cdef-0123-456789abcdef", "01234567-89ab-cdef-0123-456789abcdef", "*", false, 0},
		{"x", "db/pw", "db/*", true, 0},
		{"x", "", "*", true, 1},
		{"x", "", "db/pw", true, 3},
		{"db", "", "", false, 2},
	} {
		f.Add(s.name, s.ref, s.pattern, s.shadow, s.pick)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, name, ref, pattern string, shadow bool, pick uint8) {
		if len(pattern) > 63 || len(ref) > coffer.MaxNameLen {
			return
		}
		st, err := env.Svc.CreateStore(env.Root, &coffer.StoreCreate{Name: "fuzz-" + strconv.FormatInt(refsFuzzSeq.Add(1), 10)})
		if err != nil {
			t.Fatal(err)
		}
		a, err := env.Svc.PutSecret(env.Root, st.ID, &coffer.SecretPut{Name: "db/pw", Value: []byte("a")})
		if err != nil {
			t.Fatal(err)
		}
		// legacy writes a pending secret straight to storage, as data made
		// before names of an id's shape were refused.
		legacy := func(n string) *coffer.Secret {
			sec, err := env.DB.WriteSecret(ctx, &coffer.SecretWrite{
				AccountID: root.AccountID, StoreID: st.ID, Name: n, By: root.PrincipalID, At: time.Now(),
				Create: &coffer.Secret{ID: coffer.NewID(), Name: n, Origin: "test"},
			}, &coffer.AuditEvent{Time: time.Now(), AccountID: root.AccountID, Action: "secret.write", Face: "test"})
			if err != nil {
				t.Fatalf("legacy write %q: %v", n, err)
			}
			return sec
		}
		secrets := []*coffer.Secret{a}
		var b *coffer.Secret
		if coffer.ValidateName("secret", name) == nil && name != a.Name {
			b, err = env.Svc.PutSecret(env.Root, st.ID, &coffer.SecretPut{Name: name, Value: []byte("b")})
			switch {
			case coffer.IDShaped(name):
				if coffer.ErrorCode(err) != coffer.EINVALID {
					t.Fatalf("PutSecret(%q), a name of an id's shape: got %v, want EINVALID", name, err)
				}
				b = legacy(name)
			case err != nil:
				t.Fatalf("PutSecret(%q): %v", name, err)
			}
			secrets = append(secrets, b)
		}
		if shadow {
			if _, err := env.Svc.PutSecret(env.Root, st.ID, &coffer.SecretPut{Name: a.ID, Value: []byte("c")}); coffer.ErrorCode(err) != coffer.EINVALID {
				t.Fatalf("PutSecret named after an id: got %v, want EINVALID", err)
			}
			secrets = append(secrets, legacy(a.ID))
		}
		switch {
		case pick%4 == 1:
			ref = a.ID
		case pick%4 == 2 && b != nil:
			ref = b.ID
		case pick%4 == 3:
			ref = secrets[len(secrets)-1].ID
		}
		if ref == "" {
			return
		}

		// want is the secret ref must reach, if any: by id first, then by
		// the live name.
		var want *coffer.Secret
		for _, s := range secrets {
			if coffer.IsID(ref) && s.ID == ref {
				want = s
			}
		}
		for _, s := range secrets {
			if want == nil && s.Name == ref {
				want = s
			}
		}
		key := coffer.NewContext(ctx, &coffer.Caller{
			AccountID: root.AccountID, PrincipalID: root.PrincipalID, KeyID: "fuzz", Face: "test",
			Scopes: []coffer.Scope{{Store: st.Name, Secret: pattern, Actions: []coffer.Action{
				coffer.ActionList, coffer.ActionRead, coffer.ActionReveal, coffer.ActionWrite}}},
		})
		check := func(op, gotName, gotID string, err error) {
			t.Helper()
			if err != nil {
				if code := coffer.ErrorCode(err); code != coffer.EFORBIDDEN && code != coffer.ENOTFOUND && code != coffer.EINVALID {
					t.Fatalf("%s(%q): %v", op, ref, err)
				}
				return
			}
			if !patternMatches(pattern, gotName) {
				t.Fatalf("%s(%q) with pattern %q: allowed on %q, which the pattern does not match", op, ref, pattern, gotName)
			}
			if want == nil {
				t.Fatalf("%s(%q): reached %q (%s), want not found", op, ref, gotName, gotID)
			}
			if gotName != want.Name || gotID != "" && gotID != want.ID {
				t.Fatalf("%s(%q): reached %q (%s), want %q (%s)", op, ref, gotName, gotID, want.Name, want.ID)
			}
		}
		sec, err := env.Svc.Secret(key, st.ID, ref)
		if err == nil {
			check("Secret", sec.Name, sec.ID, nil)
		} else {
			check("Secret", "", "", err)
		}
		v, err := env.Svc.Reveal(key, st.ID, ref, 0)
		if err == nil {
			check("Reveal", v.Name, "", nil)
		} else {
			check("Reveal", "", "", err)
		}
		page, err := env.Svc.RevealMany(key, st.ID, &coffer.RevealQuery{Names: []string{ref}})
		if err == nil {
			for _, v := range page.Values {
				check("RevealMany", v.Name, "", nil)
			}
		} else {
			check("RevealMany", "", "", err)
		}
		if _, err := env.Svc.Versions(key, st.ID, ref); err == nil {
			if !patternMatches(pattern, want.Name) {
				t.Fatalf("Versions(%q) with pattern %q: allowed on %q", ref, pattern, want.Name)
			}
		} else {
			check("Versions", "", "", err)
		}
		comment := "fuzzed"
		up, err := env.Svc.UpdateSecret(key, st.ID, ref, &coffer.SecretPatch{Comment: &comment})
		if err == nil {
			check("UpdateSecret", up.Name, up.ID, nil)
		} else {
			check("UpdateSecret", "", "", err)
		}
	})
}
