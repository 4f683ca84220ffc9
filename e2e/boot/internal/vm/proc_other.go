//go:build !linux

package vm

import "syscall"

// sysProcAttr: without Pdeathsig, QEMU is killed only by Kill and the boot
// timeout.
func sysProcAttr() *syscall.SysProcAttr { return nil }
