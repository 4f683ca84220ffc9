package boot_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/supermachine/supermachine_kernel/e2e/boot/internal/report"
	"github.com/supermachine/supermachine_kernel/e2e/boot/internal/vm"
	"github.com/supermachine/supermachine_kernel/guest/initstatus"
)

// overlayfsMagic is OVERLAYFS_SUPER_MAGIC, statfs's f_type of an overlay.
const overlayfsMagic = 0x794c7630

const originalGreeting = "greeting from the image layer\n"

// TestBootEntrypoint boots the packaged kernel with init-oci as PID 1 on an
// image whose entrypoint is the probe, and checks from the console what the
// entrypoint saw: argv, env and working dir from the image config with a
// kernel command-line override, an overlay root whose writes land in the
// tmpfs upper layer, AF_TSI registered, and its exit status in init-oci's
// status line before the VM powers off by itself.
func TestBootEntrypoint(t *testing.T) {
	t.Parallel()
	needSuite(t)
	img := vm.Image{
		Config: vm.ImageConfig{
			Entrypoint: []string{"probe", "main", "--from-image"},
			Cmd:        []string{"image-cmd-replaced-by-the-kernel-command-line"},
			Env:        []string{"PATH=/usr/local/bin:/bin", "GREETING=hello from the image config", "SPACED=a b  c"},
			WorkingDir: "/work",
		},
		Files: map[string]vm.File{
			"/bin/probe":        probeFile(),
			"/etc/greeting.txt": {Data: []byte(originalGreeting)},
			"/etc/passwd":       {Data: []byte("root:x:0:0:root:/root:/bin/sh\n")},
			"/work/marker.txt":  {Data: []byte("the working dir\n")},
		},
		Dirs: []string{"/root"},
	}
	b := newBoot(t, img,
		`SM_CMD=["from-cmdline","--flag=1"]`, // replaces the image's Cmd
		"BOOT_OVERRIDE=cmdline-value",        // passed through as an env var
		"PROBE_EXIT=42")
	b.start()
	b.wait()
	t.Run("status-line-and-power-off", func(t *testing.T) { b.checkEnd(t, initstatus.Exited(42)) })

	r, err := report.Find(b.res.Console)
	if err != nil {
		b.fatalf("the entrypoint's report: %v", err)
	}
	t.Run("greeting", func(t *testing.T) {
		if !vm.HasLine(b.res.Console, report.Greeting) {
			b.errorf(t, "no greeting %q on the console", report.Greeting)
		}
	})
	t.Run("argv", func(t *testing.T) {
		want := []string{"probe", "main", "--from-image", "from-cmdline", "--flag=1"}
		if !slices.Equal(r.Argv, want) {
			b.errorf(t, "argv: got %q, want %q (image Entrypoint + SM_CMD from the kernel command line)", r.Argv, want)
		}
	})
	t.Run("env", func(t *testing.T) {
		for _, kv := range []string{
			"PATH=/usr/local/bin:/bin", "GREETING=hello from the image config", "SPACED=a b  c", // image config
			"BOOT_OVERRIDE=cmdline-value", "PROBE_EXIT=42", // kernel command line
			"HOME=/root", // from the image's /etc/passwd
		} {
			if !slices.Contains(r.Env, kv) {
				b.errorf(t, "env lacks %q; got %q", kv, r.Env)
			}
		}
		for _, kv := range r.Env {
			if strings.HasPrefix(kv, "SM_") {
				b.errorf(t, "init-oci's own setting %q leaked into the entrypoint's env", kv)
			}
		}
	})
	t.Run("cwd-and-user", func(t *testing.T) {
		if r.Cwd != "/work" {
			b.errorf(t, "working dir: got %q, want /work (the image config's WorkingDir)", r.Cwd)
		}
		if r.UID != 0 || r.PID == 1 {
			b.errorf(t, "entrypoint runs with uid %d pid %d, want uid 0 as a child of PID 1", r.UID, r.PID)
		}
	})
	t.Run("overlay-root", func(t *testing.T) {
		for _, s := range []string{" / / ", " - overlay ", "lowerdir=" + vm.RootfsPath, "upperdir=/run/overlay/upper"} {
			if !strings.Contains(r.RootMount, s) {
				b.errorf(t, "root mount %q lacks %q: / is not the overlay on the image tree", r.RootMount, s)
			}
		}
		if r.WriteErr != "" {
			b.errorf(t, "writing to the overlay root failed: %s", r.WriteErr)
		}
		if r.RootBefore.Err != "" || r.RootAfter.Err != "" || r.TmpStatfs.Err != "" {
			b.errorf(t, "statfs failed: / %q %q, /tmp %q", r.RootBefore.Err, r.RootAfter.Err, r.TmpStatfs.Err)
		}
		if r.RootBefore.Type != overlayfsMagic {
			b.errorf(t, "statfs(/).f_type = %#x, want overlayfs %#x", r.RootBefore.Type, overlayfsMagic)
		}
		// An overlay's statfs is its upper layer's: the same size as a
		// fresh default tmpfs, and charged for what was written.
		if r.RootBefore.Blocks != r.TmpStatfs.Blocks || r.RootBefore.Bsize != r.TmpStatfs.Bsize {
			b.errorf(t, "statfs(/) %d blocks of %d, /tmp (tmpfs) %d of %d: the upper layer is not a tmpfs",
				r.RootBefore.Blocks, r.RootBefore.Bsize, r.TmpStatfs.Blocks, r.TmpStatfs.Bsize)
		}
		if r.RootBefore.Bsize > 0 {
			used := int64(r.RootBefore.Bfree-r.RootAfter.Bfree) * r.RootBefore.Bsize
			if r.RootAfter.Bfree > r.RootBefore.Bfree || used < r.WriteSize {
				b.errorf(t, "writing %d bytes to %s took %d bytes from the upper tmpfs (free blocks %d -> %d): the write did not land there",
					r.WriteSize, r.WrotePath, used, r.RootBefore.Bfree, r.RootAfter.Bfree)
			}
		}
		if r.ImageFileMerged != r.ImageFileNew {
			b.errorf(t, "%s reads %q after writing %q", r.ImageFile, r.ImageFileMerged, r.ImageFileNew)
		}
	})
	t.Run("image-layer-unchanged", func(t *testing.T) {
		// checkEnd compared the disk's sha256 before and after; here the
		// guest's own view of the lower layer.
		if r.LowerErr != "" {
			b.errorf(t, "reading the image layer through %s mounted at %s: %s", r.LowerDevice, r.LowerMount, r.LowerErr)
			return
		}
		if r.LowerImageFile != originalGreeting {
			b.errorf(t, "image layer's %s is %q after the write, want %q unchanged", r.ImageFile, r.LowerImageFile, originalGreeting)
		}
		if r.LowerHasWrote {
			b.errorf(t, "%s, written in the overlay, appeared in the image layer", r.WrotePath)
		}
	})
	t.Run("af-tsi", func(t *testing.T) {
		if r.ProtocolsErr != "" {
			b.errorf(t, "reading /proc/net/protocols: %s", r.ProtocolsErr)
		}
		if !slices.Contains(r.Protocols, "AF_TSI") {
			b.errorf(t, "AF_TSI is not registered: /proc/net/protocols lists %q", r.Protocols)
		}
	})
}
