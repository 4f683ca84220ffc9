//go:build linux

// Command supermachine-agent serves exec requests inside a supermachine
// guest (protocol: docs/agent-protocol.md). It listens on AF_VSOCK by
// default, or serves one byte stream such as a virtconsole (/dev/hvc1),
// reopening it whenever the host side goes away, or listens on a unix
// socket. init-oci starts it; see docs/guest.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/supermachine/supermachine_kernel/guest/internal/agent"
)

func main() {
	port := flag.Uint("vsock-port", 1024, "AF_VSOCK port to listen on (any CID)")
	stream := flag.String("stream", "", "serve this byte-stream device (e.g. /dev/hvc1) instead of vsock")
	sock := flag.String("unix", "", "listen on this unix socket path instead of vsock")
	verbose := flag.Bool("v", false, "log every rejected frame and session error")
	flag.Parse()
	if flag.NArg() != 0 || (*stream != "" && *sock != "") {
		fmt.Fprintln(os.Stderr, "usage: supermachine-agent [-vsock-port N | -stream DEVICE | -unix PATH] [-v]")
		os.Exit(2)
	}
	srv := &agent.Server{}
	if *verbose {
		srv.Logf = logf
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var err error
	switch {
	case *stream != "":
		err = serveStream(ctx, srv, *stream)
	case *sock != "":
		var l net.Listener
		if l, err = net.Listen("unix", *sock); err == nil {
			err = srv.Serve(ctx, l)
		}
	default:
		err = serveVsock(ctx, srv, uint32(*port))
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		logf("%v", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "supermachine-agent: "+format+"\n", args...)
}

// serveStream serves a device until ctx ends. When the host side goes
// away the stream reads EOF: the sessions end, and a new stream is served on
// the same open file once the host is back. The device is not reopened for
// that, because opening a virtio port discards the bytes the host already
// sent; it is reopened only after a read or write error.
func serveStream(ctx context.Context, srv *agent.Server, dev string) error {
	backoff := 100 * time.Millisecond
	var f *os.File
	for ctx.Err() == nil {
		if f == nil {
			var err error
			if f, err = os.OpenFile(dev, os.O_RDWR|syscall.O_NOCTTY, 0); err != nil {
				logf("open %s: %v (retrying)", dev, err)
				f = nil
			} else if err := agent.MakeRaw(int(f.Fd())); err != nil && !errors.Is(err, unix.ENOTTY) {
				logf("%s: raw mode: %v", dev, err)
			}
		}
		start := time.Now()
		if f != nil {
			if err := srv.ServeConn(ctx, keepOpen{f, ctx}); err != nil {
				logf("%s: %v (reopening)", dev, err)
				f.Close()
				f = nil
			}
		}
		if time.Since(start) > time.Second {
			backoff = 100 * time.Millisecond
		}
		// EOF right away means no host is connected yet: poll gently.
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
	if f != nil {
		f.Close()
	}
	return ctx.Err()
}

// keepOpen stops ServeConn from closing the device at the end of a
// stream; once ctx is done, closing is what interrupts the pending read.
type keepOpen struct {
	*os.File
	ctx context.Context
}

func (k keepOpen) Close() error {
	if k.ctx.Err() != nil {
		return k.File.Close()
	}
	return nil
}

func serveVsock(ctx context.Context, srv *agent.Server, port uint32) error {
	l, err := agent.ListenVsock(port)
	if err != nil {
		return err
	}
	return srv.Serve(ctx, l)
}
