package coffer_test

import (
	"strings"
	"testing"

	"github.com/coffer-dev/coffer"
)

// TestLabelAndAttributeBounds checks that labels take what Vault KV's
// custom_metadata takes (64 keys of up to 128 bytes, values of up to 512),
// while attributes keep their narrower bounds.
func TestLabelAndAttributeBounds(t *testing.T) {
	many := func(n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[strings.Repeat("k", i+1)] = "v"
		}
		return m
	}
	for _, tt := range []struct {
		name        string
		m           map[string]string
		label, attr bool // valid as labels, as attributes
	}{
		{"Short", map[string]string{"env": "prod", "empty": ""}, true, true},
		{"Key63Value255", map[string]string{strings.Repeat("k", 63): strings.Repeat("v", 255)}, true, true},
		{"Key64", map[string]string{strings.Repeat("k", 64): "v"}, true, false},
		{"Value256", map[string]string{"k": strings.Repeat("v", 256)}, true, false},
		{"Key128Value512", map[string]string{strings.Repeat("k", 128): strings.Repeat("v", 512)}, true, false},
		{"Key129", map[string]string{strings.Repeat("k", 129): "v"}, false, false},
		{"Value513", map[string]string{"k": strings.Repeat("v", 513)}, false, false},
		{"EmptyKey", map[string]string{"": "v"}, false, false},
		{"BadUTF8", map[string]string{"k": "\xff"}, false, false},
		{"Keys64", many(64), true, false}, // keys up to 64 bytes long
		{"Keys65", many(65), false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := coffer.ValidateMeta("", tt.m, nil); (err == nil) != tt.label {
				t.Errorf("as labels: got %v, want valid %v", err, tt.label)
			}
			if err := coffer.ValidateAttributes(tt.m); (err == nil) != tt.attr {
				t.Errorf("as attributes: got %v, want valid %v", err, tt.attr)
			}
		})
	}
}
