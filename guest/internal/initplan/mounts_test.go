package initplan

import (
	"strings"
	"testing"
)

func TestMountPlan(t *testing.T) {
	steps, err := MountPlan(Layout{Rootfs: "/image/rootfs", Staging: "/run", Agent: "/supermachine-agent"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range steps {
		got = append(got, s.String())
	}
	want := []string{
		"mount tmpfs (tmpfs mode=0755) on /run",
		"mkdir /run/overlay/upper",
		"mkdir /run/overlay/work",
		"mkdir /run/root",
		"mount overlay (overlay lowerdir=/image/rootfs,upperdir=/run/overlay/upper,workdir=/run/overlay/work) on /run/root",
		"mkdir /run/root/proc", "mkdir /run/root/sys", "mkdir /run/root/dev", "mkdir /run/root/run", "mkdir /run/root/tmp",
		"mount proc (proc) on /run/root/proc",
		"mount sysfs (sysfs) on /run/root/sys",
		"mount devtmpfs (devtmpfs mode=0755) on /run/root/dev",
		"mkdir /run/root/dev/pts",
		"mount devpts (devpts newinstance,ptmxmode=0666,mode=0620) on /run/root/dev/pts",
		"mkdir /run/root/dev/shm",
		"mount tmpfs (shm mode=1777) on /run/root/dev/shm",
		"mount tmpfs (tmpfs mode=0755) on /run/root/run",
		"mount tmpfs (tmpfs mode=1777) on /run/root/tmp",
		"create /run/root/run/supermachine-agent",
		"bind-mount /supermachine-agent on /run/root/run/supermachine-agent",
		"make /run/root the root (MS_MOVE + chroot)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Invariants that matter at boot, whatever the order above says.
	mounted := map[string]bool{"/": true}
	for _, s := range steps {
		if s.Op == OpMount && !mounted[parentMount(s.Target, mounted)] {
			t.Errorf("%v: parent not mounted", s)
		}
		if s.Op == OpMount {
			mounted[s.Target] = true
			if s.Optional && (s.FSType == "overlay" || s.FSType == "proc") {
				t.Errorf("%v must not be optional", s)
			}
			if s.FSType != "" && s.FSType != "overlay" && s.Flags&MSNosuid == 0 {
				t.Errorf("%v: API file systems are mounted nosuid", s)
			}
		}
	}
	if last := steps[len(steps)-1]; last.Op != OpSwitchRoot || last.Target != "/run/root" {
		t.Errorf("last step %v, want the switch to /run/root", last)
	}
}

func parentMount(p string, mounted map[string]bool) string {
	for p != "/" {
		i := strings.LastIndexByte(p, '/')
		if i <= 0 {
			return "/"
		}
		p = p[:i]
		if mounted[p] {
			return p
		}
	}
	return "/"
}

func TestMountPlanWithoutAgent(t *testing.T) {
	steps, err := MountPlan(Layout{Rootfs: "/image/rootfs", Staging: "/run"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if strings.Contains(s.Target, "supermachine-agent") {
			t.Errorf("agent step %v without an agent", s)
		}
	}
}

func TestMountPlanRejects(t *testing.T) {
	tests := []struct {
		l    Layout
		want string
	}{
		{Layout{Rootfs: "image", Staging: "/run"}, "clean absolute"},
		{Layout{Rootfs: "/image/", Staging: "/run"}, "clean absolute"},
		{Layout{Rootfs: "/", Staging: "/run"}, "other than /"},
		{Layout{Rootfs: "/a:b", Staging: "/run"}, "overlayfs"},
		{Layout{Rootfs: "/run/img", Staging: "/run"}, "contain each other"},
	}
	for _, tt := range tests {
		if _, err := MountPlan(tt.l); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want %q", tt.l, err, tt.want)
		}
	}
}
