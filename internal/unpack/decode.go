package unpack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/ulikunitz/xz/lzma"
)

// maxParallelBlock is the largest block decoded into memory by the parallel
// path; files with larger blocks take the streaming path, so memory stays
// bounded by a few blocks whatever the input says.
const maxParallelBlock = 32 << 20

// parallelMemBudget bounds what the parallel path holds at once (output
// buffers and dictionaries): on a machine with many cores the number of
// workers shrinks when blocks are large.
const parallelMemBudget = 256 << 20

// srcBufSize is the read buffer of the compressed input.
const srcBufSize = 256 << 10

// Decode decodes the xz data in src (srcSize bytes, named srcName in errors)
// into dst, checking every block's check, the index, the exact size and the
// sha256 in want. Output larger than want allows is never written to dst.
// dst receives output block by block, before the sha256 and a short output
// can be known, so callers that must not expose unverified bytes use File or
// Bytes.
//
// Files whose index lists several blocks are decoded in parallel
// (GOMAXPROCS workers, a bounded number of blocks in flight) and written in
// order; anything else is decoded as a stream. Both give identical output
// and identical checks.
func Decode(dst io.Writer, src io.ReaderAt, srcSize int64, srcName string, want Want) error {
	v := newVerifier(dst, srcName, want)
	if err := decode(v, src, srcSize, srcName, runtime.GOMAXPROCS(0)); err != nil {
		return err
	}
	return v.finish()
}

// Bytes decodes src and returns the verified output.
func Bytes(src []byte, srcName string, want Want) ([]byte, error) {
	var buf bytes.Buffer
	if want.Size > 0 {
		// Size comes from a manifest, but preallocate no more than a
		// sensible amount before the input has proved it is that large.
		buf.Grow(int(min(want.Size, 256<<20)))
	}
	if err := Decode(&buf, bytes.NewReader(src), int64(len(src)), srcName, want); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decode picks the parallel path when the layout allows it and falls back to
// the streaming path otherwise; the streaming path is also the one that
// diagnoses malformed files (truncation, garbage), since it reads forward.
func decode(v *verifier, r io.ReaderAt, size int64, name string, workers int) error {
	if workers > 1 {
		if streams, err := locate(r, size); err == nil && parallelizable(streams) {
			var total int64
			for _, s := range streams {
				for _, b := range s.blocks {
					total += b.uncompressed
				}
			}
			if total > v.limit {
				return newErr(name, TooLarge, "the index declares %d bytes, more than the %d allowed", total, v.limit)
			}
			if v.want.Size > 0 && total != v.want.Size {
				return newErr(name, SizeMismatch, "the index declares %d bytes, want %d", total, v.want.Size)
			}
			var biggest int64
			for _, s := range streams {
				for _, b := range s.blocks {
					biggest = max(biggest, b.uncompressed)
				}
			}
			// Each worker holds an output buffer and a dictionary of at most
			// the block's size; one more buffer waits to be written.
			workers = int(min(int64(workers), max(1, parallelMemBudget/(2*max(biggest, 1))-1)))
			return decodeParallel(v, r, size, name, streams, workers)
		}
	}
	return decodeStream(v, r, size, name, v.limit)
}

func parallelizable(streams []stream) bool {
	n := 0
	for _, s := range streams {
		if newChecker(s.check) == nil {
			return false
		}
		for _, b := range s.blocks {
			if b.uncompressed > maxParallelBlock {
				return false
			}
			n++
		}
	}
	return n > 1
}

// locate walks the file backwards from its end (stream padding, footer,
// index, header) and returns every stream with the offsets and sizes of its
// blocks. Any inconsistency is an error; the caller then lets the streaming
// path describe it.
func locate(r io.ReaderAt, size int64) ([]stream, error) {
	if size%4 != 0 {
		return nil, errorf("size %d is not a multiple of four (truncated or trailing data)", size)
	}
	var streams []stream
	end := size
	for end > 0 {
		// Stream padding: zeros in 4-byte units after a stream, never
		// before the first one.
		for end >= 4 {
			p, err := readAt(r, end-4, 4, size)
			if err != nil {
				return nil, err
			}
			if binary.LittleEndian.Uint32(p) != 0 {
				break
			}
			end -= 4
		}
		if end == 0 {
			return nil, errors.New("stream padding before the first stream")
		}
		if end < headerLen+footerLen {
			return nil, errors.New("too short for a stream")
		}
		f, err := readAt(r, end-footerLen, footerLen, size)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(f[10:12], footerMagic) {
			return nil, errors.New("truncated or trailing data: no stream footer at the end")
		}
		if crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f[0:4]) {
			return nil, errors.New("corrupt stream footer (CRC32 mismatch)")
		}
		check, err := parseStreamFlags(f[8:10])
		if err != nil {
			return nil, err
		}
		indexSize := (int64(binary.LittleEndian.Uint32(f[4:8])) + 1) * 4
		indexStart := end - footerLen - indexSize
		if indexStart < headerLen {
			return nil, errors.New("index size points before the stream")
		}
		idx, err := readAt(r, indexStart, indexSize, size)
		if err != nil {
			return nil, err
		}
		// A block takes at least 8 bytes of the file (header, data, check).
		blocks, err := parseIndex(idx, (indexStart-headerLen)/8)
		if err != nil {
			return nil, err
		}
		var total int64
		for _, b := range blocks {
			total += (b.unpadded + 3) &^ 3
			if total > indexStart-headerLen {
				return nil, errors.New("index describes more data than precedes it")
			}
		}
		start := indexStart - total - headerLen
		h, err := readAt(r, start, headerLen, size)
		if err != nil {
			return nil, err
		}
		hcheck, err := parseStreamHeader(h)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(h[6:8], f[8:10]) || hcheck != check {
			return nil, errors.New("stream header and footer flags differ")
		}
		off := start + headerLen
		for i := range blocks {
			blocks[i].offset = off
			off += (blocks[i].unpadded + 3) &^ 3
		}
		// Appended back to front and reversed once at the end: prepending
		// copied the whole list for every stream, quadratic in a file made
		// of many tiny streams.
		streams = append(streams, stream{offset: start, size: end - start, check: check, blocks: blocks})
		end = start
	}
	if len(streams) == 0 {
		return nil, errors.New("no stream")
	}
	slices.Reverse(streams)
	return streams, nil
}

// dictCap is the dictionary to allocate for a block: the declared size, but
// no more than the block's output can be (a block starts with a dictionary
// reset, so no match reaches further back than its own start). bound is the
// block's size when known, else the most output the caller allows.
func dictCap(h blockHeader, bound int64) int {
	d := h.dictSize
	if bound >= 0 && bound < d {
		d = bound
	}
	if d < lzma.MinDictCap {
		d = lzma.MinDictCap
	}
	return int(d)
}

// blockErr wraps a block-level problem with the block's position.
func blockErr(name string, kind Kind, si, bi int, err error) *Error {
	return newErr(name, kind, "stream %d block %d: %w", si+1, bi+1, err)
}

// decodeStream decodes the file front to back with one buffer and one
// dictionary at a time: the fallback for single-block files, huge blocks
// and anything locate could not parse. It checks everything the format
// defines: headers, block checks, index records, footers, padding.
func decodeStream(w io.Writer, r io.ReaderAt, size int64, name string, limit int64) error {
	trunc := func(what string) error { return newErr(name, Truncated, "file ends inside %s", what) }
	pos := int64(0)
	buf := make([]byte, 256<<10)
	for si := 0; ; si++ {
		if si > 0 {
			for pos+4 <= size {
				p, err := readAt(r, pos, 4, size)
				if err != nil {
					return newErr(name, IO, "read: %w", err)
				}
				if binary.LittleEndian.Uint32(p) != 0 {
					break
				}
				pos += 4
			}
			if pos == size {
				return nil
			}
		}
		hdr, err := readAt(r, pos, headerLen, size)
		if err != nil {
			if si > 0 {
				return newErr(name, Corrupt, "trailing garbage at offset %d", pos)
			}
			return trunc("the stream header")
		}
		check, err := parseStreamHeader(hdr)
		if err != nil {
			if si > 0 {
				return newErr(name, Corrupt, "trailing garbage at offset %d", pos)
			}
			return newErr(name, Corrupt, "%w", err)
		}
		ck := newChecker(check)
		if ck == nil {
			return newErr(name, Unsupported, "check type %#x", check)
		}
		pos += headerLen
		var recs []block
		for bi := 0; ; bi++ {
			p, err := readAt(r, pos, 1, size)
			if err != nil {
				return trunc("a block or index")
			}
			if p[0] == 0 {
				break
			}
			hsize := (int64(p[0]) + 1) * 4
			hp, err := readAt(r, pos, hsize, size)
			if err != nil {
				return trunc("a block header")
			}
			h, kind, err := parseBlockHeader(hp)
			if err != nil {
				return blockErr(name, kind, si, bi, err)
			}
			pos += hsize
			end := size
			if h.compressed >= 0 && pos+h.compressed < size {
				end = pos + h.compressed
			}
			s := newSrc(r, pos, end, srcBufSize)
			bound := limit
			if h.uncompressed >= 0 {
				bound = h.uncompressed
			}
			rd, err := lzma.Reader2Config{DictCap: dictCap(h, bound)}.NewReader2(s)
			if err != nil {
				return blockErr(name, Corrupt, si, bi, err)
			}
			ck.reset()
			var n int64
			for {
				k, rerr := rd.Read(buf)
				if k > 0 {
					n += int64(k)
					if h.uncompressed >= 0 && n > h.uncompressed {
						return blockErr(name, Corrupt, si, bi, errors.New("more data than the block header declares"))
					}
					ck.Write(buf[:k])
					if _, werr := w.Write(buf[:k]); werr != nil {
						return werr
					}
				}
				if rerr == io.EOF {
					break
				}
				if rerr != nil {
					if s.short || (s.pos() >= size && end == size) {
						return trunc("compressed data")
					}
					return blockErr(name, Corrupt, si, bi, rerr)
				}
			}
			if !rd.EOS() {
				return blockErr(name, Corrupt, si, bi, errors.New("LZMA2 data lacks its end marker"))
			}
			consumed := s.pos() - pos
			if h.compressed >= 0 && consumed != h.compressed {
				return blockErr(name, Corrupt, si, bi, errorf("compressed size is %d, header says %d", consumed, h.compressed))
			}
			if h.uncompressed >= 0 && n != h.uncompressed {
				return blockErr(name, Corrupt, si, bi, errorf("decodes to %d bytes, header says %d", n, h.uncompressed))
			}
			pos += consumed
			if err := checkTail(r, pos, hsize+consumed, ck, size); err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) {
					return trunc("a block check")
				}
				return blockErr(name, Corrupt, si, bi, err)
			}
			pos += (4-(hsize+consumed)%4)%4 + int64(checkSize(check))
			recs = append(recs, block{unpadded: hsize + consumed + int64(checkSize(check)), uncompressed: n})
		}
		isize := indexSize(recs)
		idx, err := readAt(r, pos, isize, size)
		if err != nil {
			return trunc("the index")
		}
		got, err := parseIndex(idx, int64(len(recs)))
		if err != nil {
			return newErr(name, Corrupt, "stream %d: %w", si+1, err)
		}
		if len(got) != len(recs) {
			return newErr(name, Corrupt, "stream %d: index lists %d blocks, the stream has %d", si+1, len(got), len(recs))
		}
		for i := range got {
			if got[i].unpadded != recs[i].unpadded || got[i].uncompressed != recs[i].uncompressed {
				return newErr(name, Corrupt, "stream %d: index record %d does not match block %d", si+1, i+1, i+1)
			}
		}
		pos += isize
		f, err := readAt(r, pos, footerLen, size)
		if err != nil {
			return trunc("the stream footer")
		}
		if !bytes.Equal(f[10:12], footerMagic) || crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f[0:4]) {
			return newErr(name, Corrupt, "stream %d: bad stream footer", si+1)
		}
		if !bytes.Equal(f[8:10], hdr[6:8]) || (int64(binary.LittleEndian.Uint32(f[4:8]))+1)*4 != isize {
			return newErr(name, Corrupt, "stream %d: stream footer does not match header and index", si+1)
		}
		pos += footerLen
	}
}

// indexSize is the encoded size of an index holding recs.
func indexSize(recs []block) int64 {
	n := int64(1 + vliLen(uint64(len(recs))))
	for _, b := range recs {
		n += int64(vliLen(uint64(b.unpadded)) + vliLen(uint64(b.uncompressed)))
	}
	return (n+3)&^3 + 4
}

func vliLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// checkTail verifies the block padding after the compressed data (which
// ends at pos, unpaddedSoFar bytes after the block start) and the check.
func checkTail(r io.ReaderAt, pos, unpaddedSoFar int64, ck *checker, size int64) error {
	pad := (4 - unpaddedSoFar%4) % 4
	p, err := readAt(r, pos, pad+int64(checkSize(ck.t)), size)
	if err != nil {
		return err
	}
	for _, c := range p[:pad] {
		if c != 0 {
			return errors.New("non-zero block padding")
		}
	}
	if !ck.matches(p[pad:]) {
		return errorf("%s check mismatch", checkName(ck.t))
	}
	return nil
}

// job is one block of the parallel path.
type job struct {
	si, bi int
	check  byte
	b      block
	done   chan struct{}
	out    []byte
	err    error
}

// decodeParallel decodes the located blocks, at most workers at a time,
// and writes them to w in order. At most workers+1 blocks are held at once
// (being decoded or waiting to be written); on the first error no further
// block starts and the error of the earliest failing block is returned.
func decodeParallel(w io.Writer, r io.ReaderAt, size int64, name string, streams []stream, workers int) error {
	// slots bounds the blocks held in memory (and the jobs in existence: an
	// index may list millions of tiny blocks); running bounds the blocks
	// being decoded to one per core, so that blocks finish in order and the
	// writer (hashing, writing) overlaps with the decoding of later ones.
	slots := make(chan struct{}, workers+1)
	running := make(chan struct{}, workers)
	order := make(chan *job, workers+1)
	free := make(chan []byte, workers+1)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(quit)
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(order)
		for si, s := range streams {
			for bi, b := range s.blocks {
				select {
				case slots <- struct{}{}:
				case <-quit:
					return
				}
				j := &job{si: si, bi: bi, check: s.check, b: b, done: make(chan struct{})}
				var buf []byte
				select {
				case buf = <-free:
				default:
				}
				wg.Add(1)
				go func(j *job, buf []byte) {
					defer wg.Done()
					defer close(j.done)
					running <- struct{}{}
					defer func() { <-running }()
					if int64(cap(buf)) < j.b.uncompressed {
						buf = make([]byte, j.b.uncompressed)
					}
					j.out = buf[:j.b.uncompressed]
					j.err = decodeBlock(j.out, r, size, name, j)
				}(j, buf)
				order <- j // never blocks: order holds at most as many jobs as slots
			}
		}
	}()
	for j := range order {
		<-j.done
		if j.err != nil {
			return j.err
		}
		if _, err := w.Write(j.out); err != nil {
			return err
		}
		select {
		case free <- j.out[:0]:
		default:
		}
		j.out = nil
		<-slots
	}
	return nil
}

// readBlockHeader reads and parses the header of block b, located through
// the index of a stream with check type check, and checks that the index
// leaves room for it and for some compressed data. The Kind classifies the
// error as parseBlockHeader's does (IO for a failed read).
func readBlockHeader(r io.ReaderAt, size int64, b block, check byte) (blockHeader, Kind, error) {
	p, err := readAt(r, b.offset, 1, size)
	if err != nil {
		return blockHeader{}, IO, err
	}
	hsize := (int64(p[0]) + 1) * 4
	if p[0] == 0 || hsize >= b.unpadded {
		return blockHeader{}, Corrupt, errors.New("block header does not fit the index")
	}
	hp, err := readAt(r, b.offset, hsize, size)
	if err != nil {
		return blockHeader{}, IO, err
	}
	h, kind, err := parseBlockHeader(hp)
	if err != nil {
		return h, kind, err
	}
	if b.unpadded-hsize-int64(checkSize(check)) <= 0 {
		return h, Corrupt, errors.New("index leaves no room for compressed data")
	}
	return h, 0, nil
}

// decodeBlock decodes one located block into out, which has exactly the
// size the index declares, and verifies header, sizes, padding and check.
func decodeBlock(out []byte, r io.ReaderAt, size int64, name string, j *job) error {
	h, kind, err := readBlockHeader(r, size, j.b, j.check)
	if err != nil {
		return blockErr(name, kind, j.si, j.bi, err)
	}
	hsize := h.size
	csize := j.b.unpadded - hsize - int64(checkSize(j.check))
	if h.compressed >= 0 && h.compressed != csize {
		return blockErr(name, Corrupt, j.si, j.bi, errorf("header says %d compressed bytes, index %d", h.compressed, csize))
	}
	if h.uncompressed >= 0 && h.uncompressed != j.b.uncompressed {
		return blockErr(name, Corrupt, j.si, j.bi, errorf("header says %d bytes, index %d", h.uncompressed, j.b.uncompressed))
	}
	start := j.b.offset + hsize
	s := newSrc(r, start, start+csize, srcBufSize)
	rd, err := lzma.Reader2Config{DictCap: dictCap(h, j.b.uncompressed)}.NewReader2(s)
	if err != nil {
		return blockErr(name, Corrupt, j.si, j.bi, err)
	}
	if _, err := io.ReadFull(rd, out); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = errors.New("decodes to fewer bytes than the index says")
		}
		return blockErr(name, Corrupt, j.si, j.bi, err)
	}
	var one [1]byte
	if k, err := rd.Read(one[:]); k != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("decodes to more bytes than the index says")
		}
		return blockErr(name, Corrupt, j.si, j.bi, err)
	}
	if !rd.EOS() {
		return blockErr(name, Corrupt, j.si, j.bi, errors.New("LZMA2 data lacks its end marker"))
	}
	if s.pos() != start+csize {
		return blockErr(name, Corrupt, j.si, j.bi, errorf("LZMA2 data is %d bytes, index says %d", s.pos()-start, csize))
	}
	ck := newChecker(j.check)
	ck.Write(out)
	if err := checkTail(r, start+csize, hsize+csize, ck, size); err != nil {
		return blockErr(name, Corrupt, j.si, j.bi, err)
	}
	return nil
}
