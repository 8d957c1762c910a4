package jwt

import (
	"fmt"
	"strings"
)

// KubernetesIdentity is who a Kubernetes service-account token speaks for.
type KubernetesIdentity struct {
	Namespace         string
	ServiceAccount    string // the service account's name
	ServiceAccountUID string
	Pod, PodUID       string // bound tokens of a pod only
	Node, NodeUID     string // bound tokens with node information only
	Secret, SecretUID string // legacy secret-based tokens, and tokens bound to a secret
	Legacy            bool   // the token is an old secret-based one (kubernetes.io/serviceaccount/* claims)
}

// Kubernetes returns the identity of a verified service-account token: from
// the kubernetes.io claim of projected (bound) tokens, or from the
// kubernetes.io/serviceaccount/* claims of legacy secret-based tokens. It
// refuses a token with neither, with an empty namespace or name, and one
// whose sub is not system:serviceaccount:NAMESPACE:NAME for them. Errors
// wrap ErrClaims.
//
// Legacy tokens carry no exp, and Verify requires one: they reach this
// function only if their issuer added one. That is deliberate: a token
// that never expires, stored in a Secret, is the long-lived credential
// workload identity replaces.
func Kubernetes(c Claims) (KubernetesIdentity, error) {
	var id KubernetesIdentity
	if k8s, ok := c.Raw["kubernetes.io"].(map[string]any); ok {
		id.Namespace = str(k8s, "namespace")
		sa, _ := k8s["serviceaccount"].(map[string]any)
		id.ServiceAccount, id.ServiceAccountUID = str(sa, "name"), str(sa, "uid")
		pod, _ := k8s["pod"].(map[string]any)
		id.Pod, id.PodUID = str(pod, "name"), str(pod, "uid")
		node, _ := k8s["node"].(map[string]any)
		id.Node, id.NodeUID = str(node, "name"), str(node, "uid")
		secret, _ := k8s["secret"].(map[string]any)
		id.Secret, id.SecretUID = str(secret, "name"), str(secret, "uid")
	} else if _, ok := c.Raw["kubernetes.io/serviceaccount/namespace"]; ok {
		const p = "kubernetes.io/serviceaccount/"
		id.Namespace = str(c.Raw, p+"namespace")
		id.ServiceAccount = str(c.Raw, p+"service-account.name")
		id.ServiceAccountUID = str(c.Raw, p+"service-account.uid")
		id.Secret = str(c.Raw, p+"secret.name")
		id.Legacy = true
	} else {
		return KubernetesIdentity{}, fmt.Errorf("%w: not a Kubernetes service-account token", ErrClaims)
	}
	if id.Namespace == "" || id.ServiceAccount == "" {
		return KubernetesIdentity{}, fmt.Errorf("%w: no service-account namespace or name", ErrClaims)
	}
	if strings.Contains(id.Namespace, ":") || strings.Contains(id.ServiceAccount, ":") ||
		c.Subject != "system:serviceaccount:"+id.Namespace+":"+id.ServiceAccount {
		return KubernetesIdentity{}, fmt.Errorf("%w: sub disagrees with the kubernetes.io claims", ErrClaims)
	}
	return id, nil
}

// str returns m[name] when it is a string, "" otherwise (m may be nil).
func str(m map[string]any, name string) string {
	s, _ := m[name].(string)
	return s
}
