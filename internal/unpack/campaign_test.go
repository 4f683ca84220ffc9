package unpack

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The corruption campaign runs the decode-and-verify path over damaged
// copies of the REAL payloads in assets/ (flipped bytes in every part of the
// container, truncations, appended garbage, a wrong magic, streams that
// expand far beyond what is declared) and requires, for every case: a typed
// *Error of an expected Kind whose one-line message names the input, no
// panic, and nothing left in the destination directory. The damaged copies
// are views over the original file (variant), so the campaign itself holds
// no copy of the 10 MiB kernel and the memory it measures is the decoder's.
//
// It runs in a child process (the test binary re-executed) so that the
// child's peak RSS, read from its rusage, is the memory the campaign needed;
// the parent asserts campaignMaxRSS.

// campaignMaxRSS bounds the child's peak resident memory over the whole
// campaign. The parallel path holds at most GOMAXPROCS+1 blocks (4 MiB each
// in kernel.xz, 32 MiB at the very most) plus one dictionary per worker; the
// streaming path one dictionary and two 256 KiB buffers. With the campaign
// run at GOMAXPROCS=4 that is about 5*4 MiB of output buffers and 4*4 MiB of
// dictionaries over a Go runtime of ~10 MiB: measured ~70 MiB. The bound
// does not scale with what a payload claims to expand to (the "bomb" cases
// declare 8 GiB).
const campaignMaxRSS = 160 << 20

// campaignProcs is the GOMAXPROCS of the parallel path in the campaign.
const campaignProcs = 4

const campaignChildEnv = "UNPACK_CAMPAIGN_CHILD"

// payload is one real asset: its open .xz file and what it must decode to.
type payload struct {
	name string
	path string
	f    *os.File
	size int64
	want Want
	// layout of the (single-stream) file, from locate.
	blocks     []block
	indexStart int64
}

func loadPayloads(t *testing.T) []*payload {
	t.Helper()
	dir := filepath.Join("..", "..", "assets")
	mpath := filepath.Join(dir, "manifest.json")
	data, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatalf("read %s: %v", mpath, err)
	}
	// Parsed here with encoding/json: package manifest imports unpack, so
	// this test cannot import it.
	var m struct {
		Assets []struct {
			Name   string `json:"name"`
			XZFile string `json:"xz_file"`
			Mode   string `json:"mode"`
			Raw    struct {
				Size   int64  `json:"size"`
				SHA256 string `json:"sha256"`
			} `json:"raw"`
		} `json:"assets"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", mpath, err)
	}
	if len(m.Assets) == 0 {
		t.Fatalf("%s lists no assets", mpath)
	}
	var ps []*payload
	for _, a := range m.Assets {
		p := &payload{name: a.Name, path: filepath.Join(dir, a.XZFile)}
		f, err := os.Open(p.path)
		if err != nil {
			t.Fatalf("manifest lists %s: %v", a.XZFile, err)
		}
		t.Cleanup(func() { f.Close() })
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		mode, err := strconv.ParseUint(a.Mode, 8, 32)
		if err != nil || a.Raw.Size <= 0 || len(a.Raw.SHA256) != 64 {
			t.Fatalf("%s: asset %s: bad mode, size or sha256", mpath, a.Name)
		}
		p.f, p.size = f, fi.Size()
		p.want = Want{Size: a.Raw.Size, SHA256: a.Raw.SHA256, Mode: os.FileMode(mode)}
		streams, err := locate(f, p.size)
		if err != nil {
			t.Fatalf("%s: cannot locate its blocks: %v", p.path, err)
		}
		if len(streams) != 1 {
			t.Fatalf("%s: %d streams; the campaign expects the single stream bake writes", p.path, len(streams))
		}
		p.blocks = streams[0].blocks
		last := p.blocks[len(p.blocks)-1]
		p.indexStart = last.offset + (last.unpadded+3)&^3
		ps = append(ps, p)
	}
	return ps
}

// variant is a damaged view of a payload: the first baseLen bytes of base,
// then tail, with patches (offset -> byte) applied on top.
type variant struct {
	base    io.ReaderAt
	baseLen int64
	tail    []byte
	patches map[int64]byte
}

func (v *variant) size() int64 { return v.baseLen + int64(len(v.tail)) }

func (v *variant) ReadAt(p []byte, off int64) (int, error) {
	size := v.size()
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= size {
		return 0, io.EOF
	}
	n := len(p)
	var eof error
	if off+int64(n) > size {
		n, eof = int(size-off), io.EOF
	}
	k := 0
	if off < v.baseLen {
		m := int(min(int64(n), v.baseLen-off))
		r, err := v.base.ReadAt(p[:m], off)
		if r != m {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return r, err
		}
		k = m
	}
	if k < n {
		copy(p[k:n], v.tail[off+int64(k)-v.baseLen:])
	}
	for at, b := range v.patches {
		if at >= off && at < off+int64(n) {
			p[at-off] = b
		}
	}
	return n, eof
}

// byteAt reads one byte of the original payload.
func (p *payload) byteAt(t *testing.T, off int64) byte {
	var b [1]byte
	if _, err := p.f.ReadAt(b[:], off); err != nil {
		t.Fatalf("%s: read at %d: %v", p.path, off, err)
	}
	return b[0]
}

func (p *payload) readRange(t *testing.T, off, n int64) []byte {
	b := make([]byte, n)
	if _, err := p.f.ReadAt(b, off); err != nil {
		t.Fatalf("%s: read %d bytes at %d: %v", p.path, n, off, err)
	}
	return b
}

// flipped returns the payload with the byte at off XORed with mask.
func (p *payload) flipped(t *testing.T, off int64, mask byte) *variant {
	return &variant{base: p.f, baseLen: p.size, patches: map[int64]byte{off: p.byteAt(t, off) ^ mask}}
}

func (p *payload) truncated(n int64) *variant { return &variant{base: p.f, baseLen: n} }

func (p *payload) appended(tail []byte) *variant {
	return &variant{base: p.f, baseLen: p.size, tail: tail}
}

// campaignCase is one damaged input and the kinds of error it may give.
type campaignCase struct {
	name  string
	in    *variant
	want  Want
	kinds []Kind
	// procs lists the GOMAXPROCS values (decoding paths) to run; nil means
	// both paths.
	procs []int
	// maxOut, when set, bounds the bytes Decode may hand to its writer.
	maxOut int64
}

var (
	flipKinds  = []Kind{Corrupt}
	truncKinds = []Kind{Truncated}
	// Appended bytes that are not a whole stream: the stream path reports
	// them as trailing garbage; a tail that happens to parse as the start of
	// a stream header but is cut short is a truncated second stream.
	garbageKinds = []Kind{Corrupt, Truncated}
	bombKinds    = []Kind{TooLarge}
)

// region names the part of the container an offset falls in, for case names.
func (p *payload) region(off int64) string {
	switch {
	case off < headerLen:
		return "stream header"
	case off >= p.size-footerLen:
		return "stream footer"
	case off >= p.indexStart:
		return "index"
	}
	for i, b := range p.blocks {
		end := b.offset + (b.unpadded+3)&^3
		if off >= end {
			continue
		}
		hsize := int64(p.byteAtNoT(b.offset)+1) * 4
		switch {
		case off < b.offset+hsize:
			return fmt.Sprintf("block %d header", i+1)
		case off >= end-int64(checkSizeOf(p))-((4-(b.unpadded%4))%4):
			return fmt.Sprintf("block %d padding/check", i+1)
		default:
			return fmt.Sprintf("block %d data", i+1)
		}
	}
	return "unknown"
}

func (p *payload) byteAtNoT(off int64) byte {
	var b [1]byte
	p.f.ReadAt(b[:], off)
	return b[0]
}

// checkSizeOf returns the block check size of p's stream.
func checkSizeOf(p *payload) int {
	var h [headerLen]byte
	p.f.ReadAt(h[:], 0)
	return checkSize(h[7] & 0x0f)
}

// campaignFull runs every case on both paths for every payload. By default
// a big payload (the 10 MiB kernel.xz) gets every fault that fails within
// its first block on the streaming path, which stops there, and a short
// list of the rest (faults in later blocks, the index and the footer, cut
// ends and appended bytes): the parallel path decodes up to GOMAXPROCS+1
// blocks before it reports an error, and a fault behind the blocks costs
// the streaming path a whole decode, ~0.5 s each on a quiet machine.
var campaignFull = flag.Bool("campaign.full", os.Getenv("UNPACK_CAMPAIGN_FULL") != "",
	"corruption campaign: every case on both paths, also for big payloads (slow)")

// big reports whether p gets the sampled campaign.
func (p *payload) big() bool { return p.size > 4<<20 && !*campaignFull }

// early reports whether a fault at off is met within the first block.
func (p *payload) early(off int64) bool {
	return len(p.blocks) > 0 && off < p.blocks[0].offset+p.blocks[0].unpadded
}

// procsFor picks the paths for a fault at off: both for small payloads,
// the streaming path for early faults in big ones, else the parallel path.
func (p *payload) procsFor(off int64) []int {
	switch {
	case len(p.blocks) == 1:
		return []int{1} // one block: both paths decode it as a stream
	case !p.big():
		return nil
	case p.early(off):
		return []int{1}
	}
	return []int{campaignProcs}
}

// flipOffsets picks where to flip bytes: every byte of the stream header
// and of each block header, the first, middle and last bytes of each
// block's data and its check, one byte of each field of the index and the
// footer (every byte with -campaign.full), plus seeded random offsets.
// Big payloads get all of that in the stream header and block 1, and one
// position each in a middle block, the last check, the index and the
// footer. Faults behind the data cost a whole decode each.
func (p *payload) flipOffsets() []int64 {
	set := map[int64]bool{}
	add := func(o int64) {
		if o >= 0 && o < p.size {
			set[o] = true
		}
	}
	ck := int64(checkSizeOf(p))
	blocks := p.blocks
	if p.big() {
		blocks = blocks[:1]
	}
	for o := int64(0); o < headerLen; o++ {
		add(o)
		if *campaignFull {
			add(p.size - footerLen + o)
		}
	}
	for _, b := range blocks {
		hsize := int64(p.byteAtNoT(b.offset)+1) * 4
		for o := int64(0); o < hsize; o++ {
			add(b.offset + o)
		}
		dataEnd := b.offset + b.unpadded - ck
		add(b.offset + hsize)
		add(b.offset + hsize + 1)
		add((b.offset + hsize + dataEnd) / 2)
		add(dataEnd - 1)
		add(dataEnd)                   // first byte of the check
		add(b.offset + b.unpadded - 1) // last byte of the check
	}
	if p.big() {
		mid := p.blocks[len(p.blocks)/2]
		add(mid.offset + mid.unpadded/2)
		last := p.blocks[len(p.blocks)-1]
		add(last.offset + last.unpadded - 1)
		add(p.indexStart + 1)       // the record count
		add(p.size - footerLen + 4) // the backward size
	} else {
		foot := p.size - footerLen
		// Indicator, record count, first record, last byte before the
		// CRC32, the CRC32; the footer's CRC32, backward size, flags, magic.
		for _, o := range []int64{p.indexStart, p.indexStart + 1, p.indexStart + 2, foot - 5, foot - 4, foot, foot + 4, foot + 9, foot + 10} {
			add(o)
		}
		if *campaignFull {
			for o := p.indexStart; o < foot; o++ {
				add(o)
			}
		}
		rng := rand.New(rand.NewSource(p.size))
		for i := 0; i < 16; i++ {
			add(rng.Int63n(p.size))
		}
	}
	return sorted(set)
}

func sorted(set map[int64]bool) []int64 {
	out := make([]int64, 0, len(set))
	for o := range set {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// truncOffsets picks lengths to cut the payload to: inside the header, at
// and just after every block boundary, inside block data, inside the check,
// index and footer, and one byte short. Big payloads: the header, block 1
// and one byte short.
func (p *payload) truncOffsets() []int64 {
	set := map[int64]bool{}
	add := func(n int64) {
		if n >= 0 && n < p.size {
			set[n] = true
		}
	}
	for _, n := range []int64{0, 1, 5, 6, 11, 12, 13, 16} {
		add(n)
	}
	blocks := p.blocks
	if p.big() {
		blocks = blocks[:1]
	}
	for _, b := range blocks {
		add(b.offset + 1)
		add(b.offset + 8)
		add(b.offset + b.unpadded/2)
		add(b.offset + b.unpadded - 1)
		if !p.big() {
			add(b.offset + (b.unpadded+3)&^3)
		}
	}
	if !p.big() {
		add(p.indexStart + 1)
		add(p.size - footerLen)
		add(p.size - footerLen + 6)
		add(p.size - 4) // a multiple of four: looks like padding is missing
	}
	add(p.size - 1)
	return sorted(set)
}

// bombStream returns one xz stream of n blocks, each decoding to blockRaw
// zero bytes: a few hundred bytes of input per block, declaring
// n*blockRaw bytes in its index.
func bombStream(t *testing.T, blockRaw int, n int) []byte {
	one := compress(t, make([]byte, blockRaw), 0, checkCRC64)
	streams, err := locate(bytes.NewReader(one), int64(len(one)))
	if err != nil || len(streams) != 1 || len(streams[0].blocks) != 1 {
		t.Fatalf("bomb template: %v %+v", err, streams)
	}
	b := streams[0].blocks[0]
	blk := one[b.offset : b.offset+(b.unpadded+3)&^3]
	out := append([]byte(nil), one[:headerLen]...)
	idx := append([]byte{0}, putVLI(uint64(n))...)
	for i := 0; i < n; i++ {
		out = append(out, blk...)
		idx = append(idx, putVLI(uint64(b.unpadded))...)
		idx = append(idx, putVLI(uint64(b.uncompressed))...)
	}
	for len(idx)%4 != 0 {
		idx = append(idx, 0)
	}
	idx = binary.LittleEndian.AppendUint32(idx, crc32.ChecksumIEEE(idx))
	foot := append([]byte(nil), one[len(one)-footerLen:]...)
	binary.LittleEndian.PutUint32(foot[4:8], uint32(len(idx)/4-1))
	binary.LittleEndian.PutUint32(foot[0:4], crc32.ChecksumIEEE(foot[4:10]))
	out = append(out, idx...)
	return append(out, foot...)
}

// reencodeVLI replaces the VLI at p[i:] by v, which must not be longer, and
// returns the bytes freed (0 or more) that the caller must absorb.
func putVLI(v uint64) []byte {
	var out []byte
	for v >= 0x80 {
		out = append(out, byte(v)|0x80)
		v >>= 7
	}
	return append(out, byte(v))
}

// understated returns the payload with block 1's uncompressed size lowered
// by one in both its block header and the index (CRCs fixed), so the block
// expands beyond what the container declares.
func (p *payload) understated(t *testing.T) *variant {
	b := p.blocks[0]
	hsize := int64(p.byteAtNoT(b.offset)+1) * 4
	h := p.readRange(t, b.offset, hsize)
	flags := h[1]
	if flags&0x80 == 0 {
		return nil // no uncompressed size in the header: nothing to understate there
	}
	q := h[2 : hsize-4]
	var fields [][]byte
	if flags&0x40 != 0 {
		_, k, err := readVLI(q)
		if err != nil {
			t.Fatal(err)
		}
		fields, q = append(fields, q[:k]), q[k:]
	}
	u, k, err := readVLI(q)
	if err != nil {
		t.Fatal(err)
	}
	fields, q = append(fields, putVLI(u-1)), q[k:]
	nh := []byte{h[0], h[1]}
	for _, f := range fields {
		nh = append(nh, f...)
	}
	nh = append(nh, q...)
	for int64(len(nh)) < hsize-4 {
		nh = append(nh, 0)
	}
	nh = binary.LittleEndian.AppendUint32(nh, crc32.ChecksumIEEE(nh))
	patches := map[int64]byte{}
	for i, c := range nh {
		patches[b.offset+int64(i)] = c
	}
	// New index with the lowered size, then a new footer for its size.
	idx := []byte{0}
	idx = append(idx, putVLI(uint64(len(p.blocks)))...)
	for i, bl := range p.blocks {
		un := uint64(bl.uncompressed)
		if i == 0 {
			un--
		}
		idx = append(idx, putVLI(uint64(bl.unpadded))...)
		idx = append(idx, putVLI(un)...)
	}
	for len(idx)%4 != 0 {
		idx = append(idx, 0)
	}
	idx = binary.LittleEndian.AppendUint32(idx, crc32.ChecksumIEEE(idx))
	foot := p.readRange(t, p.size-footerLen, footerLen)
	binary.LittleEndian.PutUint32(foot[4:8], uint32(len(idx)/4-1))
	binary.LittleEndian.PutUint32(foot[0:4], crc32.ChecksumIEEE(foot[4:10]))
	return &variant{base: p.f, baseLen: p.indexStart, tail: append(idx, foot...), patches: patches}
}

func (p *payload) cases(t *testing.T) []campaignCase {
	var cs []campaignCase
	for _, off := range p.flipOffsets() {
		kinds := flipKinds
		if off == p.indexStart {
			// The index indicator: non-zero, it reads as the size byte of
			// another block header, which then runs past the end of the
			// file. Corrupt or cut short, a parser cannot tell.
			kinds = []Kind{Corrupt, Truncated}
		}
		region := p.region(off)
		for _, mask := range []byte{0x01, 0x80} {
			cs = append(cs, campaignCase{
				name:  fmt.Sprintf("flip %#02x at %d (%s)", mask, off, region),
				in:    p.flipped(t, off, mask),
				want:  p.want,
				kinds: kinds,
				procs: p.procsFor(off),
			})
			// Both masks in headers, where a case is cheap and each bit
			// means something; one elsewhere, where a case costs a decode.
			if !strings.HasSuffix(region, "header") {
				break
			}
		}
	}
	for _, n := range p.truncOffsets() {
		cs = append(cs, campaignCase{
			name:  fmt.Sprintf("truncated to %d of %d bytes", n, p.size),
			in:    p.truncated(n),
			want:  p.want,
			kinds: truncKinds,
			procs: p.procsFor(n),
		})
	}
	tails := []struct {
		name string
		b    []byte
	}{
		{"one byte", []byte{0x42}},
		{"four non-zero bytes", []byte("junk")},
		{"a stream header magic", headerMagic},
		{"a whole stream header", p.readRange(t, 0, headerLen)},
		{"4 KiB of random bytes", randomBytes(4096, 7)},
	}
	if p.big() {
		tails = tails[1:2]
	}
	for _, tail := range tails {
		cs = append(cs, campaignCase{
			name:  "appended " + tail.name,
			in:    p.appended(tail.b),
			want:  p.want,
			kinds: garbageKinds,
			procs: p.procsFor(p.size),
		})
	}
	for i, m := range [][]byte{[]byte("\xfd7zXY\x00"), []byte("PK\x03\x04\x00\x00"), []byte("\x7fELF\x02\x01")} {
		patches := map[int64]byte{}
		for j, c := range m {
			patches[int64(j)] = c
		}
		cs = append(cs, campaignCase{
			name:  fmt.Sprintf("wrong magic %d %q", i+1, m),
			in:    &variant{base: p.f, baseLen: p.size, patches: patches},
			want:  p.want,
			kinds: flipKinds,
		})
	}
	// Expansion beyond the declared size.
	bombs := bombStream(t, 1<<20, 8192) // 8 GiB declared by ~1.6 MB of input
	// The bomb's 8192 blocks make the parallel path apply whatever the
	// payload; on a big payload the streaming path would first decode it.
	var bombProcs []int
	if p.big() {
		bombProcs = []int{campaignProcs}
	}
	cs = append(cs,
		campaignCase{
			name:   fmt.Sprintf("a stream of 8 GiB of zeros (%d bytes) under the payload's name", len(bombs)),
			in:     &variant{tail: bombs},
			want:   p.want,
			kinds:  bombKinds,
			maxOut: p.want.Size,
		},
		campaignCase{
			name:   "a stream of 8 GiB of zeros appended to the payload",
			in:     p.appended(bombs),
			want:   p.want,
			kinds:  bombKinds,
			procs:  bombProcs,
			maxOut: p.want.Size,
		},
		campaignCase{
			name:   "payload decoded with half its size declared",
			in:     p.appended(nil),
			want:   Want{Size: p.want.Size / 2, SHA256: p.want.SHA256},
			kinds:  bombKinds,
			procs:  p.procsFor(p.size),
			maxOut: p.want.Size / 2,
		},
	)
	// Many tiny streams: input the container allows, which must cost time
	// in proportion to its size only.
	empty := compress(t, nil, 0, checkCRC64)
	var empties []byte
	nEmpty := 2048
	if *campaignFull {
		nEmpty = 16384
	}
	for i := 0; i < nEmpty; i++ {
		empties = append(empties, empty...)
	}
	cs = append(cs, campaignCase{
		name:  fmt.Sprintf("%d empty streams (%d bytes) under the payload's name", nEmpty, len(empties)),
		in:    &variant{tail: empties},
		want:  p.want,
		kinds: []Kind{SizeMismatch},
	})
	if v := p.understated(t); v != nil {
		cs = append(cs, campaignCase{
			name: "block 1 expands one byte past its header and index",
			in:   v,
			want: p.want,
			// Caught in the block, or up front from the index total.
			kinds: []Kind{Corrupt, SizeMismatch},
		})
	}
	return cs
}

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	b[0] |= 1 // never a run of stream padding
	return b
}

// countWriter counts what Decode hands it.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// runCase runs one case on one path: File into an empty directory (nothing
// may be left there) and, for cases with maxOut, Decode into a counter.
func runCase(t *testing.T, p *payload, tc campaignCase, procs int) {
	dir := t.TempDir()
	dest := filepath.Join(dir, p.name)
	name := filepath.Base(p.path)
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("panic: %v", r)
			}
		}()
		withProcs(procs, func() { err = File(dest, tc.in, tc.in.size(), name, tc.want) })
	}()
	if err == nil {
		t.Fatalf("File accepted the damaged input")
	}
	ok := false
	for _, k := range tc.kinds {
		ok = ok || KindOf(err) == k
	}
	if !ok {
		t.Errorf("error kind %v, want one of %v: %v", KindOf(err), tc.kinds, err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "unpack: "+name+": ") || strings.Contains(msg, "\n") {
		t.Errorf("error is not one line naming %s: %q", name, msg)
	}
	assertClean(t, dir)
	if tc.maxOut > 0 {
		var w countWriter
		withProcs(procs, func() { err = Decode(&w, tc.in, tc.in.size(), name, tc.want) })
		if err == nil || w.n > tc.maxOut {
			t.Errorf("Decode wrote %d bytes (cap %d) and returned %v", w.n, tc.maxOut, err)
		}
	}
}

// TestCorruptionCampaign re-executes the test binary to run the campaign
// (runCampaign) and checks the child's peak RSS against campaignMaxRSS.
func TestCorruptionCampaign(t *testing.T) {
	if os.Getenv(campaignChildEnv) != "" {
		runCampaign(t)
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-test.run=^TestCorruptionCampaign$", "-test.count=1", "-test.v"}
	if *campaignFull {
		args = append(args, "-campaign.full")
	}
	if deadline, ok := t.Deadline(); ok {
		// The child inherits what is left of this test's time limit
		// (-timeout), not the default ten minutes.
		args = append(args, "-test.timeout="+time.Until(deadline).Round(time.Second).String())
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), campaignChildEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	runErr := cmd.Run()
	if runErr != nil {
		t.Fatalf("campaign child failed: %v\n%s", runErr, tailLines(out.String(), 80))
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage for the campaign child")
	}
	rss := int64(ru.Maxrss) << 10 // kilobytes on Linux
	summary := regexp.MustCompile(`campaign: .*`).FindAllString(out.String(), -1)
	for _, s := range summary {
		t.Log(s)
	}
	t.Logf("campaign child: %v wall, %v user+sys, peak RSS %.1f MiB (bound %d MiB)",
		time.Since(start).Round(time.Millisecond), cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime(),
		float64(rss)/(1<<20), campaignMaxRSS>>20)
	if rss > campaignMaxRSS {
		t.Errorf("campaign peak RSS %d bytes exceeds the bound of %d", rss, campaignMaxRSS)
	}
	if len(summary) == 0 {
		t.Errorf("campaign child printed no summary:\n%s", tailLines(out.String(), 40))
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func runCampaign(t *testing.T) {
	ps := loadPayloads(t)
	total := 0
	for _, p := range ps {
		p := p
		cs := p.cases(t)
		start := time.Now()
		runs := 0
		t.Run(p.name, func(t *testing.T) {
			// Control: the undamaged view decodes, so every failure below
			// comes from the damage and not from the harness.
			dir := t.TempDir()
			intact := p.appended(nil)
			var err error
			withProcs(campaignProcs, func() {
				err = File(filepath.Join(dir, p.name), intact, intact.size(), filepath.Base(p.path), p.want)
			})
			if err != nil {
				t.Fatalf("the undamaged payload does not decode: %v", err)
			}
			for _, tc := range cs {
				procs := tc.procs
				if procs == nil {
					procs = []int{1, campaignProcs}
				}
				for _, n := range procs {
					path := "stream"
					if n > 1 {
						path = "parallel"
					}
					runs++
					t.Run(tc.name+"/"+path, func(t *testing.T) { runCase(t, p, tc, n) })
				}
			}
		})
		total += runs
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		t.Logf("campaign: %s (%d bytes of xz, %d blocks): %d cases, %d runs in %v; heap obtained from the OS so far %.1f MiB",
			p.name, p.size, len(p.blocks), len(cs), runs, time.Since(start).Round(time.Millisecond), float64(ms.HeapSys)/(1<<20))
	}
	t.Logf("campaign: %d runs over %d payloads", total, len(ps))
}

// TestManyStreamsLinear: the work of locating the streams of a file made of
// many tiny streams grows with the file, not with its square. Measured in
// bytes allocated (not time, which a shared machine makes noisy): 16384
// empty streams are 917 KB of input, and locating them allocates a few MB;
// a list rebuilt per stream would allocate about 6 GB.
func TestManyStreamsLinear(t *testing.T) {
	empty := compress(t, nil, 0, checkCRC64)
	const n = 16384
	x := bytes.Repeat(empty, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	streams, err := locate(bytes.NewReader(x), int64(len(x)))
	runtime.ReadMemStats(&after)
	if err != nil || len(streams) != n {
		t.Fatalf("located %d streams, want %d: %v", len(streams), n, err)
	}
	for i := 1; i < n; i++ {
		if streams[i].offset <= streams[i-1].offset {
			t.Fatalf("streams out of order at %d: %d after %d", i, streams[i].offset, streams[i-1].offset)
		}
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Errorf("locating %d streams (%d bytes) allocated %d bytes, want at most %d", n, len(x), got, 64<<20)
	}
}
