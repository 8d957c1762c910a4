package api_test

import (
	"net/http"
	"testing"
)

// BenchmarkConsoleRequest compares a native API read authenticated with a
// bearer key and the same read through a console session, which also
// reads the session from the database and opens its sealed key.
func BenchmarkConsoleRequest(b *testing.B) {
	c := mustOpenConsole(b)
	s, _ := c.signIn(b, c.token)
	if s == nil {
		b.Fatal("sign-in failed")
	}
	for _, bc := range []struct {
		name string
		s    *session
		hdr  []string
	}{
		{"Bearer", nil, []string{"Authorization", "Bearer " + c.token}},
		{"Session", s, nil},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if w := c.do(bc.s, "GET", "/v1/stores/s/secrets/KEEP", "", bc.hdr...); w.Code != http.StatusOK {
					b.Fatalf("got %d %s", w.Code, w.Body)
				}
			}
		})
	}
}
