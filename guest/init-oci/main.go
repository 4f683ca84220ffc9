//go:build linux

// Command init-oci is PID 1 of a supermachine microVM. It turns the
// read-only root disk into an overlay root, starts supermachine-agent, runs
// the OCI image's entrypoint, reaps orphans, forwards SIGTERM/SIGINT, prints
// one status line on the console and powers the VM off. docs/guest.md
// describes the disk layout and the kernel command line; the decisions
// live in guest/internal/initplan, this file only carries them out.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/supermachine/supermachine_kernel/guest/initstatus"
	"github.com/supermachine/supermachine_kernel/guest/internal/initplan"
	"github.com/supermachine/supermachine_kernel/guest/internal/pathenv"
	"github.com/supermachine/supermachine_kernel/guest/internal/pid1"
)

func main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, initstatus.Failed(errors.New("must run as PID 1 (the kernel's init=); refusing to mount over this system")))
		os.Exit(2)
	}
	ensureConsole()
	st := run()
	os.Stdout.Write(st.Line())
	powerOff()
}

// ensureConsole gives us a console when the kernel could not open
// /dev/console (a disk without /dev): mount devtmpfs and open it.
func ensureConsole() {
	var s unix.Stat_t
	if unix.Fstat(1, &s) == nil {
		return
	}
	_ = unix.Mount("devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755")
	fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return // nowhere to report anything; the exit still powers off
	}
	for i := 0; i < 3; i++ {
		_ = unix.Dup3(fd, i, 0)
	}
}

func warnf(format string, args ...any) {
	fmt.Fprintf(os.Stdout, initstatus.Prefix+"warning: "+format+"\n", args...)
}

func run() initstatus.Status {
	ov, err := initplan.ParseOverrides(os.Environ())
	if err != nil {
		return initstatus.Failed(err)
	}
	data, err := os.ReadFile(ov.ConfigPath)
	if err != nil {
		return initstatus.Failed(fmt.Errorf("reading the image config: %w", err))
	}
	cfg, err := initplan.ParseImageConfig(ov.ConfigPath, data)
	if err != nil {
		return initstatus.Failed(err)
	}
	if err := cfg.CheckPlatform(ov.ConfigPath, runtime.GOARCH); err != nil {
		return initstatus.Failed(err)
	}
	proc, err := initplan.Resolve(cfg, ov)
	if err != nil {
		return initstatus.Failed(fmt.Errorf("%s: %w", ov.ConfigPath, err))
	}
	if st, err := os.Stat(ov.Rootfs); err != nil || !st.IsDir() {
		return initstatus.Failed(fmt.Errorf("image tree %s: not a directory on the root disk (%v)", ov.Rootfs, err))
	}
	layout := initplan.Layout{Rootfs: ov.Rootfs, Staging: initplan.DefaultStaging}
	if !ov.Agent.Off {
		if st, err := os.Stat(initplan.AgentDiskPath); err == nil && st.Mode().IsRegular() {
			layout.Agent = initplan.AgentDiskPath
		} else {
			warnf("no agent at %s on the root disk; exec into this VM is unavailable", initplan.AgentDiskPath)
		}
	}
	steps, err := initplan.MountPlan(layout)
	if err != nil {
		return initstatus.Failed(err)
	}
	for _, s := range steps {
		if err := do(s); err != nil {
			if s.Optional {
				warnf("%v: %v", s, err)
				continue
			}
			return initstatus.Failed(fmt.Errorf("%v: %w", s, err))
		}
	}
	// From here on "/" is the container root.
	cred, err := initplan.ResolveUser(proc.User, readOptional("/etc/passwd"), readOptional("/etc/group"))
	if err != nil {
		return initstatus.Failed(err)
	}
	env := proc.Env
	if _, ok := pathenv.Get(env, "HOME"); !ok {
		env = append(env, "HOME="+cred.Home)
	}
	argv0, err := pathenv.LookPath("", proc.Argv[0], env)
	if err != nil {
		return initstatus.Failed(fmt.Errorf("entrypoint: %w", err))
	}
	if st, err := os.Stat(proc.Dir); err != nil || !st.IsDir() {
		return initstatus.Failed(fmt.Errorf("working directory %s: %v", proc.Dir, errOrNotDir(err)))
	}
	agentPID := 0
	if layout.Agent != "" {
		// The image's environment, without the entrypoint user's HOME:
		// the agent runs as root.
		agentPID = startAgent(ov.Agent, proc.Env)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	ws, err := pid1.Supervise(func() (int, error) {
		pid, err := syscall.ForkExec(argv0, proc.Argv, &syscall.ProcAttr{
			Dir: proc.Dir, Env: env, Files: []uintptr{0, 1, 2},
			Sys: &syscall.SysProcAttr{Credential: &syscall.Credential{
				Uid: cred.UID, Gid: cred.GID, Groups: cred.Groups, NoSetGroups: false,
			}},
		})
		if err != nil {
			return 0, fmt.Errorf("starting entrypoint %q: %w", argv0, err)
		}
		return pid, nil
	}, sigs, func(r pid1.Reaped) {
		if r.PID == agentPID {
			warnf("supermachine-agent (pid %d) ended: %s", r.PID, describe(r.Status))
		}
	})
	if err != nil {
		return initstatus.Failed(err)
	}
	if ws.Signaled() {
		return initstatus.Signaled(int(ws.Signal()))
	}
	return initstatus.Exited(ws.ExitStatus())
}

func errOrNotDir(err error) error {
	if err != nil {
		return err
	}
	return errors.New("not a directory")
}

func readOptional(name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		warnf("%s: %v (ignored)", name, err)
	}
	return b
}

// startAgent starts supermachine-agent in the background as root in the
// container root; its output goes to the console. It is reaped by the
// supervision loop; failing to start it is reported, not fatal.
func startAgent(m initplan.AgentMode, env []string) int {
	argv := append([]string{initplan.AgentRootPath}, m.Args()...)
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Dir: "/", Env: env, Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		warnf("starting %s: %v", initplan.AgentRootPath, err)
		return 0
	}
	return pid
}

func describe(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

func do(s initplan.Step) error {
	switch s.Op {
	case initplan.OpMkdir:
		return os.MkdirAll(s.Target, fs.FileMode(s.Mode))
	case initplan.OpTouch:
		f, err := os.OpenFile(s.Target, os.O_CREATE|os.O_WRONLY, fs.FileMode(s.Mode))
		if err != nil {
			return err
		}
		return f.Close()
	case initplan.OpMount:
		return unix.Mount(s.Source, s.Target, s.FSType, uintptr(s.Flags), s.Data)
	case initplan.OpSwitchRoot:
		if err := unix.Chdir(s.Target); err != nil {
			return err
		}
		if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move to /: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		return unix.Chdir("/")
	}
	return fmt.Errorf("unknown step %d", s.Op)
}

// powerOff syncs and powers the VM off; it never returns. If the kernel
// refuses, exiting PID 1 panics the kernel, which with panic=-1 reboots: the
// VM still ends rather than hangs.
func powerOff() {
	unix.Sync()
	err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	fmt.Fprintln(os.Stdout, initstatus.Failed(fmt.Errorf("reboot(POWER_OFF): %v", err)))
	time.Sleep(100 * time.Millisecond)
	os.Exit(1)
}
