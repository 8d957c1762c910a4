package coffer_test

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/coffer-dev/coffer"
)

// TestApplyUpdateMergeAttributes checks the attribute merge of
// Secret.ApplyUpdate that both engines share.
func TestApplyUpdateMergeAttributes(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	full := map[string]string{}
	for i := range coffer.MaxLabels {
		full[fmt.Sprint("k", i)] = "v"
	}
	for _, tt := range []struct {
		name     string
		from     map[string]string
		replace  map[string]string
		merge    map[string]string
		want     map[string]string
		wantCode string
	}{
		{name: "SetAndRemove", from: map[string]string{"a": "1", "b": "2"}, merge: map[string]string{"b": "", "c": "3"},
			want: map[string]string{"a": "1", "c": "3"}},
		{name: "IntoNone", merge: map[string]string{"a": "1", "gone": ""}, want: map[string]string{"a": "1"}},
		{name: "AfterReplace", from: map[string]string{"a": "1"}, replace: map[string]string{"x": "9"}, merge: map[string]string{"y": "8"},
			want: map[string]string{"x": "9", "y": "8"}},
		{name: "RemoveAll", from: map[string]string{"a": "1"}, merge: map[string]string{"a": ""}, want: map[string]string{}},
		{name: "Full", from: full, merge: map[string]string{"k0": "changed"}, want: func() map[string]string {
			m := maps.Clone(full)
			m["k0"] = "changed"
			return m
		}()},
		{name: "ErrTooMany", from: full, merge: map[string]string{"one-more": "x"}, wantCode: coffer.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			from := maps.Clone(tt.from)
			s := &coffer.Secret{Name: "N", Status: coffer.StatusActive, Version: 1, Attributes: from}
			err := s.ApplyUpdate(&coffer.SecretUpdate{Attributes: tt.replace, MergeAttributes: tt.merge}, at,
				func() (bool, error) { return false, nil })
			if tt.wantCode != "" {
				if coffer.ErrorCode(err) != tt.wantCode {
					t.Fatalf("got %v, want %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(s.Attributes, tt.want) {
				t.Fatalf("got %v, want %v", s.Attributes, tt.want)
			}
			if !maps.Equal(from, tt.from) {
				t.Fatalf("the merge changed the map it started from: got %v, want %v", from, tt.from)
			}
		})
	}
}
