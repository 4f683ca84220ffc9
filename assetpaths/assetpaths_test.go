package assetpaths

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/supermachine/supermachine_kernel/internal/manifest"
)

// childEnv makes the test binary act as a tiny program that prints the
// result of FromExecutableDir, so that lookup can be tested from a copy of
// the binary placed next to asset files.
const childEnv = "ASSETPATHS_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "exedir" {
		p, err := FromExecutableDir()
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		fmt.Println(p.Dir)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// writeAll creates the named files (empty) in dir.
func writeAll(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFromDir(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(t *testing.T, dir string)
		wantMissing []string // assets named in the error; nil = success
		wantKind    Kind
	}{
		{"all three", func(t *testing.T, dir string) { writeAll(t, dir, Names()...) }, nil, 0},
		{"empty dir", func(t *testing.T, dir string) {}, Names(), Missing},
		{"agent missing", func(t *testing.T, dir string) { writeAll(t, dir, manifest.Kernel, manifest.InitOCI) },
			[]string{manifest.SupermachineAgent}, Missing},
		{"kernel is a directory", func(t *testing.T, dir string) {
			writeAll(t, dir, manifest.InitOCI, manifest.SupermachineAgent)
			os.Mkdir(filepath.Join(dir, manifest.Kernel), 0o755)
		}, []string{manifest.Kernel}, NotRegular},
		{"symlinks to files are fine", func(t *testing.T, dir string) {
			other := filepath.Join(dir, "real")
			writeAll(t, other, Names()...)
			for _, n := range Names() {
				if err := os.Symlink(filepath.Join(other, n), filepath.Join(dir, n)); err != nil {
					t.Fatal(err)
				}
			}
		}, nil, 0},
		{"dangling symlink", func(t *testing.T, dir string) {
			writeAll(t, dir, manifest.Kernel, manifest.InitOCI)
			os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, manifest.SupermachineAgent))
		}, []string{manifest.SupermachineAgent}, Missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			p, err := FromDir(dir)
			if tt.wantMissing == nil {
				if err != nil {
					t.Fatal(err)
				}
				if p != InDir(dir) {
					t.Fatalf("got %+v, want %+v", p, InDir(dir))
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, n := range tt.wantMissing {
				if !strings.Contains(err.Error(), filepath.Join(dir, n)) {
					t.Errorf("error does not name %s: %v", n, err)
				}
				if !errors.Is(err, &Error{Kind: tt.wantKind, Asset: n}) {
					t.Errorf("error is not a %v for %s: %v", tt.wantKind, n, err)
				}
			}
		})
	}
}

func TestPath(t *testing.T) {
	p := InDir("/x")
	for _, n := range Names() {
		got, err := p.Path(n)
		if err != nil || got != filepath.Join("/x", n) {
			t.Errorf("Path(%q) = %q, %v", n, got, err)
		}
	}
	if _, err := p.Path("kernel.xz"); err == nil {
		t.Error("Path accepted an unknown name")
	}
}

func TestFromEnv(t *testing.T) {
	good := t.TempDir()
	writeAll(t, good, Names()...)
	bad := t.TempDir()
	tests := []struct {
		name         string
		env          string
		wantErr      string
		wantNotFound bool
	}{
		{"set to a complete dir", good, "", false},
		{"unset", "", "is not set", true},
		{"set to an empty dir", bad, filepath.Join(bad, manifest.Kernel), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvDir, tt.env)
			p, err := FromEnv()
			if tt.wantErr == "" {
				if err != nil || p.Dir != tt.env {
					t.Fatalf("got %+v, %v", p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
			if errors.Is(err, ErrNotFound) != tt.wantNotFound {
				t.Fatalf("errors.Is(err, ErrNotFound) = %v, want %v", !tt.wantNotFound, tt.wantNotFound)
			}
		})
	}
}

// setRlocations sets the x_defs variables as Bazel would, for one test.
func setRlocations(t *testing.T, k, i, a string) {
	old := [3]string{rlocationKernel, rlocationInitOCI, rlocationSupermachineAgent}
	rlocationKernel, rlocationInitOCI, rlocationSupermachineAgent = k, i, a
	t.Cleanup(func() { rlocationKernel, rlocationInitOCI, rlocationSupermachineAgent = old[0], old[1], old[2] })
}

func TestFromRunfiles(t *testing.T) {
	// A directory-based runfiles tree, as Bazel lays it out; the repository
	// directory name is arbitrary here, as it is to the code.
	root := t.TempDir()
	repo := "some_repo+"
	writeAll(t, filepath.Join(root, repo, "assets"), manifest.Kernel, manifest.SupermachineAgent)
	writeAll(t, filepath.Join(root, repo, "other"), manifest.InitOCI)
	tests := []struct {
		name         string
		rloc         [3]string
		wantErr      string
		wantNotFound bool
	}{
		{"outside Bazel", [3]string{}, "not built by Bazel", true},
		{"all present", [3]string{repo + "/assets/kernel", repo + "/other/init-oci", repo + "/assets/supermachine-agent"}, "", false},
		{"not in the data", [3]string{repo + "/assets/kernel", repo + "/assets/init-oci", repo + "/assets/supermachine-agent"},
			filepath.Join(root, repo, "assets", manifest.InitOCI), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("RUNFILES_MANIFEST_FILE", "")
			t.Setenv("RUNFILES_DIR", root)
			setRlocations(t, tt.rloc[0], tt.rloc[1], tt.rloc[2])
			p, err := FromRunfiles()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				want := Paths{
					Dir:               filepath.Join(root, repo, "assets"),
					Kernel:            filepath.Join(root, repo, "assets", manifest.Kernel),
					InitOCI:           filepath.Join(root, repo, "other", manifest.InitOCI),
					SupermachineAgent: filepath.Join(root, repo, "assets", manifest.SupermachineAgent),
				}
				if p != want {
					t.Fatalf("got %+v, want %+v", p, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
			if errors.Is(err, ErrNotFound) != tt.wantNotFound {
				t.Fatalf("errors.Is(err, ErrNotFound) = %v, want %v", !tt.wantNotFound, tt.wantNotFound)
			}
		})
	}
}

func TestFind(t *testing.T) {
	envDir := t.TempDir()
	writeAll(t, envDir, Names()...)
	rf := t.TempDir()
	writeAll(t, filepath.Join(rf, "r", "a"), Names()...)
	rloc := [3]string{"r/a/kernel", "r/a/init-oci", "r/a/supermachine-agent"}
	tests := []struct {
		name         string
		env          string
		rloc         [3]string
		wantDir      string
		wantNotFound bool
	}{
		{"env wins over runfiles", envDir, rloc, envDir, false},
		{"broken env is an error, not a fall-through", t.TempDir(), rloc, "", false},
		{"runfiles when env unset", "", rloc, filepath.Join(rf, "r", "a"), false},
		{"nothing anywhere", "", [3]string{}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvDir, tt.env)
			t.Setenv("RUNFILES_MANIFEST_FILE", "")
			t.Setenv("RUNFILES_DIR", rf)
			setRlocations(t, tt.rloc[0], tt.rloc[1], tt.rloc[2])
			p, err := Find()
			if tt.wantDir != "" {
				if err != nil || p.Dir != tt.wantDir {
					t.Fatalf("got %+v, %v; want Dir %s", p, err, tt.wantDir)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %+v, want an error", p)
			}
			if errors.Is(err, ErrNotFound) != tt.wantNotFound {
				t.Fatalf("errors.Is(%v, ErrNotFound) = %v, want %v", err, !tt.wantNotFound, tt.wantNotFound)
			}
			if tt.wantNotFound && !strings.Contains(err.Error(), "executable") {
				t.Errorf("error does not say what was tried: %v", err)
			}
		})
	}
}

// TestFromExecutableDir runs a copy of this test binary placed next to the
// asset files, and one placed in an empty directory.
func TestFromExecutableDir(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, withAssets := range []bool{true, false} {
		t.Run(fmt.Sprintf("assets=%v", withAssets), func(t *testing.T) {
			dir := t.TempDir()
			if withAssets {
				writeAll(t, dir, Names()...)
			}
			exe := filepath.Join(dir, "prog")
			copyFile(t, self, exe)
			cmd := exec.Command(exe)
			cmd.Env = append(os.Environ(), childEnv+"=exedir")
			out, err := cmd.Output()
			got := strings.TrimSpace(string(out))
			if withAssets {
				real, _ := filepath.EvalSymlinks(dir)
				if err != nil || got != real {
					t.Fatalf("got %q, %v; want %q", got, err, real)
				}
				return
			}
			if err == nil || !strings.Contains(got, "next to the executable") || !strings.Contains(got, manifest.Kernel) {
				t.Fatalf("got %q, %v; want an error naming the missing kernel", got, err)
			}
		})
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func digest(b []byte) manifest.Digest {
	s := sha256.Sum256(b)
	return manifest.Digest{Size: int64(len(b)), SHA256: hex.EncodeToString(s[:])}
}

func TestVerify(t *testing.T) {
	content := []byte("the real bytes of an asset\n")
	want := digest(content)
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		kind  Kind // 0 = valid
	}{
		{"exact", func(t *testing.T, p string) { os.WriteFile(p, content, 0o644) }, 0},
		{"missing", func(t *testing.T, p string) {}, Missing},
		{"directory", func(t *testing.T, p string) { os.Mkdir(p, 0o755) }, NotRegular},
		{"fifo (must not block)", func(t *testing.T, p string) {
			if err := mkfifo(p); err != nil {
				t.Skip(err)
			}
		}, NotRegular},
		{"truncated", func(t *testing.T, p string) { os.WriteFile(p, content[:10], 0o644) }, SizeMismatch},
		{"trailing garbage", func(t *testing.T, p string) { os.WriteFile(p, append(content[:len(content):len(content)], 'x'), 0o644) }, SizeMismatch},
		{"same size, one bit flipped", func(t *testing.T, p string) {
			b := append([]byte(nil), content...)
			b[3] ^= 1
			os.WriteFile(p, b, 0o644)
		}, ChecksumMismatch},
		{"unreadable", func(t *testing.T, p string) {
			if os.Geteuid() == 0 {
				t.Skip("root reads everything")
			}
			os.WriteFile(p, content, 0o000)
		}, IO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "asset")
			tt.setup(t, p)
			err := verify(p, "init-oci", want)
			if tt.kind == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != tt.kind || e.File != p || e.Asset != "init-oci" {
				t.Fatalf("got %v, want a %v *Error for %s", err, tt.kind, p)
			}
			if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tt.kind.String()) {
				t.Fatalf("message does not name the file and the problem: %v", err)
			}
		})
	}
}

// TestVerifyAgainstManifest uses the real manifest: files of the right size
// but wrong content fail with a checksum mismatch naming each file, and an
// unknown asset name is its own kind.
func TestVerifyAgainstManifest(t *testing.T) {
	dir := t.TempDir()
	for _, a := range manifest.Embedded.Assets {
		f, err := os.Create(filepath.Join(dir, a.Name))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(a.Raw.Size); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	err := InDir(dir).Verify()
	for _, n := range Names() {
		if !errors.Is(err, &Error{Kind: ChecksumMismatch, Asset: n, File: filepath.Join(dir, n)}) {
			t.Errorf("Verify error lacks a checksum mismatch for %s: %v", n, err)
		}
	}
	if err := VerifyFile(filepath.Join(dir, "kernel"), "vmlinux"); !errors.Is(err, &Error{Kind: Unknown}) {
		t.Errorf("unknown asset: got %v", err)
	}
}

// TestRunfilesUnderBazel runs only when Bazel linked in the rlocation paths
// (go test leaves them empty): the real runfiles must hold the real assets,
// found without any repository name in the code.
func TestRunfilesUnderBazel(t *testing.T) {
	if rlocationKernel == "" {
		t.Skip("not built by Bazel: rlocation paths are empty")
	}
	p, err := FromRunfiles()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvDir, "")
	found, err := Find()
	if err != nil || found != p {
		t.Fatalf("Find() = %+v, %v; want the runfiles %+v", found, err, p)
	}
}
