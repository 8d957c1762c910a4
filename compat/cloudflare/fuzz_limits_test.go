package cloudflare_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/coffer-dev/coffer"
	"github.com/coffer-dev/coffer/compat/cloudflare"
)

// FuzzParseLimits feeds arbitrary --cloudflare-limits settings (a flag
// and COFFER_CLOUDFLARE_LIMITS) to ParseLimits. What it accepts has an
// account id or none, positive limits, a value limit within coffer's, and
// reads back the same from its canonical form; what it refuses is an error,
// never a panic.
func FuzzParseLimits(f *testing.F) {
	for _, s := range []string{
		"stores=1,secrets=100,value=65536", "0123456789abcdef0123456789abcdef:stores=3", " secrets=5 , value=10 ",
		"stores=0", "stores=-1", "value=999999999999", "secrets=99999999999999999999", "stores", "=1", "stores=1,",
		"STORES=1", "bogus=1", ":stores=1", "0123456789ABCDEF0123456789ABCDEF:stores=1", "", ";", "stores=1;secrets=2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		acct, l, err := cloudflare.ParseLimits(spec)
		if err != nil {
			if acct != "" || l != (cloudflare.Limits{}) {
				t.Fatalf("ParseLimits(%q) = %q, %+v with error %v", spec, acct, l, err)
			}
			return
		}
		if acct != "" && !coffer.IsID(acct) {
			t.Fatalf("ParseLimits(%q): account %q", spec, acct)
		}
		if l.MaxStores < 0 || l.MaxSecrets < 0 || l.MaxValueSize < 0 || l.MaxValueSize > coffer.MaxValueSize || l == (cloudflare.Limits{}) {
			t.Fatalf("ParseLimits(%q) = %+v", spec, l)
		}
		var parts []string
		for _, kv := range []struct {
			k string
			n int
		}{{"stores", l.MaxStores}, {"secrets", l.MaxSecrets}, {"value", l.MaxValueSize}} {
			if kv.n > 0 {
				parts = append(parts, fmt.Sprintf("%s=%d", kv.k, kv.n))
			}
		}
		canon := strings.Join(parts, ",")
		if acct != "" {
			canon = acct + ":" + canon
		}
		acct2, l2, err := cloudflare.ParseLimits(canon)
		if err != nil || acct2 != acct || l2 != l {
			t.Fatalf("ParseLimits(%q) = %q, %+v, %v; want %q, %+v as from %q", canon, acct2, l2, err, acct, l, spec)
		}
	})
}
