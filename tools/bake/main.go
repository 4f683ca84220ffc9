// Command bake is the maintainer pipeline that makes assets/: it extracts the
// AF_TSI kernel Image from Debian's libkrunfw5 arm64 package, cross-builds the
// guest programs (init-oci, supermachine-agent) as static aarch64 executables,
// compresses each with xz-utils into independent LZMA2 blocks, writes
// assets/*.xz and assets/manifest.json atomically, and regenerates the
// manifest's Go and Starlark copies. Re-running it on the same inputs leaves
// the tree byte-identical. See docs/payloads.md.
//
// Usage (from anywhere in the repository):
//
//	tools/fetch-libkrunfw                       # once: the verified .deb into .work/
//	go run ./tools/bake                         # all three assets
//	go run ./tools/bake -assets init-oci,supermachine-agent   # keep the kernel entry
//
// bake never downloads anything.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/supermachine/supermachine_kernel/internal/manifest"
	"github.com/supermachine/supermachine_kernel/internal/manifest/codegen"
	"github.com/supermachine/supermachine_kernel/internal/unpack"
)

// The kernel bake expects; a different package is refused unless -force.
const (
	debPackageName = "libkrunfw5"
	debVersion     = "5.5.0+ds-1"
	debArch        = "arm64"
	debSource      = "libkrunfw"
	debMember      = "usr/lib/aarch64-linux-gnu/libkrunfw.so.*"
	linuxVersion   = "6.12.91"
	defaultDeb     = ".work/libkrunfw/libkrunfw5_5.5.0+ds-1_arm64.deb"
)

// guests maps each guest asset to its main package.
var guests = []struct{ name, pkg string }{
	{manifest.InitOCI, "./guest/init-oci"},
	{manifest.SupermachineAgent, "./guest/supermachine-agent"},
}

type options struct {
	root          string
	deb, so       string
	assets        []string
	moduleVersion string
	force         bool
	recompress    bool
}

func main() {
	var o options
	var assets string
	flag.StringVar(&o.root, "root", "", "repository root (default: found from the working directory)")
	flag.StringVar(&o.deb, "deb", "", "libkrunfw5 arm64 .deb (default: "+defaultDeb+", made by tools/fetch-libkrunfw)")
	flag.StringVar(&o.so, "so", "", "an extracted libkrunfw.so instead of the .deb (only to re-verify the committed kernel: provenance needs the .deb)")
	flag.StringVar(&assets, "assets", strings.Join([]string{manifest.Kernel, manifest.InitOCI, manifest.SupermachineAgent}, ","), "comma-separated assets to (re)make; the others keep their manifest entries")
	flag.StringVar(&o.moduleVersion, "module-version", "", "module_version to record (default: MODULE.bazel's version, else the current manifest's)")
	flag.BoolVar(&o.force, "force", false, "allow a dirty guest tree, another xz-utils version or another libkrunfw package")
	flag.BoolVar(&o.recompress, "recompress", false, "recompress even when the committed .xz already holds the same raw bytes")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./tools/bake [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	for _, a := range strings.Split(assets, ",") {
		if a = strings.TrimSpace(a); a != "" {
			o.assets = append(o.assets, a)
		}
	}
	if err := run(&o, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bake:", err)
		os.Exit(1)
	}
}

// findRoot walks up from dir to the directory holding this module's go.mod.
func findRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/supermachine/supermachine_kernel\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod of github.com/supermachine/supermachine_kernel above %s; pass -root", dir)
		}
	}
}

var moduleVersionRE = regexp.MustCompile(`(?s)module\s*\(.*?\bversion\s*=\s*"([^"]+)"`)

// run is the whole pipeline; progress goes to log.
func run(o *options, log *os.File) error {
	if o.root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if o.root, err = findRoot(wd); err != nil {
			return err
		}
	}
	for _, a := range o.assets {
		if a != manifest.Kernel && a != manifest.InitOCI && a != manifest.SupermachineAgent {
			return fmt.Errorf("-assets: unknown asset %q (want kernel, init-oci, supermachine-agent)", a)
		}
	}
	assetsDir := filepath.Join(o.root, "assets")
	jsonPath := filepath.Join(o.root, filepath.FromSlash(manifest.JSONPath))

	// The current manifest, if any: entries of assets not being made are kept,
	// after checking that their .xz still matches them.
	var old *manifest.Manifest
	if b, err := os.ReadFile(jsonPath); err == nil {
		if old, err = manifest.Parse(b); err != nil {
			return fmt.Errorf("%s: %w", jsonPath, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}

	ver, err := localXZVersion()
	if err != nil {
		return err
	}
	if ver != xzVersion && !o.force {
		return fmt.Errorf("xz-utils %s on PATH, the pipeline is pinned to %s (other versions may produce other bytes); use -force to accept and record %s", ver, xzVersion, ver)
	}

	m := &manifest.Manifest{Schema: manifest.SchemaVersion}
	if m.ModuleVersion, err = moduleVersion(o, old); err != nil {
		return err
	}
	for _, name := range []string{manifest.Kernel, manifest.InitOCI, manifest.SupermachineAgent} {
		if !slices.Contains(o.assets, name) {
			if old == nil {
				continue
			}
			a, err := old.Asset(name)
			if err != nil {
				continue
			}
			if err := checkCommitted(assetsDir, a); err != nil {
				return fmt.Errorf("keeping %s: %w", name, err)
			}
			m.Assets = append(m.Assets, *a)
			fmt.Fprintf(log, "bake: %s: kept (matches %s)\n", name, a.XZFile)
			continue
		}
		var raw []byte
		var a manifest.Asset
		if name == manifest.Kernel {
			raw, a, err = bakeKernel(o, old)
		} else {
			raw, a, err = bakeGuest(o, name)
		}
		if err != nil {
			return err
		}
		if err := compressInto(o, assetsDir, old, raw, &a, ver, log); err != nil {
			return err
		}
		m.Assets = append(m.Assets, a)
	}

	data, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := unpack.Copy(jsonPath, data, unpack.Want{Mode: 0o644}); err != nil {
		return err
	}
	fmt.Fprintf(log, "bake: wrote %s\n", jsonPath)

	var missing []string
	for _, n := range []string{manifest.Kernel, manifest.InitOCI, manifest.SupermachineAgent} {
		if _, err := m.Asset(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(log, "bake: NOT regenerating the manifest's Go/Starlark copies: %s not baked yet (the copies need all three assets)\n", strings.Join(missing, ", "))
		return nil
	}
	if err := codegen.Write(o.root, m); err != nil {
		return fmt.Errorf("regenerating the manifest's copies: %w", err)
	}
	fmt.Fprintf(log, "bake: regenerated %s, %s, %s\n", manifest.EmbeddedGenPath, manifest.KernelGenPath, manifest.BzlGenPath)
	return nil
}

// moduleVersion picks the module_version to record.
func moduleVersion(o *options, old *manifest.Manifest) (string, error) {
	if o.moduleVersion != "" {
		return o.moduleVersion, nil
	}
	p := filepath.Join(o.root, "MODULE.bazel")
	if b, err := os.ReadFile(p); err == nil {
		if mm := moduleVersionRE.FindSubmatch(b); mm != nil {
			return string(mm[1]), nil
		}
	}
	if old != nil {
		return old.ModuleVersion, nil
	}
	return "", fmt.Errorf("no module version: %s has no module(version = ...) and there is no manifest yet; pass -module-version", p)
}

// checkCommitted verifies that the .xz of a kept asset still matches its entry.
func checkCommitted(assetsDir string, a *manifest.Asset) error {
	p := filepath.Join(assetsDir, a.XZFile)
	xzb, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if got := digest(xzb); got != a.XZ.Digest {
		return fmt.Errorf("%s: size %d sha256 %s, manifest says %d %s", p, got.Size, got.SHA256, a.XZ.Size, a.XZ.SHA256)
	}
	if _, err := unpack.Bytes(xzb, p, unpack.Want{Size: a.Raw.Size, SHA256: a.Raw.SHA256}); err != nil {
		return err
	}
	return nil
}

func digest(b []byte) manifest.Digest {
	s := sha256.Sum256(b)
	return manifest.Digest{Size: int64(len(b)), SHA256: hex.EncodeToString(s[:])}
}

// compressInto fills a.XZ and writes assets/<a.XZFile>. When the committed
// .xz already decodes to raw and was made with the same tool, version and
// settings, it is kept as is (compression is deterministic, so redoing it
// would give the same bytes) unless -recompress.
func compressInto(o *options, assetsDir string, old *manifest.Manifest, raw []byte, a *manifest.Asset, ver string, log *os.File) error {
	a.Raw = digest(raw)
	a.XZ.Tool, a.XZ.ToolVersion, a.XZ.Settings = xzTool, ver, xzSettings
	dest := filepath.Join(assetsDir, a.XZFile)
	if old != nil && !o.recompress {
		if prev, err := old.Asset(a.Name); err == nil && prev.Raw == a.Raw &&
			prev.XZ.Tool == a.XZ.Tool && prev.XZ.ToolVersion == a.XZ.ToolVersion && prev.XZ.Settings == a.XZ.Settings {
			if err := checkCommitted(assetsDir, prev); err == nil {
				a.XZ.Digest = prev.XZ.Digest
				fmt.Fprintf(log, "bake: %s: raw bytes unchanged (%d bytes, sha256 %s), kept %s\n", a.Name, a.Raw.Size, a.Raw.SHA256, a.XZFile)
				return nil
			}
		}
	}
	fmt.Fprintf(log, "bake: %s: compressing %d bytes: xz %s\n", a.Name, len(raw), xzSettings)
	xzb, err := compressChecked(a.Name, raw)
	if err != nil {
		return err
	}
	a.XZ.Digest = digest(xzb)
	if err := unpack.Copy(dest, xzb, unpack.Want{Mode: 0o644}); err != nil {
		return err
	}
	fmt.Fprintf(log, "bake: %s: wrote %s (%d bytes, %.1f%% of raw)\n", a.Name, dest, len(xzb), 100*float64(len(xzb))/float64(len(raw)))
	return nil
}

// bakeKernel extracts and checks the kernel and describes it.
func bakeKernel(o *options, old *manifest.Manifest) ([]byte, manifest.Asset, error) {
	a := manifest.Asset{Name: manifest.Kernel, XZFile: "kernel.xz", Mode: "0644", Arch: "aarch64", Format: "linux-arm64-image"}
	if o.so != "" {
		so, err := os.ReadFile(o.so)
		if err != nil {
			return nil, a, err
		}
		img, err := extractKernel(o.so, so, linuxVersion)
		if err != nil {
			return nil, a, err
		}
		// The .so alone does not say which .deb it came from: accept it only
		// when it holds the kernel the manifest already describes.
		var prev *manifest.Asset
		if old != nil {
			prev, _ = old.Asset(manifest.Kernel)
		}
		if prev == nil || prev.Raw != digest(img) {
			return nil, a, fmt.Errorf("%s: its kernel is not the one in the manifest; a new kernel needs the .deb (-deb) so its provenance can be recorded", o.so)
		}
		a.Provenance = prev.Provenance
		return img, a, nil
	}
	debPath := o.deb
	if debPath == "" {
		debPath = filepath.Join(o.root, filepath.FromSlash(defaultDeb))
	}
	raw, err := os.ReadFile(debPath)
	if errors.Is(err, os.ErrNotExist) && o.deb == "" {
		return nil, a, fmt.Errorf("%s is missing: run tools/fetch-libkrunfw first, or pass -deb", debPath)
	}
	if err != nil {
		return nil, a, err
	}
	pkg, err := readDeb(debPath, raw, debMember)
	if err != nil {
		return nil, a, err
	}
	c := pkg.Control
	if (c["Package"] != debPackageName || c["Version"] != debVersion || c["Architecture"] != debArch) && !o.force {
		return nil, a, fmt.Errorf("%s: is %s %s %s, want %s %s %s (use -force to bake another)", debPath, c["Package"], c["Version"], c["Architecture"], debPackageName, debVersion, debArch)
	}
	img, err := extractKernel(debPath+":"+pkg.Member, pkg.Data, linuxVersion)
	if err != nil {
		return nil, a, err
	}
	source, _, _ := strings.Cut(c["Source"], " ")
	if source == "" {
		source = c["Package"]
	}
	a.Provenance = map[string]string{
		"deb_package":      c["Package"],
		"deb_version":      c["Version"],
		"deb_architecture": c["Architecture"],
		"deb_sha256":       pkg.SHA256,
		"deb_member":       pkg.Member,
		"source_package":   source,
		"symbol":           kernelSymbol,
		"linux_version":    linuxVersion,
		"license":          "GPL-2.0-only",
	}
	return img, a, nil
}

// bakeGuest builds one guest program and describes it.
func bakeGuest(o *options, name string) ([]byte, manifest.Asset, error) {
	a := manifest.Asset{Name: name, XZFile: name + ".xz", Mode: "0755", Arch: "aarch64", Format: "elf-static-aarch64"}
	var pkg string
	for _, g := range guests {
		if g.name == name {
			pkg = g.pkg
		}
	}
	src, err := guestSourceOf(o.root, pkg)
	if err != nil {
		return nil, a, err
	}
	rev := src.Revision
	if len(src.Dirty) > 0 {
		if !o.force {
			return nil, a, fmt.Errorf("%s: uncommitted changes in its build inputs %v: commit them so the manifest's source revision describes what was built (or -force)", pkg, src.Dirty)
		}
		rev += "+dirty"
	}
	gover, err := goVersion(o.root)
	if err != nil {
		return nil, a, err
	}
	b, err := buildGuest(o.root, pkg)
	if err != nil {
		return nil, a, err
	}
	a.Provenance = map[string]string{
		"go_version":      gover,
		"source_revision": rev,
		"source_paths":    strings.Join(append([]string{"go.mod", "go.sum"}, src.Dirs...), " "),
		"package":         pkg,
		"build_command":   buildCommand(pkg),
		"license":         "Apache-2.0",
	}
	return b, a, nil
}
