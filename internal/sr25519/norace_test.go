//go:build !race

package sr25519_test

const raceEnabled = false
