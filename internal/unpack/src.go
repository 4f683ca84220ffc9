package unpack

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
)

// src reads the byte range [off, end) of an io.ReaderAt through its own
// buffer. ulikunitz's LZMA2 decoder pulls its input one byte per Read call
// (through an io.LimitedReader), so Read returns single bytes without a
// copy loop; that path dominates decoding time.
type src struct {
	r    io.ReaderAt
	off  int64 // file offset of buf[n]
	end  int64
	buf  []byte
	i, n int
	// short is set when the underlying reader ended before end.
	short bool
}

func newSrc(r io.ReaderAt, off, end int64, bufSize int) *src {
	if end-off < int64(bufSize) {
		bufSize = int(max(end-off, 1))
	}
	return &src{r: r, off: off, end: end, buf: make([]byte, bufSize)}
}

func (s *src) fill() error {
	if s.off >= s.end {
		return io.EOF
	}
	m := int64(len(s.buf))
	if s.end-s.off < m {
		m = s.end - s.off
	}
	k, err := s.r.ReadAt(s.buf[:m], s.off)
	if k == 0 {
		if err == nil || err == io.EOF {
			s.short = true
			return io.EOF
		}
		return err
	}
	s.off += int64(k)
	s.i, s.n = 0, k
	return nil
}

// Read implements io.Reader.
func (s *src) Read(p []byte) (int, error) {
	if s.i >= s.n {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	if len(p) == 1 {
		p[0] = s.buf[s.i]
		s.i++
		return 1, nil
	}
	k := copy(p, s.buf[s.i:s.n])
	s.i += k
	return k, nil
}

// pos is the file offset of the next byte Read returns.
func (s *src) pos() int64 { return s.off - int64(s.n-s.i) }

// readAt reads exactly n bytes at off, reporting a short file as
// io.ErrUnexpectedEOF.
func readAt(r io.ReaderAt, off int64, n int64, size int64) ([]byte, error) {
	if off < 0 || n < 0 || off+n > size {
		return nil, io.ErrUnexpectedEOF
	}
	p := make([]byte, n)
	k, err := r.ReadAt(p, off)
	if int64(k) == n {
		return p, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return nil, err
}

var crc64Table = crc64.MakeTable(crc64.ECMA)

// checker computes a block's check and compares it with the stored field.
type checker struct {
	t byte
	h hash.Hash
}

// newChecker returns nil for unsupported check types.
func newChecker(t byte) *checker {
	switch t {
	case checkNone:
		return &checker{t: t}
	case checkCRC32:
		return &checker{t: t, h: crc32.NewIEEE()}
	case checkCRC64:
		return &checker{t: t, h: crc64.New(crc64Table)}
	case checkSHA256:
		return &checker{t: t, h: sha256.New()}
	}
	return nil
}

func (c *checker) Write(p []byte) (int, error) {
	if c.h != nil {
		c.h.Write(p)
	}
	return len(p), nil
}

func (c *checker) reset() {
	if c.h != nil {
		c.h.Reset()
	}
}

// matches compares the computed check with the stored field (CRCs are
// stored little-endian, SHA-256 as its bytes).
func (c *checker) matches(stored []byte) bool {
	switch c.t {
	case checkCRC32:
		return binary.LittleEndian.Uint32(stored) == c.h.(hash.Hash32).Sum32()
	case checkCRC64:
		return binary.LittleEndian.Uint64(stored) == c.h.(hash.Hash64).Sum64()
	case checkSHA256:
		return string(c.h.Sum(nil)) == string(stored)
	}
	return true
}

func checkName(t byte) string {
	switch t {
	case checkNone:
		return "none"
	case checkCRC32:
		return "CRC32"
	case checkCRC64:
		return "CRC64"
	case checkSHA256:
		return "SHA-256"
	}
	return "unknown"
}
