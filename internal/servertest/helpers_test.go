package servertest

import (
	"reflect"
	"testing"
)

func TestFlipLast(t *testing.T) {
	for _, tok := range []string{"cfr_abc", "cfr_aba", "x"} {
		got := FlipLast(tok)
		if got == tok || len(got) != len(tok) || got[:len(tok)-1] != tok[:len(tok)-1] {
			t.Errorf("FlipLast(%q) = %q, want only the last character changed", tok, got)
		}
	}
}

func TestScopesAndPaths(t *testing.T) {
	got := Scopes("prod:db/*:read,reveal", "*:*:list")
	want := []map[string]any{
		{"store": "prod", "secret": "db/*", "actions": []string{"read", "reveal"}},
		{"store": "*", "secret": "*", "actions": []string{"list"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Scopes: got %v, want %v", got, want)
	}
	if got := SecretPath("s", "a/b c"); got != "/v1/stores/s/secrets/a%2Fb%20c" {
		t.Errorf("SecretPath: got %q", got)
	}
	if Str(1) != "" || Str("x") != "x" {
		t.Error("Str: wrong")
	}
}
