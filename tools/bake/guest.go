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

// guestPathspec returns git pathspecs covering the inputs of the build of
// pkg: go.mod, go.sum, the files directly in the directory of every package
// of this module that pkg depends on (deleted files count too), and their
// embedded files; minus tests, testdata and BUILD files, which the go build
// does not read. It fails if one of those packages lies outside guest/,
// which is what the guest programs may use. dirs lists the package
// directories, for the record.
func guestPathspec(root, pkg string) (spec, dirs []string, err error) {
	cmd := exec.Command(goBin(), "list", "-deps", "-json=ImportPath,Dir,Module,EmbedFiles", pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), guestBuildEnv...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("go list -deps %s: %v: %s", pkg, err, strings.TrimSpace(errb.String()))
	}
	spec = []string{":(literal)go.mod", ":(literal)go.sum"}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			return nil, nil, fmt.Errorf("go list -deps %s: %w", pkg, err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		if !strings.HasPrefix(p.ImportPath, guestPrefix) {
			return nil, nil, fmt.Errorf("%s imports %s, outside guest/: the guest programs must build from guest/ alone", pkg, p.ImportPath)
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			return nil, nil, err
		}
		rel = filepath.ToSlash(rel)
		dirs = append(dirs, rel)
		spec = append(spec, ":(glob)"+rel+"/*")
		for _, f := range p.EmbedFiles {
			spec = append(spec, ":(literal)"+rel+"/"+filepath.ToSlash(f))
		}
	}
	sort.Strings(dirs)
	spec = append(spec, ":(exclude,glob)**/*_test.go", ":(exclude,glob)**/BUILD.bazel", ":(exclude,glob)**/BUILD")
	return spec, dirs, nil
}

type listedPackage struct {
	ImportPath string
	Dir        string
	Module     *struct{ Main bool }
	EmbedFiles []string
}

const guestPrefix = "github.com/supermachine/supermachine_kernel/guest/"

// guestSource describes the sources a guest program is built from.
type guestSource struct {
	Revision string   // last commit touching an input
	Dirty    []string // inputs that differ from HEAD or are untracked
	Dirs     []string // package directories of this module it builds from
}

// guestSourceOf inspects pkg's inputs in root's git checkout.
func guestSourceOf(root, pkg string) (*guestSource, error) {
	spec, dirs, err := guestPathspec(root, pkg)
	if err != nil {
		return nil, err
	}
	rev, err := git(root, append([]string{"log", "-1", "--format=%H", "--"}, spec...)...)
	if err != nil {
		return nil, err
	}
	if rev == "" {
		return nil, fmt.Errorf("%s: no commit holds its sources yet: commit them first", pkg)
	}
	// -z: NUL-separated and untrimmed, so " M path" keeps its columns.
	cmd := exec.Command("git", append([]string{"status", "--porcelain", "-z", "--untracked-files=all", "--"}, spec...)...)
	cmd.Dir = root
	var errb bytes.Buffer
	cmd.Stderr = &errb
	st, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git status: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	g := &guestSource{Revision: rev, Dirs: dirs}
	entries := strings.Split(string(st), "\x00")
	for i := 0; i < len(entries); i++ {
		e := entries[i]
		if len(e) < 4 {
			continue
		}
		g.Dirty = append(g.Dirty, e[3:])
		if e[0] == 'R' || e[0] == 'C' {
			i++ // the original path of a rename or copy follows
		}
	}
	return g, nil
}
