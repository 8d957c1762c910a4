package coffer_test

import (
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

func TestPowers(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	hour, day := now.Add(time.Hour), now.Add(24*time.Hour)
	edit := []coffer.Scope{{Store: "app", Actions: []coffer.Action{coffer.ActionList, coffer.ActionRead, coffer.ActionWrite}}}
	view := []coffer.Scope{{Store: "app", Actions: []coffer.Action{coffer.ActionList, coffer.ActionRead}}}
	key := func(id string, admin bool, scopes []coffer.Scope, exp *time.Time) *coffer.APIKey {
		return &coffer.APIKey{ID: id, Admin: admin, Scopes: scopes, ExpiresAt: exp}
	}
	viewer := coffer.Powers{Scopes: view, ExpiresAt: &hour}

	for _, tt := range []struct {
		name string
		k    *coffer.APIKey
		want bool
	}{
		{"Same", key("a", false, view, &hour), true},
		{"Narrower", key("a", false, view[:1], &hour), true},
		{"Earlier", key("a", false, view, &now), true},
		{"WiderScope", key("a", false, edit, &hour), false},
		{"Admin", key("a", true, nil, &hour), false},
		{"Later", key("a", false, view, &day), false},
		{"NoExpiry", key("a", false, view, nil), false},
	} {
		t.Run("Grants"+tt.name, func(t *testing.T) {
			if got := viewer.Grants(tt.k); got != tt.want {
				t.Errorf("Grants: got %v, want %v", got, tt.want)
			}
		})
	}

	for _, tt := range []struct {
		name string
		keys []*coffer.APIKey // newest first
		want string
	}{
		{"Exact", []*coffer.APIKey{key("v", false, view, &hour)}, "v"},
		{"ExactAndNarrower", []*coffer.APIKey{key("n", false, view, &now), key("v", false, view, &hour)}, "v"},
		// The account minted a key matching the new role, but its old
		// editor key is alive: not settled.
		{"WiderKeyAlive", []*coffer.APIKey{key("v", false, view, &hour), key("e", false, edit, &hour)}, ""},
		{"AdminKeyAlive", []*coffer.APIKey{key("v", false, view, &hour), key("a", true, nil, nil)}, ""},
		{"NoExactKey", []*coffer.APIKey{key("n", false, view, &now)}, ""},
		{"None", nil, ""},
	} {
		t.Run("SettledKey"+tt.name, func(t *testing.T) {
			got := ""
			if k := coffer.SettledKey(tt.keys, viewer, now); k != nil {
				got = k.ID
			}
			if got != tt.want {
				t.Errorf("SettledKey: got %q, want %q", got, tt.want)
			}
		})
	}
}
