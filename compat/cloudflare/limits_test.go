package cloudflare_test

import (
	"testing"

	"github.com/coffer-dev/coffer/compat/cloudflare"
)

func TestParseLimits(t *testing.T) {
	const acct = "0123456789abcdef0123456789abcdef"
	for _, tt := range []struct {
		spec string
		acct string
		want cloudflare.Limits
		bad  bool
	}{
		{spec: "stores=5", want: cloudflare.Limits{MaxStores: 5}},
		{spec: "stores=2,secrets=1000,value=1024", want: cloudflare.Limits{MaxStores: 2, MaxSecrets: 1000, MaxValueSize: 1024}},
		{spec: " secrets=7 , stores=3 ", want: cloudflare.Limits{MaxStores: 3, MaxSecrets: 7}},
		{spec: acct + ":secrets=10", acct: acct, want: cloudflare.Limits{MaxSecrets: 10}},
		{spec: "", bad: true},
		{spec: acct + ":", bad: true},
		{spec: "NOTANID:secrets=1", bad: true},
		{spec: "stores=0", bad: true},
		{spec: "stores=-1", bad: true},
		{spec: "stores", bad: true},
		{spec: "stores=x", bad: true},
		{spec: "keys=3", bad: true},
		{spec: "value=65537", bad: true},
	} {
		acct, got, err := cloudflare.ParseLimits(tt.spec)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseLimits(%q): got %+v, want an error", tt.spec, got)
			}
			continue
		}
		if err != nil || acct != tt.acct || got != tt.want {
			t.Errorf("ParseLimits(%q): got %q %+v %v, want %q %+v", tt.spec, acct, got, err, tt.acct, tt.want)
		}
	}
}

func TestLimitsOr(t *testing.T) {
	got := cloudflare.Limits{MaxSecrets: 5}.Or(cloudflare.DefaultLimits)
	if want := (cloudflare.Limits{MaxStores: 1, MaxSecrets: 5, MaxValueSize: 65536}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
