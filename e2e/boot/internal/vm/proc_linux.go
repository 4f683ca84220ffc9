package vm

import "syscall"

// sysProcAttr makes QEMU die with the test process even when that process
// is killed outright and cannot run its cleanups.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
