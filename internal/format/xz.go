package format

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/supermachine/supermachine_kernel/internal/unpack"
)

// XZCheckCRC64 and XZCheckSHA256 are the integrity checks accepted per block.
const (
	XZCheckCRC64  = unpack.CheckCRC64
	XZCheckSHA256 = unpack.CheckSHA256
)

// XZBlock is one block of an xz stream as its header and the index record
// it. In a file CheckXZ accepted, the header's sizes are recorded and agree
// with the index.
type XZBlock = unpack.Block

// XZInfo describes an xz file that passed CheckXZ.
type XZInfo struct {
	Check            byte // XZCheckCRC64 or XZCheckSHA256
	Blocks           []XZBlock
	UncompressedSize int64
}

// CheckXZ validates that data is a single xz stream whose every block is
// independent and can be decoded in parallel: each block header records its
// compressed and uncompressed size (matching the index), uses the LZMA2 filter
// alone (no BCJ or delta filters, which github.com/ulikunitz/xz cannot decode),
// and the stream carries a CRC64 or SHA-256 check. It reads headers only, through
// unpack.Inspect (the decoder's own container parser); it does not decompress.
// name is the file, for error messages; errors from the parser wrap its
// *unpack.Error.
func CheckXZ(name string, data []byte) (*XZInfo, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: xz: "+format, append([]any{name}, a...)...)
	}
	l, err := unpack.Inspect(bytes.NewReader(data), int64(len(data)), name)
	if err != nil {
		return nil, &xzError{name: name, err: err}
	}
	if len(l.Streams) != 1 {
		return nil, bad("%d streams: exactly one is accepted (concatenated files are not)", len(l.Streams))
	}
	s := l.Streams[0]
	if after := l.Size - s.Offset - s.Size; after != 0 {
		return nil, bad("truncated or trailing data: %d bytes of stream padding after the stream (not accepted)", after)
	}
	if s.Check != XZCheckCRC64 && s.Check != XZCheckSHA256 {
		return nil, bad("integrity check type %#x, want CRC64 (0x04) or SHA-256 (0x0a)", s.Check)
	}
	info := &XZInfo{Check: s.Check, Blocks: s.Blocks}
	for i, b := range s.Blocks {
		if b.CompressedSize < 0 || b.UncompressedSize < 0 {
			return nil, bad("block %d at offset %d: header does not record its compressed and uncompressed sizes, so it cannot be decoded in parallel (use xz-utils' multi-threaded mode)", i+1, b.Offset)
		}
		if unpadded := b.HeaderSize + b.CompressedSize + s.CheckSize(); unpadded != b.IndexUnpadded || b.UncompressedSize != b.IndexUncompressed {
			return nil, bad("block %d: header sizes (unpadded %d, uncompressed %d) disagree with the index (%d, %d)", i+1, unpadded, b.UncompressedSize, b.IndexUnpadded, b.IndexUncompressed)
		}
		info.UncompressedSize += b.UncompressedSize
	}
	return info, nil
}

// xzError words an unpack.Error in this package's style ("NAME: xz: what is
// wrong") and keeps it in the chain for errors.As and unpack.KindOf.
type xzError struct {
	name string
	err  error
}

func (e *xzError) Error() string {
	var u *unpack.Error
	if errors.As(e.err, &u) && u.Err != nil {
		return fmt.Sprintf("%s: xz: %s: %v", e.name, u.Kind, u.Err)
	}
	return fmt.Sprintf("%s: xz: %v", e.name, e.err)
}

func (e *xzError) Unwrap() error { return e.err }
