package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/supermachine/supermachine_kernel/internal/format"
	"github.com/supermachine/supermachine_kernel/internal/manifest"
	"github.com/supermachine/supermachine_kernel/internal/unpack"
)

// repoManifest returns the repository root and the committed manifest.
func repoManifest(t *testing.T) (string, *manifest.Manifest) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, filepath.FromSlash(manifest.JSONPath))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return root, m
}

// decodeAsset reads assets/<xz_file>, checks it against the manifest's xz
// figures and returns the raw bytes, checked against the raw figures.
func decodeAsset(t *testing.T, root string, a *manifest.Asset) []byte {
	t.Helper()
	p := filepath.Join(root, "assets", a.XZFile)
	xzb, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := digest(xzb); got != a.XZ.Digest {
		t.Fatalf("%s: size %d sha256 %s, manifest says size %d sha256 %s (re-run go run ./tools/bake)", p, got.Size, got.SHA256, a.XZ.Size, a.XZ.SHA256)
	}
	raw, err := unpack.Bytes(xzb, p, unpack.Want{Size: a.Raw.Size, SHA256: a.Raw.SHA256})
	if err != nil {
		t.Fatalf("decoding against the manifest's raw figures: %v", err)
	}
	return raw
}

// TestCommittedAssetsMatchManifest: every .xz in assets/ is the one the
// manifest describes (size and sha256, compressed and raw), is made of
// independent LZMA2 blocks as pinned, and holds what its format says.
func TestCommittedAssetsMatchManifest(t *testing.T) {
	root, m := repoManifest(t)
	want := map[string]struct{ xzFile, mode, format string }{
		manifest.Kernel:            {"kernel.xz", "0644", "linux-arm64-image"},
		manifest.InitOCI:           {"init-oci.xz", "0755", "elf-static-aarch64"},
		manifest.SupermachineAgent: {"supermachine-agent.xz", "0755", "elf-static-aarch64"},
	}
	for name := range want {
		if _, err := m.Asset(name); err != nil {
			t.Errorf("%s: %v", manifest.JSONPath, err)
		}
	}
	xzFiles, _ := filepath.Glob(filepath.Join(root, "assets", "*.xz"))
	if len(xzFiles) != len(m.Assets) {
		t.Errorf("assets/ holds %d .xz files %v, the manifest lists %d", len(xzFiles), xzFiles, len(m.Assets))
	}
	for i := range m.Assets {
		a := &m.Assets[i]
		t.Run(a.Name, func(t *testing.T) {
			w, ok := want[a.Name]
			if !ok {
				t.Fatalf("unexpected asset %q", a.Name)
			}
			if a.XZFile != w.xzFile || a.Mode != w.mode || a.Format != w.format || a.Arch != "aarch64" {
				t.Errorf("entry %s %s %s %s, want %s %s %s aarch64", a.XZFile, a.Mode, a.Format, a.Arch, w.xzFile, w.mode, w.format)
			}
			raw := decodeAsset(t, root, a)
			p := filepath.Join(root, "assets", a.XZFile)
			xzb, _ := os.ReadFile(p)
			if err := checkPayloadXZ(p, xzb, raw); err != nil {
				t.Error(err)
			}
			switch a.Format {
			case "linux-arm64-image":
				if _, err := format.CheckArm64Image(a.Name, raw); err != nil {
					t.Error(err)
				}
				if v, err := format.LinuxVersion(a.Name, raw); err != nil || v != a.Provenance["linux_version"] {
					t.Errorf("Linux version %q (%v), manifest says %q", v, err, a.Provenance["linux_version"])
				}
				if !bytes.Contains(raw, []byte("tsi_")) {
					t.Error("kernel has no tsi_* symbol names: not the AF_TSI kernel")
				}
			case "elf-static-aarch64":
				if _, err := format.CheckStaticAarch64ELF(a.Name, raw); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestRecompressReproducesXZ: the recorded tool and settings turn the raw
// bytes into exactly the committed .xz.
func TestRecompressReproducesXZ(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: recompressing ~30 MB with xz -9 takes tens of seconds")
	}
	root, m := repoManifest(t)
	local, err := localXZVersion()
	if err != nil {
		t.Skipf("xz-utils not usable here: %v", err)
	}
	for i := range m.Assets {
		a := &m.Assets[i]
		t.Run(a.Name, func(t *testing.T) {
			if a.XZ.Tool != xzTool || a.XZ.ToolVersion != local {
				t.Skipf("%s was made by %s %s; xz-utils here is %s", a.XZFile, a.XZ.Tool, a.XZ.ToolVersion, local)
			}
			raw := decodeAsset(t, root, a)
			got, err := runXZ(a.Name, raw, a.XZ.Settings)
			if err != nil {
				t.Fatal(err)
			}
			if d := digest(got); d != a.XZ.Digest {
				t.Errorf("xz %s gives %d bytes sha256 %s; committed %s is %d bytes sha256 %s", a.XZ.Settings, d.Size, d.SHA256, a.XZFile, a.XZ.Size, a.XZ.SHA256)
			}
		})
	}
}

// TestGuestsReproduce: rebuilding the guest programs from this checkout with
// the Go version in the manifest gives the committed raw bytes exactly.
func TestGuestsReproduce(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cross-builds two programs")
	}
	root, m := repoManifest(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not found")
	}
	local, err := goVersion(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range guests {
		t.Run(g.name, func(t *testing.T) {
			a, err := m.Asset(g.name)
			if err != nil {
				t.Fatal(err)
			}
			if v := a.Provenance["go_version"]; v != local {
				t.Skipf("%s was built with %s; the local toolchain is %s, whose output may differ", g.name, v, local)
			}
			src, err := guestSourceOf(root, g.pkg)
			if err != nil {
				t.Fatal(err)
			}
			if want := a.Provenance["source_revision"]; src.Revision != strings.TrimSuffix(want, "+dirty") {
				t.Logf("%s's sources are at %s, the manifest was baked from %s", g.pkg, src.Revision, want)
			}
			b, err := buildGuest(root, g.pkg)
			if err != nil {
				t.Fatal(err)
			}
			if got := digest(b); got != a.Raw {
				hint := "re-run go run ./tools/bake"
				if len(src.Dirty) > 0 {
					hint = fmt.Sprintf("uncommitted changes in %v; commit them and re-run go run ./tools/bake", src.Dirty)
				}
				t.Errorf("%s built from this checkout: %d bytes sha256 %s; manifest says %d bytes sha256 %s (%s)", g.pkg, got.Size, got.SHA256, a.Raw.Size, a.Raw.SHA256, hint)
			}
		})
	}
}
