package unpack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
)

// The xz container (https://tukaani.org/xz/xz-file-format.txt), parsed here
// so that blocks can be located from the index and decoded independently,
// and so that every header field (filters, dictionary size, sizes) is
// checked before any memory is allocated for it.

const (
	headerLen   = 12
	footerLen   = 12
	filterLZMA2 = 0x21
)

var (
	headerMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	footerMagic = []byte{'Y', 'Z'}
)

// Check types (stream flags, low nibble of the second byte), as
// Stream.Check reports them.
const (
	CheckNone   byte = 0x00
	CheckCRC32  byte = 0x01
	CheckCRC64  byte = 0x04
	CheckSHA256 byte = 0x0a
)

// Short names used throughout the package and its tests.
const (
	checkNone   = CheckNone
	checkCRC32  = CheckCRC32
	checkCRC64  = CheckCRC64
	checkSHA256 = CheckSHA256
)

// checkSize returns the size of a block's check field for check type t, as
// the format defines it for every type, supported or not.
func checkSize(t byte) int {
	if t == 0 {
		return 0
	}
	return 4 << ((t - 1) / 3)
}

// block is one block as the index describes it, plus what its header says.
type block struct {
	offset       int64 // of the block header in the file
	unpadded     int64 // header + compressed data + check
	uncompressed int64
}

// readVLI decodes a variable-length integer from p, returning it and the
// number of bytes used.
func readVLI(p []byte) (uint64, int, error) {
	var x uint64
	for i := 0; i < 9 && i < len(p); i++ {
		b := p[i]
		x |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			if i > 0 && b == 0 {
				return 0, 0, errors.New("non-minimal variable-length integer")
			}
			return x, i + 1, nil
		}
	}
	if len(p) < 9 {
		return 0, 0, io.ErrUnexpectedEOF
	}
	return 0, 0, errors.New("variable-length integer too long")
}

// parseStreamFlags checks the two flag bytes and returns the check type.
func parseStreamFlags(p []byte) (byte, error) {
	if p[0] != 0 || p[1]&0xf0 != 0 {
		return 0, errorf("reserved stream flags set (%#02x %#02x)", p[0], p[1])
	}
	return p[1] & 0x0f, nil
}

// parseStreamHeader checks a 12-byte stream header.
func parseStreamHeader(p []byte) (byte, error) {
	if !bytes.Equal(p[:6], headerMagic) {
		return 0, errBadMagic
	}
	if crc32.ChecksumIEEE(p[6:8]) != binary.LittleEndian.Uint32(p[8:12]) {
		return 0, errors.New("corrupt stream header (CRC32 mismatch)")
	}
	return parseStreamFlags(p[6:8])
}

var errBadMagic = errors.New("not an xz file (bad magic)")

// dictSizeFromProp decodes the LZMA2 dictionary-size property byte.
func dictSizeFromProp(b byte) (int64, error) {
	if b&0xc0 != 0 || b > 40 {
		return 0, errorf("invalid LZMA2 dictionary size property %#02x", b)
	}
	if b == 40 {
		return 1<<32 - 1, nil
	}
	return int64(2|b&1) << (b/2 + 11), nil
}

// filterName names the filters xz-utils knows, for error messages.
func filterName(id uint64) string {
	switch id {
	case 0x03:
		return "delta"
	case 0x04:
		return "BCJ x86"
	case 0x05:
		return "BCJ PowerPC"
	case 0x06:
		return "BCJ IA-64"
	case 0x07:
		return "BCJ ARM"
	case 0x08:
		return "BCJ ARM-Thumb"
	case 0x09:
		return "BCJ SPARC"
	case 0x0a:
		return "BCJ ARM64"
	case 0x0b:
		return "BCJ RISC-V"
	case filterLZMA2:
		return "LZMA2"
	}
	return "unknown"
}

// blockHeader is what a block header declares.
type blockHeader struct {
	size         int64 // of the header itself
	compressed   int64 // -1 when absent
	uncompressed int64 // -1 when absent
	dictSize     int64
}

// parseBlockHeader parses the block header p (its full declared size,
// starting with the size byte). The Kind distinguishes corrupt input from
// valid features this package does not decode.
func parseBlockHeader(p []byte) (blockHeader, Kind, error) {
	n := len(p)
	h := blockHeader{size: int64(n), compressed: -1, uncompressed: -1}
	if crc32.ChecksumIEEE(p[:n-4]) != binary.LittleEndian.Uint32(p[n-4:]) {
		return h, Corrupt, errors.New("corrupt block header (CRC32 mismatch)")
	}
	flags := p[1]
	if flags&0x3c != 0 {
		return h, Corrupt, errorf("reserved block flags set (%#02x)", flags)
	}
	nfilters := int(flags&3) + 1
	q := p[2 : n-4]
	if flags&0x40 != 0 {
		v, k, err := readVLI(q)
		if err != nil || v == 0 || v > 1<<62 {
			return h, Corrupt, errorf("bad compressed size in block header")
		}
		h.compressed, q = int64(v), q[k:]
	}
	if flags&0x80 != 0 {
		v, k, err := readVLI(q)
		if err != nil || v > 1<<62 {
			return h, Corrupt, errorf("bad uncompressed size in block header")
		}
		h.uncompressed, q = int64(v), q[k:]
	}
	for i := 0; i < nfilters; i++ {
		id, k, err := readVLI(q)
		if err != nil {
			return h, Corrupt, errorf("filter id: %w", err)
		}
		q = q[k:]
		psize, k, err := readVLI(q)
		if err != nil {
			return h, Corrupt, errorf("filter properties size: %w", err)
		}
		q = q[k:]
		if psize > uint64(len(q)) {
			return h, Corrupt, errors.New("filter properties overrun the block header")
		}
		props := q[:psize]
		q = q[psize:]
		if id != filterLZMA2 {
			return h, Unsupported, errorf("filter %#x (%s): only LZMA2 (0x21) alone is supported; recompress without BCJ/delta filters", id, filterName(id))
		}
		if i != nfilters-1 {
			return h, Corrupt, errors.New("LZMA2 is not the last filter")
		}
		if len(props) != 1 {
			return h, Corrupt, errorf("LZMA2 properties are %d bytes, want 1", len(props))
		}
		if h.dictSize, err = dictSizeFromProp(props[0]); err != nil {
			return h, Corrupt, err
		}
	}
	for _, c := range q {
		if c != 0 {
			return h, Corrupt, errors.New("non-zero block header padding")
		}
	}
	if h.dictSize > MaxDictSize {
		return h, TooLarge, errorf("LZMA2 dictionary of %d bytes exceeds the limit of %d", h.dictSize, MaxDictSize)
	}
	return h, 0, nil
}

// stream is one xz stream located from its footer and index.
type stream struct {
	offset int64 // of the stream header
	size   int64 // header to footer, without the stream padding after it
	check  byte
	blocks []block
}

// parseIndex decodes an index (starting with its 0x00 indicator and ending
// with its CRC32) into block records. maxRecords bounds the count before
// anything is allocated: the caller knows how many blocks can fit.
func parseIndex(p []byte, maxRecords int64) ([]block, error) {
	n := len(p)
	if n < 8 || p[0] != 0 {
		return nil, errors.New("index indicator missing")
	}
	if crc32.ChecksumIEEE(p[:n-4]) != binary.LittleEndian.Uint32(p[n-4:]) {
		return nil, errors.New("index CRC32 mismatch")
	}
	q := p[1 : n-4]
	count, k, err := readVLI(q)
	if err != nil {
		return nil, errorf("index record count: %w", err)
	}
	q = q[k:]
	// Each record takes at least two bytes: bound the count before allocating.
	if count > uint64(len(q)/2) || count > uint64(maxRecords) {
		return nil, errorf("index declares %d records, more than fit (%d bytes of index, room for %d blocks)", count, len(q), maxRecords)
	}
	blocks := make([]block, count)
	for i := range blocks {
		u, k, err := readVLI(q)
		if err != nil {
			return nil, errorf("index record %d: %w", i, err)
		}
		q = q[k:]
		c, k, err := readVLI(q)
		if err != nil {
			return nil, errorf("index record %d: %w", i, err)
		}
		q = q[k:]
		if u < 5 || u > 1<<62 || c > 1<<62 {
			return nil, errorf("index record %d: impossible sizes", i)
		}
		blocks[i].unpadded, blocks[i].uncompressed = int64(u), int64(c)
	}
	if len(q) > 3 {
		return nil, errors.New("index padding too long")
	}
	for _, c := range q {
		if c != 0 {
			return nil, errors.New("non-zero index padding")
		}
	}
	return blocks, nil
}
