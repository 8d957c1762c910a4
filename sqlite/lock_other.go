//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

import "os"

// lockFile does nothing where flock(2) is missing: one process at a time
// must own a database, and nothing checks it here.
func lockFile(path string) (*os.File, error) { return nil, nil }
