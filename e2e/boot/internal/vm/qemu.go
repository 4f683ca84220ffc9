// Package vm boots the module's packaged kernel, init-oci and agent under
// qemu-system-aarch64 (software emulation) for the boot tests and the demo:
// it extracts the assets through package kernel, builds the guest probe and
// a root disk without privileges, runs QEMU with the console captured to a
// file, and always kills QEMU (by PID) when a boot ends or times out.
package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Tools are the host programs a boot needs.
type Tools struct {
	QEMU, Mkfs string
}

// FindTools looks up qemu-system-aarch64 and mkfs.ext4 on PATH (and in
// /sbin and /usr/sbin, where Debian puts mkfs.ext4). The error names what is
// missing and the Debian packages that provide it.
func FindTools() (Tools, error) {
	var t Tools
	var missing []string
	look := func(name, pkg string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/sbin"} {
			if p := dir + "/" + name; fileExists(p) {
				return p
			}
		}
		missing = append(missing, fmt.Sprintf("%s (Debian package %s)", name, pkg))
		return ""
	}
	t.QEMU = look("qemu-system-aarch64", "qemu-system-arm")
	t.Mkfs = look("mkfs.ext4", "e2fsprogs")
	if len(missing) > 0 {
		return t, fmt.Errorf("not installed: %s", strings.Join(missing, ", "))
	}
	return t, nil
}

// BaseAppend is the kernel command line every boot starts with; init-oci
// reads its own settings (SM_*) and passes other KEY=VALUE words to the
// entrypoint as environment variables.
var BaseAppend = []string{
	"console=hvc0", "quiet", "cryptomgr.notests=1",
	"root=/dev/vda", "rootfstype=ext4", "ro", "init=" + InitPath, "panic=-1",
}

// Config is one boot.
type Config struct {
	Tools  Tools
	Kernel string
	Disk   string
	// Append holds kernel command-line words added after BaseAppend.
	Append []string
	// Console is the file the guest's hvc0 is written to.
	Console string
	// AgentSocket, when set, adds a virtio serial port (guest AgentDevice)
	// backed by a unix socket QEMU listens on at this path.
	AgentSocket string
	// Timeout bounds the boot, from start to QEMU's exit.
	Timeout time.Duration
}

// Args returns QEMU's command line (without the program).
func (c *Config) Args() ([]string, error) {
	for what, p := range map[string]string{"kernel": c.Kernel, "disk": c.Disk, "console": c.Console, "agent socket": c.AgentSocket} {
		// QEMU's option syntax has no escape for these.
		if strings.ContainsAny(p, ",=") && what != "kernel" {
			return nil, fmt.Errorf("%s path %q: QEMU options cannot take a path holding ',' or '='", what, p)
		}
	}
	// sun_path holds 108 bytes including the NUL.
	if len(c.AgentSocket) > 107 {
		return nil, fmt.Errorf("agent socket path %q is %d bytes, longer than a unix socket path can be (107): use a shorter TMPDIR", c.AgentSocket, len(c.AgentSocket))
	}
	args := []string{
		"-M", "virt", "-global", "virtio-mmio.force-legacy=false", "-cpu", "cortex-a72", "-smp", "1", "-m", "256",
		"-no-reboot", "-nic", "none", "-display", "none", "-serial", "none", "-monitor", "none",
		"-drive", "file=" + c.Disk + ",format=raw,if=none,id=d0,readonly=on", "-device", "virtio-blk-device,drive=d0",
		"-device", "virtio-serial-device",
		"-chardev", "file,id=c0,path=" + c.Console, "-device", "virtconsole,chardev=c0",
	}
	if c.AgentSocket != "" {
		args = append(args,
			"-chardev", "socket,id=c1,path="+c.AgentSocket+",server=on,wait=off",
			"-device", "virtserialport,chardev=c1,name="+AgentPortName)
	}
	args = append(args, "-kernel", c.Kernel, "-append", strings.Join(append(append([]string{}, BaseAppend...), c.Append...), " "))
	return args, nil
}

// Machine is a running QEMU.
type Machine struct {
	cfg     Config
	cmd     *exec.Cmd
	stderr  lockedBuffer
	start   time.Time
	done    chan struct{}
	waitErr error
	timeout bool
	mu      sync.Mutex
}

// Result is how a boot ended.
type Result struct {
	// Err is QEMU's exit error (nil: it exited 0, i.e. the guest powered
	// off by itself).
	Err error
	// TimedOut says QEMU was killed because Config.Timeout expired.
	TimedOut bool
	// Elapsed is the time from start to QEMU's exit.
	Elapsed time.Duration
	// Console is the guest console log; Stderr is QEMU's own output.
	Console, Stderr []byte
}

// Start starts QEMU. The caller must call Wait or Kill.
func Start(cfg Config) (*Machine, error) {
	args, err := cfg.Args()
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		return nil, errors.New("vm: Config.Timeout must be positive")
	}
	// An empty console file exists from the start, so polling it never
	// races QEMU's creation of it.
	if err := os.WriteFile(cfg.Console, nil, 0o644); err != nil {
		return nil, err
	}
	m := &Machine{cfg: cfg, done: make(chan struct{})}
	m.cmd = exec.Command(cfg.Tools.QEMU, args...)
	m.cmd.Stdout, m.cmd.Stderr = &m.stderr, &m.stderr
	m.cmd.SysProcAttr = sysProcAttr()
	m.start = time.Now()
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cfg.Tools.QEMU, err)
	}
	go func() {
		err := m.cmd.Wait()
		m.mu.Lock()
		m.waitErr = err
		m.mu.Unlock()
		close(m.done)
	}()
	go func() {
		timer := time.NewTimer(cfg.Timeout)
		defer timer.Stop()
		select {
		case <-m.done:
		case <-timer.C:
			m.mu.Lock()
			m.timeout = true
			m.mu.Unlock()
			m.Kill()
		}
	}()
	return m, nil
}

// PID is QEMU's process id.
func (m *Machine) PID() int { return m.cmd.Process.Pid }

// Kill kills QEMU by its PID (SIGKILL) unless it already exited, and waits
// for it to be reaped. It is safe to call more than once.
func (m *Machine) Kill() {
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Kill() // kill(pid, SIGKILL); the reaper has not run yet, so the PID is still ours
	<-m.done
}

// Done is closed once QEMU has exited.
func (m *Machine) Done() <-chan struct{} { return m.done }

// Wait waits for QEMU to exit (or the timeout to kill it).
func (m *Machine) Wait() Result {
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return Result{
		Err: m.waitErr, TimedOut: m.timeout, Elapsed: time.Since(m.start),
		Console: m.Console(), Stderr: m.stderr.Bytes(),
	}
}

// Console returns the console log so far.
func (m *Machine) Console() []byte {
	b, _ := os.ReadFile(m.cfg.Console)
	return b
}

// Stderr returns QEMU's own output so far.
func (m *Machine) Stderr() []byte { return m.stderr.Bytes() }

// DialAgent connects to the agent's port socket (Config.AgentSocket) as
// soon as QEMU listens on it, retrying until ctx ends or QEMU exits.
//
// Connect before the guest boots: while no host is connected, a read of
// the guest's port returns end-of-file, and the agent polls (up to a second
// apart) until one is; a host that is already there is served at once.
// QEMU keeps what the host sends in the socket until the agent opens the
// port.
func (m *Machine) DialAgent(ctx context.Context) (net.Conn, error) {
	if m.cfg.AgentSocket == "" {
		return nil, errors.New("vm: DialAgent: the machine has no agent port")
	}
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "unix", m.cfg.AgentSocket)
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connecting to the agent port %s: %v (%w)", m.cfg.AgentSocket, err, ctx.Err())
		case <-m.done:
			return nil, fmt.Errorf("QEMU exited before its agent port %s accepted a connection: %v", m.cfg.AgentSocket, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// WaitForLine waits until the console has a line equal to line. It fails
// when ctx ends or QEMU exits first.
func (m *Machine) WaitForLine(ctx context.Context, line string) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if HasLine(m.Console(), line) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no %q line on the console after %v: %w", line, time.Since(m.start).Round(time.Millisecond), ctx.Err())
		case <-m.done:
			if HasLine(m.Console(), line) {
				return nil
			}
			return fmt.Errorf("QEMU exited before the console showed %q", line)
		case <-tick.C:
		}
	}
}

// HasLine reports whether console has a line equal to s, ignoring the
// "\r" the guest tty adds before each newline.
func HasLine(console []byte, s string) bool {
	for _, l := range bytes.Split(console, []byte("\n")) {
		if string(bytes.TrimRight(l, "\r")) == s {
			return true
		}
	}
	return false
}

// Describe formats r for a failure message: how QEMU ended, its own output
// and the whole guest console.
func (r Result) Describe() string {
	var b strings.Builder
	switch {
	case r.TimedOut:
		fmt.Fprintf(&b, "QEMU killed after the %v timeout", r.Elapsed.Round(time.Millisecond))
	case r.Err != nil:
		fmt.Fprintf(&b, "QEMU ended after %v: %v", r.Elapsed.Round(time.Millisecond), r.Err)
	default:
		fmt.Fprintf(&b, "QEMU exited 0 after %v", r.Elapsed.Round(time.Millisecond))
	}
	if s := strings.TrimSpace(string(r.Stderr)); s != "" {
		fmt.Fprintf(&b, "\n--- QEMU output ---\n%s", s)
	}
	fmt.Fprintf(&b, "\n--- guest console (%d bytes) ---\n%s\n--- end of guest console ---", len(r.Console), r.Console)
	return b.String()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b.Bytes()...)
}

// AgentDevice is the agent's port in the guest (SM_AGENT=AgentDevice on the
// kernel command line): the hvc0 console is port 0 of the virtio-serial
// device, the agent's port is port 1.
//
// It is a virtserialport, not a second virtconsole: QEMU drops console-port
// output whenever the host socket would block (hw/char/virtio-console.c
// flush_buf throttles only non-console ports), which lost 64 KiB of a 1 MiB
// exec output here; a serial port is flow-controlled, and QEMU keeps the
// host's bytes in the socket until the guest opens the port.
const AgentDevice = "/dev/vport0p1"

// AgentPortName is the name of the agent's virtio serial port
// (/sys/class/virtio-ports/*/name in the guest).
const AgentPortName = "supermachine.agent"
