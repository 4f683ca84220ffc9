package agent

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// ListenVsock listens on AF_VSOCK port (any CID). Package net does not know
// AF_VSOCK, so the sockets are non-blocking fds wrapped in *os.File: they
// use the runtime poller, and Close interrupts a pending Accept or Read.
func ListenVsock(port uint32) (net.Listener, error) {
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("vsock socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: port}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("vsock bind port %d: %w", port, err)
	}
	if err := unix.Listen(fd, 16); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("vsock listen port %d: %w", port, err)
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("vsock:%d", port))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &vsockListener{f: f, rc: rc, addr: vsockAddr{CID: unix.VMADDR_CID_ANY, Port: port}}, nil
}

type vsockListener struct {
	f  *os.File
	rc interface {
		Read(func(uintptr) bool) error
	}
	addr vsockAddr
}

func (l *vsockListener) Accept() (net.Conn, error) {
	for {
		var cfd int
		var sa unix.Sockaddr
		var aerr error
		err := l.rc.Read(func(fd uintptr) bool {
			cfd, sa, aerr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK)
			return !errors.Is(aerr, unix.EAGAIN)
		})
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil, net.ErrClosed
			}
			return nil, err
		}
		if errors.Is(aerr, unix.EINTR) || errors.Is(aerr, unix.ECONNABORTED) {
			continue
		}
		if aerr != nil {
			return nil, fmt.Errorf("vsock accept: %w", aerr)
		}
		remote := vsockAddr{}
		if vm, ok := sa.(*unix.SockaddrVM); ok {
			remote = vsockAddr{CID: vm.CID, Port: vm.Port}
		}
		return &vsockConn{File: os.NewFile(uintptr(cfd), "vsock:"+remote.String()), local: l.addr, remote: remote}, nil
	}
}

func (l *vsockListener) Close() error   { return l.f.Close() }
func (l *vsockListener) Addr() net.Addr { return l.addr }

type vsockConn struct {
	*os.File
	local, remote vsockAddr
}

func (c *vsockConn) LocalAddr() net.Addr  { return c.local }
func (c *vsockConn) RemoteAddr() net.Addr { return c.remote }

type vsockAddr struct{ CID, Port uint32 }

func (vsockAddr) Network() string  { return "vsock" }
func (a vsockAddr) String() string { return fmt.Sprintf("%d:%d", a.CID, a.Port) }
