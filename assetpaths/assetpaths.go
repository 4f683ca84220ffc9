// Package assetpaths answers "where are the kernel, init-oci and
// supermachine-agent files?" at run time, like the upstream crate's
// AssetPaths: from $SUPERMACHINE_ASSETS_DIR, from Bazel runfiles, from a
// given directory, or from the executable's directory.
//
// It deliberately does not import package kernel, so a program that only
// wants paths (for example a go_binary carrying the files in data) does not
// link the ~22 MiB kernel. The last-resort fallback that extracts the
// embedded bytes into a cache directory lives in kernel.Paths, which calls
// Find first.
package assetpaths

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bazelbuild/rules_go/go/runfiles"
	"github.com/supermachine/supermachine_kernel/internal/manifest"
)

// EnvDir names the environment variable pointing at a directory that holds
// the three files under their asset names.
const EnvDir = "SUPERMACHINE_ASSETS_DIR"

// Rlocation paths of the three files, set by the Bazel go_library with
// x_defs = {"...assetpaths.rlocationKernel": "$(rlocationpath ...)", ...}.
// They stay empty outside Bazel, so no repository name is spelled here.
var (
	rlocationKernel            string
	rlocationInitOCI           string
	rlocationSupermachineAgent string
)

// ErrNotFound is wrapped by the errors of lookups that found no source to
// look in (variable unset, not built by Bazel, files absent), as opposed to
// a source that exists but is broken.
var ErrNotFound = errors.New("assets not found")

// Paths locates the three asset files.
type Paths struct {
	// Dir is the directory the files were found in (the kernel's directory
	// for runfiles, where each file may live elsewhere).
	Dir               string
	Kernel            string
	InitOCI           string
	SupermachineAgent string
}

// Path returns the file of the named asset (kernel, init-oci or
// supermachine-agent).
func (p Paths) Path(name string) (string, error) {
	switch name {
	case manifest.Kernel:
		return p.Kernel, nil
	case manifest.InitOCI:
		return p.InitOCI, nil
	case manifest.SupermachineAgent:
		return p.SupermachineAgent, nil
	}
	return "", fmt.Errorf("assetpaths: no asset named %q (want %s, %s or %s)",
		name, manifest.Kernel, manifest.InitOCI, manifest.SupermachineAgent)
}

// Names lists the assets in manifest order.
func Names() []string {
	return []string{manifest.Kernel, manifest.InitOCI, manifest.SupermachineAgent}
}

// InDir returns where the three files would be in dir, without looking.
func InDir(dir string) Paths {
	return Paths{
		Dir:               dir,
		Kernel:            filepath.Join(dir, manifest.Kernel),
		InitOCI:           filepath.Join(dir, manifest.InitOCI),
		SupermachineAgent: filepath.Join(dir, manifest.SupermachineAgent),
	}
}

// FromDir returns the three files in dir, checking that each exists and is
// a regular file (symlinks to regular files count). The error names every
// file that is missing. It does not hash them; see Verify.
func FromDir(dir string) (Paths, error) {
	p := InDir(dir)
	if err := p.checkExist(); err != nil {
		return Paths{}, err
	}
	return p, nil
}

func (p Paths) checkExist() error {
	var errs []error
	for _, name := range Names() {
		file, _ := p.Path(name)
		fi, err := os.Stat(file)
		switch {
		case err != nil && errors.Is(err, fs.ErrNotExist):
			errs = append(errs, &Error{Asset: name, File: file, Kind: Missing, Err: err})
		case err != nil:
			errs = append(errs, &Error{Asset: name, File: file, Kind: IO, Err: err})
		case !fi.Mode().IsRegular():
			errs = append(errs, &Error{Asset: name, File: file, Kind: NotRegular, Err: fmt.Errorf("mode %v", fi.Mode())})
		}
	}
	return errors.Join(errs...)
}

// FromEnv returns the files in $SUPERMACHINE_ASSETS_DIR. An unset or empty
// variable gives an error wrapping ErrNotFound.
func FromEnv() (Paths, error) {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		return Paths{}, fmt.Errorf("assetpaths: $%s is not set: %w", EnvDir, ErrNotFound)
	}
	p, err := FromDir(dir)
	if err != nil {
		return Paths{}, fmt.Errorf("assetpaths: $%s=%s: %w", EnvDir, dir, err)
	}
	return p, nil
}

// FromRunfiles returns the files from the Bazel runfiles of the running
// program (a go_binary or go_test that has the assets in data). Outside
// Bazel, or when the files are not in the runfiles, the error wraps
// ErrNotFound.
func FromRunfiles() (Paths, error) {
	if rlocationKernel == "" || rlocationInitOCI == "" || rlocationSupermachineAgent == "" {
		return Paths{}, fmt.Errorf("assetpaths: runfiles: this program was not built by Bazel with the assets' rlocation paths (x_defs): %w", ErrNotFound)
	}
	// A fresh Runfiles per call reads the environment now, not at first use.
	rf, err := runfiles.New()
	if err != nil {
		return Paths{}, fmt.Errorf("assetpaths: runfiles: %v: %w", err, ErrNotFound)
	}
	var p Paths
	for _, f := range []struct {
		rloc string
		dst  *string
	}{
		{rlocationKernel, &p.Kernel},
		{rlocationInitOCI, &p.InitOCI},
		{rlocationSupermachineAgent, &p.SupermachineAgent},
	} {
		path, err := rf.Rlocation(f.rloc)
		if err != nil {
			return Paths{}, fmt.Errorf("assetpaths: runfiles: %s: %v: %w", f.rloc, err, ErrNotFound)
		}
		*f.dst = path
	}
	p.Dir = filepath.Dir(p.Kernel)
	if err := p.checkExist(); err != nil {
		return Paths{}, fmt.Errorf("assetpaths: runfiles (is the asset in the binary's data?): %w: %w", err, ErrNotFound)
	}
	return p, nil
}

// FromExecutableDir returns the files next to the running executable (the
// layout of an app bundle or a release tarball). Missing files give an
// error wrapping ErrNotFound.
func FromExecutableDir() (Paths, error) {
	exe, err := os.Executable()
	if err != nil {
		return Paths{}, fmt.Errorf("assetpaths: locating the executable: %v: %w", err, ErrNotFound)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	p, err := FromDir(filepath.Dir(exe))
	if err != nil {
		return Paths{}, fmt.Errorf("assetpaths: next to the executable: %w: %w", err, ErrNotFound)
	}
	return p, nil
}

// Find tries, in order:
//
//  1. $SUPERMACHINE_ASSETS_DIR: when set, it is authoritative; a missing
//     file there is an error, not a reason to look elsewhere;
//  2. the Bazel runfiles (FromRunfiles);
//  3. the executable's directory (FromExecutableDir).
//
// When none applies the error wraps ErrNotFound and lists what was tried;
// kernel.Paths then falls back to extracting the embedded assets.
func Find() (Paths, error) {
	if os.Getenv(EnvDir) != "" {
		return FromEnv()
	}
	var tried []string
	for _, try := range []func() (Paths, error){FromRunfiles, FromExecutableDir} {
		p, err := try()
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Paths{}, err
		}
		tried = append(tried, err.Error())
	}
	return Paths{}, fmt.Errorf("assetpaths: $%s is not set, and %s: %w", EnvDir, strings.Join(tried, "; "), ErrNotFound)
}

// Verify checks every file against the size and sha256 recorded in the
// manifest. The error joins one *Error per file that failed.
func (p Paths) Verify() error {
	var errs []error
	for _, name := range Names() {
		file, _ := p.Path(name)
		if err := VerifyFile(file, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// VerifyFile checks that file holds exactly the named asset, comparing its
// size first (cheap) and then its sha256 with the manifest's. Errors are
// *Error.
func VerifyFile(file, name string) error {
	a, err := manifest.Embedded.Asset(name)
	if err != nil {
		return &Error{Asset: name, File: file, Kind: Unknown, Err: err}
	}
	return verify(file, name, a.Raw)
}

func verify(file, name string, want manifest.Digest) error {
	// Stat before opening: opening a FIFO would block.
	if fi, err := os.Stat(file); err == nil && !fi.Mode().IsRegular() {
		return &Error{Asset: name, File: file, Kind: NotRegular, Err: fmt.Errorf("mode %v", fi.Mode())}
	}
	f, err := os.Open(file)
	if err != nil {
		kind := IO
		if errors.Is(err, fs.ErrNotExist) {
			kind = Missing
		}
		return &Error{Asset: name, File: file, Kind: kind, Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return &Error{Asset: name, File: file, Kind: IO, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return &Error{Asset: name, File: file, Kind: NotRegular, Err: fmt.Errorf("mode %v", fi.Mode())}
	}
	if fi.Size() != want.Size {
		return &Error{Asset: name, File: file, Kind: SizeMismatch,
			Err: fmt.Errorf("%d bytes, want %d", fi.Size(), want.Size)}
	}
	h := sha256.New()
	// Hide WriterTo so the 1 MiB buffer is used rather than 32 KiB reads.
	n, err := io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, 1<<20))
	if err != nil {
		return &Error{Asset: name, File: file, Kind: IO, Err: err}
	}
	if n != want.Size {
		return &Error{Asset: name, File: file, Kind: SizeMismatch,
			Err: fmt.Errorf("read %d bytes, want %d (file changed while reading?)", n, want.Size)}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
		return &Error{Asset: name, File: file, Kind: ChecksumMismatch,
			Err: fmt.Errorf("sha256 %s, want %s", got, want.SHA256)}
	}
	return nil
}

// Kind classifies an Error.
type Kind int

// Kinds of Error.
const (
	// Missing: the file does not exist.
	Missing Kind = iota + 1
	// NotRegular: the path is a directory, device or other non-file.
	NotRegular
	// SizeMismatch: the file's size is not the manifest's.
	SizeMismatch
	// ChecksumMismatch: the file's sha256 is not the manifest's.
	ChecksumMismatch
	// IO: the file could not be read.
	IO
	// Unknown: the asset name is not in the manifest.
	Unknown
)

func (k Kind) String() string {
	switch k {
	case Missing:
		return "missing"
	case NotRegular:
		return "not a regular file"
	case SizeMismatch:
		return "size mismatch"
	case ChecksumMismatch:
		return "checksum mismatch"
	case IO:
		return "i/o error"
	case Unknown:
		return "unknown asset"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error reports a problem with one asset file.
type Error struct {
	Asset string // kernel, init-oci or supermachine-agent
	File  string
	Kind  Kind
	Err   error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("%s: %s (%s)", e.File, e.Kind, e.Asset)
	}
	return fmt.Sprintf("%s: %s (%s): %v", e.File, e.Kind, e.Asset, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is matches an *Error target of the same Kind, so that
// errors.Is(err, &assetpaths.Error{Kind: assetpaths.ChecksumMismatch}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && (t.Asset == "" || t.Asset == e.Asset) && (t.File == "" || t.File == e.File) && t.Err == nil
}
