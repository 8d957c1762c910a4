//go:build !linux

package pgtest

import "os/exec"

// setDeathSignal does nothing where the parent's death cannot be signalled:
// a test that panics may leave the server running there.
func setDeathSignal(cmd *exec.Cmd) {}
