package agent

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// No vsock transport works on the test machines (no vhost-vsock, no
// loopback), but the listener's life cycle can be checked: it binds, and
// cancelling Serve interrupts the pending Accept.
func TestVsockListenerCancel(t *testing.T) {
	l, err := ListenVsock(0x5e7a)
	if errors.Is(err, unix.EAFNOSUPPORT) {
		t.Skipf("no AF_VSOCK here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Addr().String(); got != "4294967295:24186" {
		t.Errorf("Addr() = %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{}).Serve(ctx, l) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Serve = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel: Accept was not interrupted")
	}
	// The port is free again.
	l2, err := ListenVsock(0x5e7a)
	if err != nil {
		t.Fatalf("listen again: %v", err)
	}
	l2.Close()
}
