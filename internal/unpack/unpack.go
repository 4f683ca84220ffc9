// Package unpack is the module's one decode-and-verify path: it turns an .xz
// payload into verified bytes or into a file that appears at its destination
// only once its exact size and sha256 have been checked.
//
// Every failure is an *Error that names the input file and says what kind of
// problem it is, so callers (tools/unxz, the kernel package, the CLI) can
// print one clear line and tests can match on Kind.
package unpack

import (
	"errors"
	"fmt"
	"os"
)

// DefaultMaxSize bounds the output when Want.Size is 0 and Want.MaxSize is 0.
const DefaultMaxSize int64 = 1 << 30

// MaxDictSize is the largest LZMA2 dictionary a payload may declare. The
// decoder allocates the dictionary up front, so a hostile header asking for
// gigabytes is rejected instead of honoured. xz -9 uses 64 MiB.
const MaxDictSize = 64 << 20

// Want says what the decoded output must be.
type Want struct {
	// Size is the exact decompressed size; 0 means unknown (MaxSize bounds it).
	Size int64
	// SHA256 is the lower-case hex sha256 of the output; "" means not checked.
	SHA256 string
	// MaxSize caps the output when Size is 0 (DefaultMaxSize when 0).
	MaxSize int64
	// Mode is the permission of written files, applied with chmod so that the
	// umask does not matter. 0 means 0644.
	Mode os.FileMode
}

// limit returns the most bytes the output may hold.
func (w Want) limit() int64 {
	switch {
	case w.Size > 0:
		return w.Size
	case w.MaxSize > 0:
		return w.MaxSize
	default:
		return DefaultMaxSize
	}
}

func (w Want) mode() os.FileMode {
	if w.Mode == 0 {
		return 0o644
	}
	return w.Mode.Perm()
}

// Kind classifies an Error.
type Kind int

// Kinds of failure.
const (
	// Corrupt: the input is not a valid xz stream (bad magic, bad header,
	// bad LZMA2 data, a block check that does not match, trailing garbage).
	Corrupt Kind = iota + 1
	// Truncated: the input ends before the xz stream does.
	Truncated
	// ChecksumMismatch: the output's sha256 is not Want.SHA256.
	ChecksumMismatch
	// SizeMismatch: the output is shorter or longer than Want.Size.
	SizeMismatch
	// TooLarge: the output exceeds Want.MaxSize (or DefaultMaxSize), or the
	// stream declares a dictionary larger than MaxDictSize.
	TooLarge
	// IO: reading the input or writing the output failed.
	IO
	// Unsupported: a valid xz feature this package does not decode (filters
	// other than LZMA2, such as BCJ; unknown check types).
	Unsupported
)

func (k Kind) String() string {
	switch k {
	case Corrupt:
		return "corrupt xz"
	case Truncated:
		return "truncated xz"
	case ChecksumMismatch:
		return "checksum mismatch"
	case SizeMismatch:
		return "size mismatch"
	case TooLarge:
		return "output larger than declared"
	case IO:
		return "i/o error"
	case Unsupported:
		return "unsupported xz"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is the error type of every function in this package.
type Error struct {
	File string // the input's name (or the destination, for Copy)
	Kind Kind
	Err  error // detail; may be nil
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("unpack: %s: %s", e.File, e.Kind)
	}
	return fmt.Sprintf("unpack: %s: %s: %v", e.File, e.Kind, e.Err)
}

// Unwrap returns the detail error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error of the same Kind, so that
// errors.Is(err, &unpack.Error{Kind: unpack.Truncated}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && (t.File == "" || t.File == e.File) && t.Err == nil
}

// KindOf returns the Kind of the first *Error in err's chain, or 0.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func newErr(file string, kind Kind, format string, args ...any) *Error {
	return &Error{File: file, Kind: kind, Err: fmt.Errorf(format, args...)}
}
