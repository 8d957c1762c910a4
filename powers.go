package coffer

import (
	"context"
	"time"
)

// Powers is what a principal may do through its keys: everything in its
// account (Admin) or what Scopes grant, until ExpiresAt (never when nil).
type Powers struct {
	Admin     bool
	Scopes    []Scope
	ExpiresAt *time.Time
}

// Grants reports whether key k can do nothing that p does not grant: it is
// admin only if p is, each of its scopes is covered by one of p's, and it
// expires no later than p does.
func (p *Powers) Grants(k *APIKey) bool {
	if k.Admin && !p.Admin || !p.Admin && !CoveredBy(k.Scopes, p.Scopes) {
		return false
	}
	return p.ExpiresAt == nil || k.ExpiresAt != nil && !k.ExpiresAt.After(*p.ExpiresAt)
}

// Exactly reports whether key k has exactly the powers p, scopes in the
// same order.
func (p *Powers) Exactly(k *APIKey) bool {
	if k.Admin != p.Admin || len(k.Scopes) != len(p.Scopes) {
		return false
	}
	for i := range k.Scopes {
		if k.Scopes[i].String() != p.Scopes[i].String() {
			return false
		}
	}
	if k.ExpiresAt == nil || p.ExpiresAt == nil {
		return k.ExpiresAt == nil && p.ExpiresAt == nil
	}
	return k.ExpiresAt.Equal(*p.ExpiresAt)
}

// SettledKey returns the key among keys (a principal's keys that are not
// revoked, newest first) that already has exactly the powers p, when no
// usable key of keys can do more than p; else nil. A principal with a
// settled key needs no new key to hold p, and none of its keys keeps a
// power that p takes away.
func SettledKey(keys []*APIKey, p Powers, now time.Time) *APIKey {
	var found *APIKey
	for _, k := range keys {
		if !k.Usable(now) {
			continue
		}
		if !p.Grants(k) {
			return nil
		}
		if found == nil && p.Exactly(k) {
			found = k
		}
	}
	return found
}

// PowerSetter changes what a principal may do. A change of powers takes
// away what the new powers no longer grant from every key of the principal
// and from every access token made from one, whatever keys the principal
// minted for itself in between.
type PowerSetter interface {
	// SetPowers makes p what the principal may do. When one of its keys
	// already has exactly p and none can do more (SettledKey), nothing
	// changes and that key is returned with an empty token. Otherwise a new
	// key named name with p is minted (its expiry bounded by the caller's,
	// as CreateAPIKey bounds every key) and every other key of the
	// principal is revoked. Admin keys only (EFORBIDDEN); ENOTFOUND for a
	// principal not of the caller's account; EINVALID as CreateAPIKey.
	SetPowers(ctx context.Context, principalID, name string, p Powers) (*APIKey, string, error)
}
