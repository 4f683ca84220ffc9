package unpack

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestInspect(t *testing.T) {
	raw := sample(200<<10, 11)
	type want struct {
		streams []int   // blocks per stream
		checks  []byte  // per stream
		padding []int64 // stream padding after each stream
		sizes   bool    // block headers record both sizes
	}
	tests := []struct {
		name string
		x    []byte
		raw  int64
		want want
	}{
		{"one block", compress(t, raw, 0, checkCRC64), int64(len(raw)), want{[]int{1}, []byte{CheckCRC64}, []int64{0}, false}},
		{"many blocks sha256", compress(t, raw, 64<<10, checkSHA256), int64(len(raw)), want{[]int{4}, []byte{CheckSHA256}, []int64{0}, false}},
		{"no check", compress(t, raw, 100<<10, checkNone), int64(len(raw)), want{[]int{2}, []byte{CheckNone}, []int64{0}, false}},
		{"empty (ulikunitz writes one empty block)", compress(t, nil, 0, checkCRC32), 0, want{[]int{1}, []byte{CheckCRC32}, []int64{0}, false}},
		{"streams with padding", concat(compress(t, raw, 64<<10, checkCRC64), make([]byte, 8), compress(t, raw[:1000], 0, checkCRC32), make([]byte, 4)),
			int64(len(raw) + 1000), want{[]int{4, 1}, []byte{CheckCRC64, CheckCRC32}, []int64{8, 4}, false}},
	}
	if x := xzUtils(t, raw, "-T2", "--block-size=64KiB", "--lzma2=preset=6,dict=64KiB"); x != nil {
		tests = append(tests, struct {
			name string
			x    []byte
			raw  int64
			want want
		}{"xz-utils multi-threaded", x, int64(len(raw)), want{[]int{4}, []byte{CheckCRC64}, []int64{0}, true}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Inspect(bytes.NewReader(tt.x), int64(len(tt.x)), "f.xz")
			if err != nil {
				t.Fatal(err)
			}
			if l.Size != int64(len(tt.x)) || len(l.Streams) != len(tt.want.streams) {
				t.Fatalf("Size %d, %d streams; want %d, %d", l.Size, len(l.Streams), len(tt.x), len(tt.want.streams))
			}
			var total int64
			next := int64(0)
			for si, s := range l.Streams {
				if s.Offset != next {
					t.Errorf("stream %d at %d, want %d", si, s.Offset, next)
				}
				next = s.Offset + s.Size + tt.want.padding[si]
				if s.Check != tt.want.checks[si] || len(s.Blocks) != tt.want.streams[si] {
					t.Errorf("stream %d: check %#x, %d blocks; want %#x, %d", si, s.Check, len(s.Blocks), tt.want.checks[si], tt.want.streams[si])
				}
				// Blocks fill the stream from its header to its index.
				off := s.Offset + headerLen
				for bi, b := range s.Blocks {
					if b.Offset != off {
						t.Errorf("stream %d block %d at %d, want %d", si, bi, b.Offset, off)
					}
					off += (b.IndexUnpadded + 3) &^ 3
					total += b.IndexUncompressed
					if b.HeaderSize < 8 || b.HeaderSize%4 != 0 || int(tt.x[b.Offset]) != int(b.HeaderSize/4-1) {
						t.Errorf("stream %d block %d: header size %d, size byte %#x", si, bi, b.HeaderSize, tt.x[b.Offset])
					}
					if b.DictSize <= 0 || b.DictSize > MaxDictSize {
						t.Errorf("stream %d block %d: dictionary %d", si, bi, b.DictSize)
					}
					if !tt.want.sizes {
						if b.CompressedSize != -1 || b.UncompressedSize != -1 {
							t.Errorf("stream %d block %d: sizes %d/%d, want -1/-1 (absent)", si, bi, b.CompressedSize, b.UncompressedSize)
						}
						continue
					}
					if b.HeaderSize+b.CompressedSize+s.CheckSize() != b.IndexUnpadded || b.UncompressedSize != b.IndexUncompressed {
						t.Errorf("stream %d block %d: header %d+%d/%d, index %d/%d", si, bi, b.HeaderSize, b.CompressedSize, b.UncompressedSize, b.IndexUnpadded, b.IndexUncompressed)
					}
				}
				if idx := s.Offset + s.Size - footerLen; off >= idx || tt.x[off] != 0 {
					t.Errorf("stream %d: blocks end at %d, which is not the index indicator (index before %d)", si, off, idx)
				}
			}
			if next != l.Size {
				t.Errorf("streams and padding end at %d, file is %d bytes", next, l.Size)
			}
			if total != tt.raw {
				t.Errorf("index total %d, want %d", total, tt.raw)
			}
		})
	}
}

func TestInspectErrors(t *testing.T) {
	raw := sample(100<<10, 12)
	good := compress(t, raw, 32<<10, checkCRC64)
	_, hsize := firstBlock(good)
	edit := func(f func(x []byte)) []byte { x := bytes.Clone(good); f(x); return x }
	// The ulikunitz block header: size byte, flags, filter id, properties
	// size, the LZMA2 dictionary property, padding, CRC32.
	header := func(off int, v byte) []byte {
		return edit(func(x []byte) { x[headerLen+off] = v; fixHeaderCRC(x, headerLen, hsize) })
	}
	tests := []struct {
		name string
		x    []byte
		r    io.ReaderAt // instead of x, when set
		kind Kind
		text string
	}{
		{"tiny", good[:20], nil, Truncated, "truncated: 20 bytes"},
		{"not xz", []byte(strings.Repeat("not xz at all ", 4)), nil, Corrupt, "not an xz file"},
		{"stream header CRC", edit(func(x []byte) { x[7] ^= 1 }), nil, Corrupt, "corrupt stream header"},
		{"cut short", good[:len(good)-64], nil, Corrupt, "truncated or trailing data"},
		{"odd size", good[:len(good)-1], nil, Corrupt, "not a multiple of four"},
		{"trailing garbage", concat(good, []byte("junk")), nil, Corrupt, "no stream footer"},
		{"footer CRC", edit(func(x []byte) { x[len(x)-6] ^= 1 }), nil, Corrupt, "corrupt stream footer"},
		{"index CRC", edit(func(x []byte) { x[len(x)-13] ^= 1 }), nil, Corrupt, "index"},
		{"block header CRC", edit(func(x []byte) { x[headerLen+2] ^= 1 }), nil, Corrupt, "stream 1 block 1: corrupt block header"},
		{"BCJ filter", header(2, 0x0a), nil, Unsupported, "filter 0xa (BCJ ARM64): only LZMA2 (0x21) alone"},
		{"huge dictionary", header(4, 38), nil, TooLarge, "exceeds the limit"},
		{"reserved block flags", header(1, 0x04), nil, Corrupt, "reserved block flags"},
		{"read failure", nil, failingReader{good}, IO, "disk on fire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, size := tt.r, int64(len(good))
			if r == nil {
				r, size = bytes.NewReader(tt.x), int64(len(tt.x))
			}
			l, err := Inspect(r, size, "f.xz")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Inspect = %+v, %v; want an *Error", l, err)
			}
			if e.File != "f.xz" || e.Kind != tt.kind || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("err = %v (file %q, kind %v); want file f.xz, kind %v, containing %q", err, e.File, e.Kind, tt.kind, tt.text)
			}
		})
	}
}

// failingReader serves the stream header and then fails every read.
type failingReader struct{ x []byte }

func (f failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) <= headerLen {
		return copy(p, f.x[off:]), nil
	}
	return 0, errors.New("disk on fire")
}
