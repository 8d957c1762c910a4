package coffer_test

import (
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// TestApplyUpdateStatus checks the status rules of Secret.ApplyUpdate that
// both engines share.
func TestApplyUpdateStatus(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	st := func(s coffer.Status) *coffer.Status { return &s }
	for _, tt := range []struct {
		name       string
		from       coffer.Status
		version    int
		to         *coffer.Status
		ifVersion  int
		taken      bool
		want       coffer.Status
		wantCode   string
		wantAsked  bool
		wantDelete bool
	}{
		{name: "Delete", from: coffer.StatusActive, version: 2, to: st(coffer.StatusDeleted), want: coffer.StatusDeleted, wantDelete: true},
		{name: "ErrDeleteDeleted", from: coffer.StatusDeleted, version: 2, to: st(coffer.StatusDeleted), wantCode: coffer.ENOTFOUND},
		{name: "UndeleteWithVersion", from: coffer.StatusDeleted, version: 2, to: st(coffer.StatusActive), want: coffer.StatusActive, wantAsked: true},
		{name: "UndeleteWithoutVersion", from: coffer.StatusDeleted, version: 0, to: st(coffer.StatusActive), want: coffer.StatusPending, wantAsked: true},
		{name: "ErrUndeleteNameTaken", from: coffer.StatusDeleted, version: 2, to: st(coffer.StatusActive), taken: true, wantCode: coffer.ECONFLICT, wantAsked: true},
		{name: "ActiveStaysActive", from: coffer.StatusActive, version: 1, to: st(coffer.StatusPending), want: coffer.StatusActive},
		{name: "ErrUnknownStatus", from: coffer.StatusActive, version: 1, to: st("gone"), wantCode: coffer.EINVALID},
		{name: "ErrIfVersion", from: coffer.StatusActive, version: 3, ifVersion: 2, wantCode: coffer.EPRECONDITION},
		{name: "IfVersion", from: coffer.StatusActive, version: 3, ifVersion: 3, want: coffer.StatusActive},
		{name: "ErrIfAbsentNameTaken", from: coffer.StatusDeleted, version: 1, ifVersion: -1, taken: true, wantCode: coffer.EPRECONDITION, wantAsked: true},
		{name: "IfAbsentUndelete", from: coffer.StatusDeleted, version: 1, ifVersion: -1, to: st(coffer.StatusActive), want: coffer.StatusActive, wantAsked: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &coffer.Secret{Name: "N", Status: tt.from, Version: tt.version}
			asked := false
			comment := "new"
			err := s.ApplyUpdate(&coffer.SecretUpdate{Status: tt.to, IfVersion: tt.ifVersion, Comment: &comment}, at,
				func() (bool, error) { asked = true; return tt.taken, nil })
			if got := coffer.ErrorCode(err); tt.wantCode != "" || err != nil {
				if got != tt.wantCode {
					t.Fatalf("error %v (%s), want code %q", err, got, tt.wantCode)
				}
			} else if s.Status != tt.want || s.Comment != "new" || !s.UpdatedAt.Equal(at) {
				t.Fatalf("got status %s, comment %q, updated %v; want %s, new, %v", s.Status, s.Comment, s.UpdatedAt, tt.want, at)
			}
			if asked != tt.wantAsked {
				t.Errorf("nameTaken asked: %v, want %v", asked, tt.wantAsked)
			}
			if err == nil && (s.DeletedAt != nil) != tt.wantDelete {
				t.Errorf("DeletedAt %v, want set: %v", s.DeletedAt, tt.wantDelete)
			}
		})
	}
}
