package agent

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/supermachine/supermachine_kernel/agentclient"
)

// A virtconsole (/dev/hvc1) is a tty. Serve the protocol over the slave
// side of a pseudo-terminal in raw mode and check that bytes a cooked tty
// would mangle (CR, LF, ^C, ^D, ^S, DEL, 0xff) cross it unchanged.
func TestServeOverRawTTY(t *testing.T) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	sfd, err := unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The host end of a virtconsole is a plain byte stream; make the pty
	// master's side raw too so it behaves like one.
	for _, fd := range []int{sfd, mfd} {
		if err := MakeRaw(fd); err != nil {
			t.Fatalf("MakeRaw: %v", err)
		}
		// Non-blocking, so the files use the poller and Close interrupts
		// a pending Read (as for a device opened with os.OpenFile).
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	slave := os.NewFile(uintptr(sfd), "pty-slave")
	master := os.NewFile(uintptr(mfd), "pty-master")
	done := make(chan error, 1)
	go func() { done <- (&Server{Logf: t.Logf}).ServeConn(context.Background(), slave) }()
	c := agentclient.New(master)
	defer func() {
		c.Close()
		slave.Close()
		<-done
	}()
	var data []byte
	for i := 0; i < 200000; i++ {
		data = append(data, byte(i), '\r', '\n', 0x03, 0x04, 0x13, 0x7f, 0xff)
	}
	var out bytes.Buffer
	res, err := c.Exec(ctxT(t), agentclient.Request{Argv: []string{"cat"}, Stdin: bytes.NewReader(data), Stdout: &out})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Exec: %+v, %v", res, err)
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Errorf("got %d bytes back, want the %d sent unchanged", out.Len(), len(data))
	}
}
