package bench

import "testing"

// TestBenchLoginBinary runs the login scenarios with the built binary: the
// setup makes a role and a secret id and checks that a login's token reads
// read-me, and every login of the row must answer a token.
func TestBenchLoginBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out := runBenchBinary(t, mustBuildBenchBinary(t), t.TempDir(), "--scenarios", "login,read")
	checkBenchOutput(t, out, []string{"value read c=64 ", "approle login c=16 ", "jwt login c=16 "})
}
