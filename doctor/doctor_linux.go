package doctor

import (
	"os"
	"syscall"
)

// clockSynchronized asks the kernel (adjtimex) whether NTP keeps the clock
// synchronized.
func clockSynchronized() (synced, known bool) {
	var tx syscall.Timex
	state, err := syscall.Adjtimex(&tx)
	if err != nil {
		return false, false
	}
	const timeError = 5 // TIME_ERROR: the clock is not synchronized
	return state != timeError, true
}

// fileOwner returns the uid owning a file.
func fileOwner(fi os.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// writable reports whether this user may create files in dir.
func writable(dir string) bool {
	const wOK, xOK = 0o2, 0o1
	return syscall.Access(dir, wOK|xOK) == nil
}
