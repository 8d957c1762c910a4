package coffer_test

import (
	"testing"

	"github.com/coffer-dev/coffer"
)

func TestIDShaped(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"0123456789abcdef0123456789abcdef", true},
		{"0123456789ABCDEF0123456789abcdef", true},
		{"01234567-89ab-cdef-0123-456789abcdef", true},
		{"01234567-89AB-CDEF-0123-456789ABCDEF", true},
		{coffer.NewID(), true},
		{"0123456789abcdef0123456789abcde", false},   // 31
		{"0123456789abcdef0123456789abcdef0", false}, // 33
		{"0123456789abcdef0123456789abcdeg", false},
		{"01234567-89ab-cdef-0123-456789abcdeg", false},
		{"0123456789-abcdef-0123-456789abcdef", false}, // dashes misplaced
		{"01234567_89ab_cdef_0123_456789abcdef", false},
		{"db/password", false},
		{"", false},
	} {
		if got := coffer.IDShaped(tt.s); got != tt.want {
			t.Errorf("IDShaped(%q): got %v, want %v", tt.s, got, tt.want)
		}
		err := coffer.ValidateNewSecretName(tt.s)
		if tt.want && coffer.ErrorCode(err) != coffer.EINVALID {
			t.Errorf("ValidateNewSecretName(%q): got %v, want EINVALID", tt.s, err)
		}
	}
	if err := coffer.ValidateNewSecretName("db/password"); err != nil {
		t.Errorf("ValidateNewSecretName(db/password): %v", err)
	}
}
