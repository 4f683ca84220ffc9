package vm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Disk layout, as init-oci expects it (guest/internal/initplan).
const (
	InitPath   = "/init-oci"           // the kernel's init=
	AgentPath  = "/supermachine-agent" // initplan.AgentDiskPath
	ConfigPath = "/image/config.json"  // initplan.DefaultConfigPath
	RootfsPath = "/image/rootfs"       // initplan.DefaultRootfs
)

// ImageConfig is the "config" object of an OCI image config, as far as
// init-oci reads it.
type ImageConfig struct {
	Entrypoint []string `json:"Entrypoint,omitempty"`
	Cmd        []string `json:"Cmd,omitempty"`
	Env        []string `json:"Env,omitempty"`
	WorkingDir string   `json:"WorkingDir,omitempty"`
	User       string   `json:"User,omitempty"`
}

// File is a file of the image tree: either Data or the contents of Source.
type File struct {
	Data   []byte
	Source string
	Mode   fs.FileMode
}

// Image is a small OCI-style image: a root tree and its config.
type Image struct {
	Config ImageConfig
	// Files maps absolute paths in the image's root to their contents.
	Files map[string]File
	// Dirs are extra directories of the image's root.
	Dirs []string
}

// fixedTime is the mtime of every file in the tree: no test input depends
// on when the test ran.
var fixedTime = time.Unix(1700000000, 0)

// BuildDisk lays out the root disk tree in dir/tree (init-oci, the agent,
// the image config and tree) and turns it into an ext4 image dir/root.ext4
// with mkfs.ext4 -d, which needs no privileges. It returns the image path.
func BuildDisk(mkfs, dir string, a Assets, img Image) (string, error) {
	tree := filepath.Join(dir, "tree")
	if err := os.RemoveAll(tree); err != nil {
		return "", err
	}
	cfg, err := json.MarshalIndent(map[string]any{
		"architecture": "arm64", "os": "linux", "config": img.Config,
	}, "", "  ")
	if err != nil {
		return "", err
	}
	files := map[string]File{
		InitPath:   {Source: a.InitOCI, Mode: 0o755},
		AgentPath:  {Source: a.Agent, Mode: 0o755},
		ConfigPath: {Data: append(cfg, '\n'), Mode: 0o644},
	}
	for p, f := range img.Files {
		if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
			return "", fmt.Errorf("image file %q: want a clean absolute path", p)
		}
		files[RootfsPath+p] = f
	}
	// /dev: the kernel mounts devtmpfs there before init; /run: init-oci's
	// staging tmpfs; /proc, /sys, /tmp for tools run on the bare disk.
	dirs := []string{"/dev", "/run", "/proc", "/sys", "/tmp", RootfsPath}
	for _, d := range img.Dirs {
		dirs = append(dirs, RootfsPath+path.Clean("/"+d))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			return "", err
		}
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		f := files[p]
		dst := filepath.Join(tree, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := writeFile(dst, f); err != nil {
			return "", fmt.Errorf("image file %s: %w", p, err)
		}
	}
	size, err := treeSize(tree)
	if err != nil {
		return "", err
	}
	if err := fixTree(tree); err != nil {
		return "", err
	}
	// Twice the contents plus room for metadata, in MiB.
	mib := (2*size)>>20 + 8
	disk := filepath.Join(dir, "root.ext4")
	tmp := disk + ".tmp"
	os.Remove(tmp)
	cmd := exec.Command(mkfs, "-q", "-F", "-t", "ext4", "-b", "4096", "-m", "0", "-O", "^has_journal",
		"-L", "smroot", "-U", "5e2a4a3e-0000-4000-8000-000000000001",
		"-E", "hash_seed=5e2a4a3e-0000-4000-8000-000000000002,root_owner=0:0",
		"-d", tree, tmp, fmt.Sprintf("%dM", mib))
	cmd.Env = append(os.Environ(), "E2FSPROGS_FAKE_TIME=1700000000")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("mkfs.ext4 -d %s %s: %v\n%s", tree, tmp, err, strings.TrimSpace(out.String()))
	}
	if err := os.Rename(tmp, disk); err != nil {
		return "", err
	}
	return disk, nil
}

func writeFile(dst string, f File) error {
	var src io.Reader = bytes.NewReader(f.Data)
	if f.Source != "" {
		in, err := os.Open(f.Source)
		if err != nil {
			return err
		}
		defer in.Close()
		src = in
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	mode := f.Mode
	if mode == 0 {
		mode = 0o644
	}
	return os.Chmod(dst, mode) // independent of the umask
}

func treeSize(root string) (int64, error) {
	var n int64
	err := filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	return n, err
}

// fixTree gives directories mode 0755 whatever the umask, and every entry
// the same mtime.
func fixTree(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if err := os.Chmod(p, 0o755); err != nil {
				return err
			}
		}
		return os.Chtimes(p, fixedTime, fixedTime)
	})
}
