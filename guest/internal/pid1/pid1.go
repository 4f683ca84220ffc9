//go:build linux

// Package pid1 is init-oci's supervision loop: start the entrypoint, reap
// every process that ends up as our child (PID 1 inherits all orphans),
// forward termination signals to the entrypoint, and return its wait
// status. It works the same in a child subreaper, which is how it is tested.
package pid1

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Reaped describes a child other than the entrypoint that was reaped.
type Reaped struct {
	PID    int
	Status syscall.WaitStatus
}

// Supervise runs start (which must fork the entrypoint and return its
// pid), then reaps children until the entrypoint is reaped, sending every
// signal from sigs to it. Other reaped children are reported to onReap
// (may be nil). Callers must not wait for children themselves meanwhile.
func Supervise(start func() (int, error), sigs <-chan os.Signal, onReap func(Reaped)) (syscall.WaitStatus, error) {
	pid, err := start()
	if err != nil {
		return 0, err
	}
	type result struct {
		pid int
		ws  syscall.WaitStatus
		err error
	}
	results := make(chan result)
	go func() {
		for {
			var ws syscall.WaitStatus
			p, err := syscall.Wait4(-1, &ws, 0, nil)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			results <- result{p, ws, err}
			if err != nil || p == pid {
				return
			}
		}
	}()
	for {
		select {
		case sig := <-sigs:
			if s, ok := sig.(syscall.Signal); ok {
				_ = syscall.Kill(pid, s)
			}
		case r := <-results:
			if r.err != nil {
				// ECHILD: the entrypoint is gone without us seeing it.
				return 0, fmt.Errorf("waiting for the entrypoint (pid %d): %w", pid, r.err)
			}
			if r.pid == pid {
				return r.ws, nil
			}
			if onReap != nil {
				onReap(Reaped{PID: r.pid, Status: r.ws})
			}
		}
	}
}
