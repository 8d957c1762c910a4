//go:build race

package sr25519_test

// raceEnabled makes the long differential tests short under the race
// detector, which slows them tenfold and has nothing to find in them.
const raceEnabled = true
