package jwt

import (
	"fmt"
	"slices"
	"strings"
)

// MatchClaims reports whether claims satisfy every bound claim: for each
// name in bound, the claim's value (a string, or an array whose string
// elements are each tried) must equal one of the bound values or, when
// glob is set, match one as a glob in which '*' stands for any run of
// characters and every other character for itself.
//
// A name is a top-level claim name as it is ("repository",
// "kubernetes.io/serviceaccount/namespace", a legacy claim whose name holds
// slashes), unless it starts with '/': then it is a path into nested
// objects, its segments separated by '/' ("/kubernetes.io/namespace" is
// the namespace member of the kubernetes.io object), as in Vault's
// claim mappings. A missing claim, a claim of another type (number, bool,
// object) and a bound name with no values never match. The error wraps
// ErrNoMatch and names the first claim that failed, never its value.
func MatchClaims(claims Claims, bound map[string][]string, glob bool) error {
	names := make([]string, 0, len(bound))
	for name := range bound {
		names = append(names, name)
	}
	slices.Sort(names) // the same claim is named for the same failure
	for _, name := range names {
		if !matchOne(claimStrings(claims.Raw, name), bound[name], glob) {
			return fmt.Errorf("%w: claim %q", ErrNoMatch, name)
		}
	}
	return nil
}

// claimStrings returns the string values of the claim name in raw: one for
// a string, the string elements of an array, none otherwise.
func claimStrings(raw map[string]any, name string) []string {
	var v any = raw
	if path, ok := strings.CutPrefix(name, "/"); ok {
		for _, seg := range strings.Split(path, "/") {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[seg]
		}
	} else {
		v = raw[name]
	}
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func matchOne(values, allowed []string, glob bool) bool {
	for _, v := range values {
		for _, a := range allowed {
			if v == a || glob && Glob(a, v) {
				return true
			}
		}
	}
	return false
}

// Glob reports whether s matches pattern, in which '*' stands for any run
// of characters (the empty one too) and every other character for itself.
func Glob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return s == pattern
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
