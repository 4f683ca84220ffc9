package kernel

import "github.com/supermachine/supermachine_kernel/internal/unpack"

// Error is the type of every failure to decode, verify or write an asset:
// it names the file and says what kind of problem it is. Match it with
// errors.As, or a kind with errors.Is(err, &kernel.Error{Kind: kernel.ErrChecksumMismatch}).
type Error = unpack.Error

// ErrorKind classifies an Error.
type ErrorKind = unpack.Kind

// Kinds of Error.
const (
	ErrCorrupt          = unpack.Corrupt          // not a valid xz stream
	ErrTruncated        = unpack.Truncated        // the stream ends early
	ErrChecksumMismatch = unpack.ChecksumMismatch // sha256 differs from the manifest
	ErrSizeMismatch     = unpack.SizeMismatch     // size differs from the manifest
	ErrTooLarge         = unpack.TooLarge         // output larger than declared
	ErrIO               = unpack.IO               // reading or writing failed
	ErrUnsupported      = unpack.Unsupported      // an xz feature the decoder does not handle
)
