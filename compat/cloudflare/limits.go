package cloudflare

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/coffer-dev/coffer"
)

// Limits are the Cloudflare Secrets Store quotas the face enforces on an
// account. They count every store and live secret of the account, whichever
// face made them, because a Cloudflare store is a coffer store.
type Limits struct {
	MaxStores    int // stores per account
	MaxSecrets   int // live secrets per account, across its stores
	MaxValueSize int // bytes per value, at most coffer.MaxValueSize
}

// DefaultLimits are Cloudflare's documented limits: one store per account
// (the beta limit), 100 secrets per account, and 64 KiB values.
var DefaultLimits = Limits{MaxStores: 1, MaxSecrets: 100, MaxValueSize: 64 << 10}

// Or returns l with its zero fields taken from d.
func (l Limits) Or(d Limits) Limits {
	if l.MaxStores == 0 {
		l.MaxStores = d.MaxStores
	}
	if l.MaxSecrets == 0 {
		l.MaxSecrets = d.MaxSecrets
	}
	if l.MaxValueSize == 0 {
		l.MaxValueSize = d.MaxValueSize
	}
	return l
}

// ParseLimits parses a limits setting of the form
//
//	[ACCOUNT_ID:]stores=N,secrets=N,value=N
//
// Every key is optional; a missing one keeps the default. Without an
// account id the setting applies to every account that has none of its own.
func ParseLimits(spec string) (accountID string, l Limits, err error) {
	spec = strings.TrimSpace(spec)
	if acct, rest, ok := strings.Cut(spec, ":"); ok {
		if !coffer.IsID(acct) {
			return "", Limits{}, fmt.Errorf("cloudflare limits %q: account id must be 32 lowercase hex digits", spec)
		}
		accountID, spec = acct, rest
	}
	if spec == "" {
		return "", Limits{}, fmt.Errorf("cloudflare limits: empty setting (want stores=N,secrets=N,value=N)")
	}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, nerr := strconv.Atoi(v)
		if !ok || nerr != nil || n <= 0 {
			return "", Limits{}, fmt.Errorf("cloudflare limits: %q: want KEY=N with N > 0", kv)
		}
		switch k {
		case "stores":
			l.MaxStores = n
		case "secrets":
			l.MaxSecrets = n
		case "value":
			if n > coffer.MaxValueSize {
				return "", Limits{}, fmt.Errorf("cloudflare limits: value=%d is over coffer's limit of %d bytes", n, coffer.MaxValueSize)
			}
			l.MaxValueSize = n
		default:
			return "", Limits{}, fmt.Errorf("cloudflare limits: unknown key %q (want stores, secrets or value)", k)
		}
	}
	return accountID, l, nil
}
