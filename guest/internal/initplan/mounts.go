package initplan

import (
	"fmt"
	"path"
	"strings"
)

// MountFlags are Linux mount(2) flags; the values are the kernel's, so
// the main package passes them through unchanged (a test checks them
// against golang.org/x/sys/unix).
type MountFlags uintptr

// The mount(2) flags the plan uses.
const (
	MSRdonly MountFlags = 0x1
	MSNosuid MountFlags = 0x2
	MSNodev  MountFlags = 0x4
	MSNoexec MountFlags = 0x8
	MSBind   MountFlags = 0x1000
	MSMove   MountFlags = 0x2000
)

// Op is what a Step does.
type Op int

// Step operations.
const (
	// OpMkdir creates Target and its parents with Mode.
	OpMkdir Op = iota
	// OpMount calls mount(Source, Target, FSType, Flags, Data).
	OpMount
	// OpTouch creates an empty file Target with Mode (a bind-mount point).
	OpTouch
	// OpSwitchRoot makes Target the root: chdir(Target),
	// mount(".", "/", MS_MOVE), chroot("."), chdir("/").
	OpSwitchRoot
)

// Step is one action of the boot plan.
type Step struct {
	Op     Op
	Source string
	Target string
	FSType string
	Flags  MountFlags
	Data   string
	Mode   uint32
	// Optional steps may fail; init-oci then prints a warning and goes on.
	Optional bool
}

func (s Step) String() string {
	switch s.Op {
	case OpMkdir:
		return fmt.Sprintf("mkdir %s", s.Target)
	case OpTouch:
		return fmt.Sprintf("create %s", s.Target)
	case OpSwitchRoot:
		return fmt.Sprintf("make %s the root (MS_MOVE + chroot)", s.Target)
	}
	if s.Flags&MSBind != 0 {
		return fmt.Sprintf("bind-mount %s on %s", s.Source, s.Target)
	}
	return fmt.Sprintf("mount %s (%s%s) on %s", s.FSType, s.Source, dataSuffix(s.Data), s.Target)
}

func dataSuffix(d string) string {
	if d == "" {
		return ""
	}
	return " " + d
}

// Layout is where things are while init-oci builds the root.
type Layout struct {
	// Rootfs is the image's read-only tree on the root disk (lower layer).
	Rootfs string
	// Staging is a directory of the root disk that gets a tmpfs holding
	// the overlay's upper and work directories and the new root's mount
	// point. It must exist on the disk.
	Staging string
	// Agent is the agent binary on the root disk, "" when absent.
	Agent string
}

// AgentRootPath is where the agent binary appears inside the new root
// (bind-mounted onto the /run tmpfs, so the image's tree is not touched).
const AgentRootPath = "/run/supermachine-agent"

// DefaultStaging is Layout.Staging as init-oci uses it.
const DefaultStaging = "/run"

// MountPlan returns the steps that build the container root: a tmpfs for
// the overlay's writable layers, the overlay on the read-only image tree,
// the API file systems inside it, the agent binary, and the switch.
func MountPlan(l Layout) ([]Step, error) {
	for name, p := range map[string]string{"rootfs": l.Rootfs, "staging": l.Staging} {
		if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
			return nil, fmt.Errorf("%s directory %q must be a clean absolute path other than /", name, p)
		}
	}
	if strings.ContainsAny(l.Rootfs+l.Staging, ",:\\") {
		return nil, fmt.Errorf("overlayfs cannot take directories holding ',', ':' or '\\' (%q, %q)", l.Rootfs, l.Staging)
	}
	if l.Rootfs == l.Staging || strings.HasPrefix(l.Rootfs, l.Staging+"/") || strings.HasPrefix(l.Staging, l.Rootfs+"/") {
		return nil, fmt.Errorf("rootfs %q and staging %q must not contain each other", l.Rootfs, l.Staging)
	}
	upper, work := l.Staging+"/overlay/upper", l.Staging+"/overlay/work"
	root := l.Staging + "/root"
	in := func(p string) string { return root + p }
	const nsd = MSNosuid | MSNodev
	steps := []Step{
		{Op: OpMount, Source: "tmpfs", Target: l.Staging, FSType: "tmpfs", Flags: nsd, Data: "mode=0755"},
		{Op: OpMkdir, Target: upper, Mode: 0o755},
		{Op: OpMkdir, Target: work, Mode: 0o755},
		{Op: OpMkdir, Target: root, Mode: 0o755},
		{Op: OpMount, Source: "overlay", Target: root, FSType: "overlay",
			Data: "lowerdir=" + l.Rootfs + ",upperdir=" + upper + ",workdir=" + work},
	}
	for _, d := range []string{"/proc", "/sys", "/dev", "/run", "/tmp"} {
		steps = append(steps, Step{Op: OpMkdir, Target: in(d), Mode: 0o755})
	}
	steps = append(steps,
		Step{Op: OpMount, Source: "proc", Target: in("/proc"), FSType: "proc", Flags: nsd | MSNoexec},
		Step{Op: OpMount, Source: "sysfs", Target: in("/sys"), FSType: "sysfs", Flags: nsd | MSNoexec},
		Step{Op: OpMount, Source: "devtmpfs", Target: in("/dev"), FSType: "devtmpfs", Flags: MSNosuid, Data: "mode=0755"},
		Step{Op: OpMkdir, Target: in("/dev/pts"), Mode: 0o755, Optional: true},
		Step{Op: OpMount, Source: "devpts", Target: in("/dev/pts"), FSType: "devpts", Flags: MSNosuid | MSNoexec,
			Data: "newinstance,ptmxmode=0666,mode=0620", Optional: true},
		Step{Op: OpMkdir, Target: in("/dev/shm"), Mode: 0o755, Optional: true},
		Step{Op: OpMount, Source: "shm", Target: in("/dev/shm"), FSType: "tmpfs", Flags: nsd, Data: "mode=1777", Optional: true},
		Step{Op: OpMount, Source: "tmpfs", Target: in("/run"), FSType: "tmpfs", Flags: nsd, Data: "mode=0755"},
		Step{Op: OpMount, Source: "tmpfs", Target: in("/tmp"), FSType: "tmpfs", Flags: nsd, Data: "mode=1777"},
	)
	if l.Agent != "" {
		steps = append(steps,
			Step{Op: OpTouch, Target: in(AgentRootPath), Mode: 0o755},
			Step{Op: OpMount, Source: l.Agent, Target: in(AgentRootPath), Flags: MSBind},
		)
	}
	return append(steps, Step{Op: OpSwitchRoot, Target: root}), nil
}
