package main

import (
	"github.com/coffer-dev/coffer/server"
	"io"
	"slices"
	"testing"
)

// TestCloudflareLimitFlags stays with the flag parser; the limits' effect
// is tested next to the face (compat/cloudflare/http_limits_test.go).
func TestCloudflareLimitFlags(t *testing.T) {
	env := map[string]string{"COFFER_CLOUDFLARE_LIMITS": "stores=2; 0123456789abcdef0123456789abcdef:secrets=7"}
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
		bad  bool
	}{
		{name: "None", want: nil},
		{name: "Flags", args: []string{"--cloudflare-limits", "stores=3", "--cloudflare-limits", "secrets=500,value=1024"}, want: []string{"stores=3", "secrets=500,value=1024"}},
		{name: "Env", env: env, want: []string{"stores=2", "0123456789abcdef0123456789abcdef:secrets=7"}},
		{name: "EnvThenFlags", env: env, args: []string{"--cloudflare-limits", "stores=4"}, want: []string{"stores=2", "0123456789abcdef0123456789abcdef:secrets=7", "stores=4"}},
		{name: "ErrBadValue", args: []string{"--cloudflare-limits", "stores=x"}, bad: true},
		{name: "ErrBadKey", args: []string{"--cloudflare-limits", "zones=1"}, bad: true},
		{name: "ErrBadEnv", env: map[string]string{"COFFER_CLOUDFLARE_LIMITS": "value=99999999"}, bad: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := server.DefaultConfig()
			err := parseServerFlags(&cfg, tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.bad {
				if err == nil {
					t.Fatalf("got %v, want an error", cfg.CloudflareLimits)
				}
				return
			}
			if err != nil || !slices.Equal(cfg.CloudflareLimits, tt.want) {
				t.Fatalf("got %q %v, want %q", cfg.CloudflareLimits, err, tt.want)
			}
		})
	}
}
