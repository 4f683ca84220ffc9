// Command unxz decodes one .xz payload into a verified file. It is the
// command-line face of internal/unpack, built to run inside Bazel actions:
// no network, no host tools, and output that depends only on its inputs.
//
// Usage:
//
//	unxz --src IN.xz --out OUT [--sha256 HEX] [--size N] [--mode 0755]
//
// OUT appears only once its size and sha256 (when given) are verified, with
// exactly --mode (default 0644) whatever the umask. On any failure unxz
// prints one line naming the file and the reason, exits 1 (2 for usage
// errors), and leaves no OUT behind: a stale OUT from an earlier run is
// removed, so nothing can mistake it for this run's result.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"

	"github.com/supermachine/supermachine_kernel/internal/unpack"
)

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	// The live heap is a few block buffers and dictionaries (~21 MiB for
	// 4 MiB blocks on 2 cores). Collect rarely, but before the heap passes
	// 48 MiB (raised for big inputs in decode), so peak RSS stays well under
	// 64 MiB without GC work per block.
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(48 << 20)
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "unxz:", err)
		var u usageError
		if errors.As(err, &u) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("unxz", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	src := fs.String("src", "", "the .xz file to decode")
	out := fs.String("out", "", "the file to write")
	sum := fs.String("sha256", "", "expected sha256 of the output, lower-case hex")
	size := fs.Int64("size", 0, "expected size of the output in bytes (0: unknown, capped at 1 GiB)")
	mode := fs.String("mode", "0644", "permission of the output, octal")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error() + "; usage: unxz --src IN.xz --out OUT [--sha256 HEX] [--size N] [--mode 0755]"}
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	case *src == "":
		return usageError{"--src is required"}
	case *out == "":
		return usageError{"--out is required"}
	case *sum != "" && !hexSHA256.MatchString(*sum):
		return usageError{fmt.Sprintf("--sha256 %q is not 64 lower-case hex digits", *sum)}
	case *size < 0:
		return usageError{fmt.Sprintf("--size %d is negative", *size)}
	}
	perm, err := strconv.ParseUint(*mode, 8, 32)
	if err != nil || perm > 0o777 || perm == 0 {
		return usageError{fmt.Sprintf("--mode %q is not an octal permission between 0001 and 0777", *mode)}
	}
	err = decode(*src, *out, unpack.Want{Size: *size, SHA256: *sum, Mode: os.FileMode(perm)})
	if err != nil {
		// Remove a stale OUT, but never the input itself (--out naming --src).
		fo, oerr := os.Lstat(*out)
		fs, serr := os.Stat(*src)
		if oerr == nil && fo.Mode().IsRegular() && (serr != nil || !os.SameFile(fo, fs)) {
			os.Remove(*out)
		}
	}
	return err
}

func decode(src, out string, want unpack.Want) error {
	f, err := os.Open(src)
	if err != nil {
		return err // *PathError names src
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", src)
	}
	// Inputs with big blocks have a bigger live heap; a limit below it
	// would make the collector run constantly.
	if limit := 4 * fi.Size(); limit > 48<<20 {
		debug.SetMemoryLimit(limit)
	}
	return unpack.File(out, f, fi.Size(), src, want)
}
