package jwt_test

import (
	"errors"
	"testing"

	"github.com/coffer-dev/coffer/internal/jwt"
)

// projected is the claims of a projected service-account token of pod
// api-7d9 in namespace payments, as the API server issues them.
func projected(sub string) map[string]any {
	return claims(map[string]any{
		"iss": "https://kubernetes.default.svc.cluster.local",
		"aud": []string{"coffer"},
		"sub": sub,
		"kubernetes.io": map[string]any{
			"namespace":      "payments",
			"pod":            map[string]any{"name": "api-7d9", "uid": "p-uid"},
			"serviceaccount": map[string]any{"name": "api", "uid": "sa-uid"},
			"node":           map[string]any{"name": "node-1", "uid": "n-uid"},
		},
	})
}

func TestKubernetes(t *testing.T) {
	k := mustKeys(t)
	ks := testSet(t)
	e := expect()
	e.Issuer = "https://kubernetes.default.svc.cluster.local"
	verify := func(t *testing.T, c map[string]any) jwt.Claims {
		t.Helper()
		got, err := jwt.Verify(sign(t, "RS256", "rsa", k.rsa, c), ks, e)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		return got
	}

	t.Run("OK", func(t *testing.T) {
		id, err := jwt.Kubernetes(verify(t, projected("system:serviceaccount:payments:api")))
		if err != nil {
			t.Fatal(err)
		}
		want := jwt.KubernetesIdentity{Namespace: "payments", ServiceAccount: "api", ServiceAccountUID: "sa-uid",
			Pod: "api-7d9", PodUID: "p-uid", Node: "node-1", NodeUID: "n-uid"}
		if id != want {
			t.Errorf("got %+v, want %+v", id, want)
		}
	})
	t.Run("Legacy", func(t *testing.T) {
		c := claims(map[string]any{
			"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:payments:api",
			"kubernetes.io/serviceaccount/namespace":            "payments",
			"kubernetes.io/serviceaccount/secret.name":          "api-token-x1",
			"kubernetes.io/serviceaccount/service-account.name": "api",
			"kubernetes.io/serviceaccount/service-account.uid":  "sa-uid",
		})
		e := e
		e.Issuer = "kubernetes/serviceaccount"
		got, err := jwt.Verify(sign(t, "RS256", "rsa", k.rsa, c), ks, e)
		if err != nil {
			t.Fatal(err)
		}
		id, err := jwt.Kubernetes(got)
		want := jwt.KubernetesIdentity{Namespace: "payments", ServiceAccount: "api", ServiceAccountUID: "sa-uid",
			Secret: "api-token-x1", Legacy: true}
		if err != nil || id != want {
			t.Errorf("got %+v, %v, want %+v", id, err, want)
		}
	})
	for _, tc := range []struct {
		name string
		c    map[string]any
	}{
		{"SubOtherNamespace", projected("system:serviceaccount:default:api")},
		{"SubOtherName", projected("system:serviceaccount:payments:admin")},
		{"SubNotServiceAccount", projected("payments:api")},
		{"NoSub", projected("")},
		{"NotKubernetes", claims(map[string]any{"iss": "https://kubernetes.default.svc.cluster.local", "sub": "system:serviceaccount:payments:api"})},
		{"NoName", func() map[string]any {
			c := projected("system:serviceaccount:payments:")
			c["kubernetes.io"].(map[string]any)["serviceaccount"] = map[string]any{}
			return c
		}()},
		{"ColonInNamespace", func() map[string]any {
			c := projected("system:serviceaccount:pay:ments:api")
			c["kubernetes.io"].(map[string]any)["namespace"] = "pay:ments"
			return c
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.c["sub"] == "" {
				delete(tc.c, "sub")
			}
			if _, err := jwt.Kubernetes(verify(t, tc.c)); !errors.Is(err, jwt.ErrClaims) {
				t.Errorf("got %v, want ErrClaims", err)
			}
		})
	}
}
