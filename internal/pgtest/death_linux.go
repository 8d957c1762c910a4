package pgtest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the server shut down at once (SIGQUIT) when the test
// process dies.
func setDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
}
