package jwt_test

import (
	"errors"
	"testing"

	"github.com/coffer-dev/coffer/internal/jwt"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"*", "", true},
		{"*", "anything", true},
		{"repo:acme/*", "repo:acme/app:ref:refs/heads/main", true},
		{"repo:acme/*", "repo:acme2/app", false},
		{"repo:*:ref:refs/heads/main", "repo:acme/app:ref:refs/heads/main", true},
		{"repo:*:ref:refs/heads/main", "repo:acme/app:ref:refs/heads/main2", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "acb", false},
		{"ab*ba", "aba", false}, // prefix and suffix may not overlap
		{"a?c", "abc", false},   // no metacharacter but '*'
		{"[a]", "a", false},
		{"*.test", "x.test", true},
	} {
		if got := jwt.Glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Glob(%q, %q): got %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestMatchClaims(t *testing.T) {
	c := jwt.Claims{Raw: map[string]any{
		"sub":        "repo:acme/app:environment:prod",
		"repository": "acme/app",
		"groups":     []any{"dev", "ops", 3},
		"run_number": "12",
		"count":      12,
		"kubernetes.io": map[string]any{
			"namespace":      "payments",
			"serviceaccount": map[string]any{"name": "api"},
		},
		"kubernetes.io/serviceaccount/namespace": "legacy-ns",
	}}
	for _, tc := range []struct {
		name  string
		bound map[string][]string
		glob  bool
		ok    bool
	}{
		{"Exact", map[string][]string{"repository": {"other/x", "acme/app"}}, false, true},
		{"ExactMiss", map[string][]string{"repository": {"acme/ap"}}, false, false},
		{"AllMustMatch", map[string][]string{"repository": {"acme/app"}, "run_number": {"13"}}, false, false},
		{"GlobOff", map[string][]string{"sub": {"repo:acme/*"}}, false, false},
		{"GlobOn", map[string][]string{"sub": {"repo:acme/*"}}, true, true},
		{"ArrayElement", map[string][]string{"groups": {"ops"}}, false, true},
		{"ArrayMiss", map[string][]string{"groups": {"admin", "3"}}, false, false},
		{"Nested", map[string][]string{"/kubernetes.io/namespace": {"payments"}, "/kubernetes.io/serviceaccount/name": {"api"}}, false, true},
		{"NestedMiss", map[string][]string{"/kubernetes.io/namespace": {"default"}}, false, false},
		{"NestedThroughString", map[string][]string{"/repository/x": {"acme/app"}}, true, false},
		{"SlashedTopLevel", map[string][]string{"kubernetes.io/serviceaccount/namespace": {"legacy-ns"}}, false, true},
		{"NoPathWithoutSlash", map[string][]string{"kubernetes.io/namespace": {"payments"}}, false, false},
		{"Missing", map[string][]string{"environment": {"*"}}, true, false},
		{"NotAString", map[string][]string{"count": {"12", "*"}}, true, false},
		{"Object", map[string][]string{"kubernetes.io": {"*"}}, true, false},
		{"NoValues", map[string][]string{"repository": {}}, true, false},
		{"NothingBound", nil, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := jwt.MatchClaims(c, tc.bound, tc.glob)
			if tc.ok && err != nil || !tc.ok && !errors.Is(err, jwt.ErrNoMatch) {
				t.Errorf("got %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
