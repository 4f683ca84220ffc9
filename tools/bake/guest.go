package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/supermachine/supermachine_kernel/internal/format"
)

// guestBuildFlags are the go build flags for the guest programs: no paths,
// no VCS stamp, no build id, no symbols, so the same sources and Go version
// give the same bytes anywhere.
var guestBuildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// guestBuildEnv is set on top of the caller's environment. GOFLAGS,
// GOEXPERIMENT and GOARM64 are pinned because a user's settings would change
// the output; GOTOOLCHAIN=local so the Go version recorded is the one that
// built.
var guestBuildEnv = []string{
	"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOARM64=v8.0",
	"GOFLAGS=", "GOEXPERIMENT=", "GOTOOLCHAIN=local", "GOWORK=off",
}

// guestSources are the paths whose last commit is a guest program's source
// revision, relative to the repository root.
var guestSources = []string{"guest", "go.mod", "go.sum"}

// buildCommand is the recorded, human-readable form of how a guest is built.
func buildCommand(pkg string) string {
	return strings.Join(guestBuildEnv, " ") + " go build -trimpath -buildvcs=false -ldflags='-s -w -buildid=' -o OUT " + pkg
}

// goBin is the go command of the toolchain running bake when there is one
// (go run, go test), else the go on PATH.
func goBin() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

// goVersion returns the version of the Go toolchain bake builds with ("go1.26.8").
func goVersion(root string) (string, error) {
	cmd := exec.Command(goBin(), "env", "GOVERSION")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), guestBuildEnv...)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// buildGuest cross-builds the main package pkg ("./guest/init-oci") in root
// and returns the checked static aarch64 executable.
func buildGuest(root, pkg string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "bake-guest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, filepath.Base(pkg))
	args := append([]string{"build"}, guestBuildFlags...)
	args = append(args, "-o", out, pkg)
	cmd := exec.Command(goBin(), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), guestBuildEnv...)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &errb, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building %s: go %s: %v\n%s", pkg, strings.Join(args, " "), err, errb.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	if _, err := format.CheckStaticAarch64ELF(pkg, b); err != nil {
		return nil, err
	}
	return b, nil
}

// git runs git in root and returns its trimmed output.
func git(root string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = root
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// guestRevision returns the last commit touching the guest sources.
func guestRevision(root string) (string, error) {
	rev, err := git(root, append([]string{"log", "-1", "--format=%H", "--"}, guestSources...)...)
	if err != nil {
		return "", err
	}
	if rev == "" {
		return "", fmt.Errorf("no commit touches %v yet: commit the guest sources first", guestSources)
	}
	return rev, nil
}

// dirtyInputs lists the inputs of the build of pkgs (go.mod, go.sum and every
// file the go command compiles or embeds for a package of this module) that
// differ from HEAD or are untracked. Tests, BUILD files and other files the
// build does not read do not count.
func dirtyInputs(root string, pkgs ...string) ([]string, error) {
	files, err := guestInputs(root, pkgs...)
	if err != nil {
		return nil, err
	}
	st, err := git(root, append([]string{"status", "--porcelain", "--untracked-files=all", "--"}, files...)...)
	if err != nil {
		return nil, err
	}
	var dirty []string
	for _, l := range strings.Split(st, "\n") {
		if len(l) > 3 {
			dirty = append(dirty, l[3:])
		}
	}
	return dirty, nil
}

type listedPackage struct {
	ImportPath string
	Dir        string
	Module     *struct{ Main bool }
	GoFiles    []string
	SFiles     []string
	EmbedFiles []string
	OtherFiles []string // .c, .s etc. that a cgo-free build ignores but list anyway
}

const guestPrefix = "github.com/supermachine/supermachine_kernel/guest/"

// guestInputs returns, relative to root, go.mod, go.sum and the source and
// embedded files of every package of this module that pkgs depend on. It
// fails if one of those packages lies outside guest/, which the recorded
// source revision would not cover.
func guestInputs(root string, pkgs ...string) ([]string, error) {
	args := append([]string{"list", "-deps", "-json=ImportPath,Dir,Module,GoFiles,SFiles,EmbedFiles,OtherFiles"}, pkgs...)
	cmd := exec.Command(goBin(), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), guestBuildEnv...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s: %v: %s", strings.Join(pkgs, " "), err, strings.TrimSpace(errb.String()))
	}
	files := []string{"go.mod", "go.sum"}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("go list -deps: %w", err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		if !strings.HasPrefix(p.ImportPath, guestPrefix) {
			return nil, fmt.Errorf("%s imports %s, outside guest/: its source revision would not cover it", strings.Join(pkgs, " "), p.ImportPath)
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			return nil, err
		}
		for _, group := range [][]string{p.GoFiles, p.SFiles, p.EmbedFiles, p.OtherFiles} {
			for _, f := range group {
				files = append(files, filepath.ToSlash(filepath.Join(rel, f)))
			}
		}
	}
	sort.Strings(files)
	return files, nil
}
