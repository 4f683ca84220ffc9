package unpack

import (
	"errors"
	"io"
)

// Layout is the container structure of an xz file as Inspect reads it from
// the headers, the index and the footers, without decompressing anything.
type Layout struct {
	Size    int64 // of the file, stream padding included
	Streams []Stream
}

// Stream is one xz stream of a Layout.
type Stream struct {
	Offset int64 // of the stream header in the file
	Size   int64 // stream header to stream footer, without the padding after it
	Check  byte  // check type: CheckNone, CheckCRC32, CheckCRC64, CheckSHA256 or another the format defines
	Blocks []Block
}

// CheckSize is the size in bytes of each block's check field.
func (s Stream) CheckSize() int64 { return int64(checkSize(s.Check)) }

// Block is one block of a Stream: what its header records next to what the
// stream's index records for it.
type Block struct {
	Offset            int64 // of the block header in the file
	HeaderSize        int64
	CompressedSize    int64 // as the block header records it (LZMA2 data only); -1 when absent
	UncompressedSize  int64 // as the block header records it; -1 when absent
	IndexUnpadded     int64 // the index record: header + compressed data + check, without padding
	IndexUncompressed int64
	DictSize          int64 // LZMA2 dictionary size from the filter properties
}

// Inspect reads the layout of the xz file in r (size bytes, named name in
// errors) through the same parser the decoder uses to locate blocks. It
// checks the stream headers and footers, the indexes and every block header
// (CRC32s, reserved bits, sizes that fit), but no compressed data and no
// block checks: a file Inspect accepts can still fail to decode.
//
// The filter chain of every block it returns is LZMA2 alone with a
// dictionary of at most MaxDictSize: anything else is refused as the
// decoder refuses it (Unsupported, TooLarge). Every failure is an *Error.
func Inspect(r io.ReaderAt, size int64, name string) (*Layout, error) {
	rr := &readErrs{r: r}
	if size < headerLen+footerLen {
		return nil, newErr(name, Truncated, "truncated: %d bytes, shorter than a stream header and footer", size)
	}
	// The first header is checked on its own so that a file that is not xz
	// at all is named as such, not as one lacking a footer.
	hdr, err := readAt(rr, 0, headerLen, size)
	if err != nil {
		return nil, newErr(name, IO, "read: %w", err)
	}
	if _, err := parseStreamHeader(hdr); err != nil {
		return nil, newErr(name, Corrupt, "%w", err)
	}
	streams, err := locate(rr, size)
	if err != nil {
		switch {
		case rr.err != nil:
			return nil, newErr(name, IO, "read: %w", rr.err)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, newErr(name, Truncated, "%w", err)
		}
		return nil, newErr(name, Corrupt, "%w", err)
	}
	l := &Layout{Size: size}
	for si, s := range streams {
		st := Stream{Offset: s.offset, Size: s.size, Check: s.check, Blocks: make([]Block, 0, len(s.blocks))}
		for bi, b := range s.blocks {
			h, kind, err := readBlockHeader(rr, size, b, s.check)
			if err != nil {
				return nil, blockErr(name, kind, si, bi, err)
			}
			st.Blocks = append(st.Blocks, Block{
				Offset:            b.offset,
				HeaderSize:        h.size,
				CompressedSize:    h.compressed,
				UncompressedSize:  h.uncompressed,
				IndexUnpadded:     b.unpadded,
				IndexUncompressed: b.uncompressed,
				DictSize:          h.dictSize,
			})
		}
		l.Streams = append(l.Streams, st)
	}
	return l, nil
}

// readErrs remembers the first failed read that is not the end of the
// input, so that Inspect can tell a broken reader from a broken file.
type readErrs struct {
	r   io.ReaderAt
	err error
}

func (rr *readErrs) ReadAt(p []byte, off int64) (int, error) {
	n, err := rr.r.ReadAt(p, off)
	if err != nil && err != io.EOF && rr.err == nil {
		rr.err = err
	}
	return n, err
}
