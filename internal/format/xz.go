package format

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// xz container constants (https://tukaani.org/xz/xz-file-format.txt).
const (
	xzHeaderMagic = "\xfd7zXZ\x00"
	xzFooterMagic = "YZ"
	xzStreamHdr   = 12
	xzFilterLZMA2 = 0x21
	// XZCheckCRC64 and XZCheckSHA256 are the integrity checks accepted per block.
	XZCheckCRC64  = 0x04
	XZCheckSHA256 = 0x0a
)

var xzCheckSizes = [16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}

// XZBlock is one block of an xz stream as its header and the index record it.
type XZBlock struct {
	Offset           int64 // of the block header in the file
	HeaderSize       int64
	CompressedSize   int64 // LZMA2 data only, without header, padding and check
	UncompressedSize int64
	DictSize         int64 // LZMA2 dictionary size from the filter properties
}

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
// and the stream carries a CRC64 or SHA-256 check. It reads headers only; it
// does not decompress. name is the file, for error messages.
func CheckXZ(name string, data []byte) (*XZInfo, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: xz: "+format, append([]any{name}, a...)...)
	}
	if len(data) < 2*xzStreamHdr {
		return nil, bad("truncated: %d bytes, shorter than a stream header and footer", len(data))
	}
	if string(data[:6]) != xzHeaderMagic {
		return nil, bad("not an xz file: starts with %q", data[:min(6, len(data))])
	}
	if crc32.ChecksumIEEE(data[6:8]) != binary.LittleEndian.Uint32(data[8:12]) {
		return nil, bad("corrupt stream header (CRC32 mismatch)")
	}
	if data[6] != 0 || data[7]&0xf0 != 0 {
		return nil, bad("unsupported stream flags %#x %#x", data[6], data[7])
	}
	check := data[7] & 0x0f
	if check != XZCheckCRC64 && check != XZCheckSHA256 {
		return nil, bad("integrity check type %#x, want CRC64 (0x04) or SHA-256 (0x0a)", check)
	}
	footer := data[len(data)-xzStreamHdr:]
	if string(footer[10:12]) != xzFooterMagic {
		return nil, bad("truncated or trailing data: no stream footer magic at the end (multi-stream files and stream padding are not accepted)")
	}
	if crc32.ChecksumIEEE(footer[4:10]) != binary.LittleEndian.Uint32(footer[0:4]) {
		return nil, bad("corrupt stream footer (CRC32 mismatch)")
	}
	if !bytes.Equal(footer[8:10], data[6:8]) {
		return nil, bad("stream footer flags differ from the header's")
	}
	indexSize := (int64(binary.LittleEndian.Uint32(footer[4:8])) + 1) * 4
	indexStart := int64(len(data)) - xzStreamHdr - indexSize
	if indexStart < xzStreamHdr {
		return nil, bad("index size %d does not fit in the file", indexSize)
	}
	records, err := parseXZIndex(data[indexStart : indexStart+indexSize])
	if err != nil {
		return nil, bad("index: %v", err)
	}
	checkSize := int64(xzCheckSizes[check])
	info := &XZInfo{Check: check}
	off := int64(xzStreamHdr)
	for i, r := range records {
		b, err := parseXZBlockHeader(data[off:indexStart])
		if err != nil {
			return nil, bad("block %d at offset %d: %v", i, off, err)
		}
		b.Offset = off
		if b.CompressedSize < 0 || b.UncompressedSize < 0 {
			return nil, bad("block %d at offset %d: header does not record its compressed and uncompressed sizes, so it cannot be decoded in parallel (use xz-utils' multi-threaded mode)", i, off)
		}
		if unpadded := b.HeaderSize + b.CompressedSize + checkSize; unpadded != r[0] || b.UncompressedSize != r[1] {
			return nil, bad("block %d: header sizes (unpadded %d, uncompressed %d) disagree with the index (%d, %d)", i, unpadded, b.UncompressedSize, r[0], r[1])
		}
		off += (b.HeaderSize+b.CompressedSize+3)&^3 + checkSize
		if off > indexStart {
			return nil, bad("block %d runs past the index (truncated or corrupt)", i)
		}
		info.Blocks = append(info.Blocks, b)
		info.UncompressedSize += b.UncompressedSize
	}
	if off != indexStart {
		return nil, bad("%d unexplained bytes between the last block and the index", indexStart-off)
	}
	return info, nil
}

// parseXZIndex returns the (unpadded size, uncompressed size) records.
func parseXZIndex(idx []byte) ([][2]int64, error) {
	if len(idx) < 8 || idx[0] != 0 {
		return nil, fmt.Errorf("bad index indicator")
	}
	if crc32.ChecksumIEEE(idx[:len(idx)-4]) != binary.LittleEndian.Uint32(idx[len(idx)-4:]) {
		return nil, fmt.Errorf("CRC32 mismatch")
	}
	p := idx[1 : len(idx)-4]
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)) {
		return nil, fmt.Errorf("bad record count")
	}
	p = p[k:]
	recs := make([][2]int64, 0, n)
	for i := uint64(0); i < n; i++ {
		var r [2]int64
		for j := range r {
			v, k := binary.Uvarint(p)
			if k <= 0 || v > 1<<62 {
				return nil, fmt.Errorf("bad record %d", i)
			}
			r[j] = int64(v)
			p = p[k:]
		}
		recs = append(recs, r)
	}
	for _, c := range p {
		if c != 0 {
			return nil, fmt.Errorf("non-zero index padding")
		}
	}
	if len(p) > 3 {
		return nil, fmt.Errorf("%d bytes of index padding", len(p))
	}
	return recs, nil
}

// parseXZBlockHeader decodes a block header; sizes it does not record are -1.
func parseXZBlockHeader(p []byte) (XZBlock, error) {
	b := XZBlock{CompressedSize: -1, UncompressedSize: -1}
	if len(p) < 1 || p[0] == 0 {
		return b, fmt.Errorf("missing block header (index indicator where a block was expected)")
	}
	b.HeaderSize = (int64(p[0]) + 1) * 4
	if int64(len(p)) < b.HeaderSize {
		return b, fmt.Errorf("truncated block header")
	}
	h := p[:b.HeaderSize]
	if crc32.ChecksumIEEE(h[:len(h)-4]) != binary.LittleEndian.Uint32(h[len(h)-4:]) {
		return b, fmt.Errorf("corrupt block header (CRC32 mismatch)")
	}
	flags := h[1]
	if flags&0x3c != 0 {
		return b, fmt.Errorf("reserved block flags set (%#x)", flags)
	}
	q := h[2 : len(h)-4]
	next := func() (int64, error) {
		v, k := binary.Uvarint(q)
		if k <= 0 || v > 1<<62 {
			return 0, fmt.Errorf("bad integer in block header")
		}
		q = q[k:]
		return int64(v), nil
	}
	var err error
	if flags&0x40 != 0 {
		if b.CompressedSize, err = next(); err != nil {
			return b, err
		}
	}
	if flags&0x80 != 0 {
		if b.UncompressedSize, err = next(); err != nil {
			return b, err
		}
	}
	nfilters := int(flags&3) + 1
	for i := 0; i < nfilters; i++ {
		id, err := next()
		if err != nil {
			return b, err
		}
		psize, err := next()
		if err != nil {
			return b, err
		}
		if psize > int64(len(q)) {
			return b, fmt.Errorf("filter properties run past the header")
		}
		props := q[:psize]
		q = q[psize:]
		if id != xzFilterLZMA2 {
			return b, fmt.Errorf("filter %#x in the chain: only LZMA2 (0x21) alone is accepted (BCJ/delta filters cannot be decoded by github.com/ulikunitz/xz)", id)
		}
		if nfilters != 1 {
			return b, fmt.Errorf("%d filters in the chain: only LZMA2 alone is accepted", nfilters)
		}
		if psize != 1 || props[0] > 40 {
			return b, fmt.Errorf("bad LZMA2 properties")
		}
		if bits := props[0]; bits == 40 {
			b.DictSize = 1<<32 - 1
		} else {
			b.DictSize = int64(2|bits&1) << (bits/2 + 11)
		}
	}
	for _, c := range q {
		if c != 0 {
			return b, fmt.Errorf("non-zero block header padding")
		}
	}
	return b, nil
}
