package vm

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestConfigArgs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      Config
		err      string
		has, not []string
	}{
		{
			name: "console-only",
			cfg:  Config{Kernel: "/k", Disk: "/d/root.ext4", Console: "/d/console.log", Append: []string{"A=1"}},
			has: []string{"file=/d/root.ext4,format=raw,if=none,id=d0,readonly=on", "file,id=c0,path=/d/console.log",
				strings.Join(append(append([]string{}, BaseAppend...), "A=1"), " ")},
			not: []string{"virtserialport,chardev=c1,name=" + AgentPortName},
		},
		{
			name: "agent-port",
			cfg:  Config{Kernel: "/k", Disk: "/d/r", Console: "/d/c", AgentSocket: "/d/a.sock"},
			has:  []string{"socket,id=c1,path=/d/a.sock,server=on,wait=off", "virtserialport,chardev=c1,name=" + AgentPortName},
		},
		{name: "comma-in-disk", cfg: Config{Kernel: "/k", Disk: "/d/a,b", Console: "/d/c"}, err: "disk path"},
		{name: "equals-in-console", cfg: Config{Kernel: "/k", Disk: "/d/r", Console: "/d/c=1"}, err: "console path"},
		{name: "long-socket", cfg: Config{Kernel: "/k", Disk: "/d/r", Console: "/d/c", AgentSocket: "/" + strings.Repeat("s", 107)}, err: "longer than a unix socket path"},
		{name: "comma-in-socket", cfg: Config{Kernel: "/k", Disk: "/d/r", Console: "/d/c", AgentSocket: "/d/s,x"}, err: "agent socket path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, err := tc.cfg.Args()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Args: got %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.has {
				if !slices.Contains(args, s) {
					t.Errorf("args lack %q: %q", s, args)
				}
			}
			for _, s := range tc.not {
				if slices.Contains(args, s) {
					t.Errorf("args hold %q: %q", s, args)
				}
			}
		})
	}
}

func TestHasLine(t *testing.T) {
	for _, tc := range []struct {
		console, line string
		want          bool
	}{
		{"a\nready\nb\n", "ready", true},
		{"a\r\nready\r\n", "ready", true},
		{"ready", "ready", true},
		{"not ready\n", "ready", false},
		{"ready now\n", "ready", false},
		{"", "ready", false},
	} {
		if got := HasLine([]byte(tc.console), tc.line); got != tc.want {
			t.Errorf("HasLine(%q, %q) = %v, want %v", tc.console, tc.line, got, tc.want)
		}
	}
}

// TestBuildDisk builds a disk from fake assets and reads it back with
// debugfs (e2fsprogs), without mounting anything.
func TestBuildDisk(t *testing.T) {
	tools, err := FindTools()
	if err != nil || !hasDebugfs() {
		t.Skipf("needs mkfs.ext4 and debugfs: %v", err)
	}
	dir := t.TempDir()
	a := Assets{Kernel: filepath.Join(dir, "k"), InitOCI: filepath.Join(dir, "i"), Agent: filepath.Join(dir, "a")}
	for p, s := range map[string]string{a.Kernel: "kernel", a.InitOCI: "init-oci bytes", a.Agent: "agent bytes"} {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	img := Image{
		Config: ImageConfig{Entrypoint: []string{"/bin/x"}, Env: []string{"A=b"}, WorkingDir: "/w"},
		Files:  map[string]File{"/bin/x": {Data: []byte("x"), Mode: 0o755}, "/etc/f": {Data: []byte("f\n")}},
		Dirs:   []string{"/w"},
	}
	disk, err := BuildDisk(tools.Mkfs, dir, a, img)
	if err != nil {
		t.Fatal(err)
	}
	cat := func(p string) string {
		out, err := exec.Command(debugfs(), "-R", "cat "+p, disk).Output()
		if err != nil {
			t.Fatalf("debugfs cat %s: %v", p, err)
		}
		return string(out)
	}
	if got := cat(InitPath); got != "init-oci bytes" {
		t.Errorf("%s = %q", InitPath, got)
	}
	if got := cat(AgentPath); got != "agent bytes" {
		t.Errorf("%s = %q", AgentPath, got)
	}
	if got := cat(RootfsPath + "/etc/f"); got != "f\n" {
		t.Errorf("/etc/f = %q", got)
	}
	var doc struct {
		Architecture, OS string
		Config           ImageConfig
	}
	if err := json.Unmarshal([]byte(cat(ConfigPath)), &doc); err != nil {
		t.Fatalf("%s: %v", ConfigPath, err)
	}
	if doc.Architecture != "arm64" || doc.OS != "linux" || !slices.Equal(doc.Config.Entrypoint, img.Config.Entrypoint) ||
		!slices.Equal(doc.Config.Env, img.Config.Env) || doc.Config.WorkingDir != "/w" {
		t.Errorf("%s = %+v, want the image config %+v for linux/arm64", ConfigPath, doc, img.Config)
	}
	for p, mode := range map[string]string{InitPath: "0100755", AgentPath: "0100755", RootfsPath + "/bin/x": "0100755",
		RootfsPath + "/etc/f": "0100644", "/run": "040755", "/dev": "040755", RootfsPath + "/w": "040755"} {
		out, err := exec.Command(debugfs(), "-R", "stat "+p, disk).Output()
		if err != nil || !bytes.Contains(out, []byte("Mode:  "+mode[len(mode)-4:])) {
			t.Errorf("%s: want mode %s; debugfs stat: %v\n%s", p, mode, err, out)
		}
	}
	if _, err := os.Stat(disk + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary %s.tmp left behind", disk)
	}
}

func TestBuildDiskRejectsBadPaths(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"relative", "/a/../b", "/"} {
		_, err := BuildDisk("/nonexistent/mkfs", dir, Assets{}, Image{Files: map[string]File{p: {}}})
		if err == nil || !strings.Contains(err.Error(), "clean absolute path") {
			t.Errorf("image file %q: got %v, want a path error", p, err)
		}
	}
}

func debugfs() string {
	for _, p := range []string{"/usr/sbin/debugfs", "/sbin/debugfs"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, _ := exec.LookPath("debugfs")
	return p
}

func hasDebugfs() bool { return debugfs() != "" }
