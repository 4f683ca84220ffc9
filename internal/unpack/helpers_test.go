package unpack

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ulikunitz/xz"
)

// sample returns n bytes that compress like a binary: runs of random bytes
// from a small alphabet mixed with copies of earlier data.
func sample(n int, seed int64) []byte {
	rng := rand.New(rand.NewSource(seed))
	p := make([]byte, 0, n)
	for len(p) < n {
		if len(p) > 64 && rng.Intn(3) == 0 {
			off := rng.Intn(len(p) - 32)
			l := 8 + rng.Intn(24)
			p = append(p, p[off:off+l]...)
			continue
		}
		for i := 0; i < 16; i++ {
			p = append(p, byte(rng.Intn(40)))
		}
	}
	return p[:n]
}

// compress makes an xz file with ulikunitz's writer.
func compress(t testing.TB, data []byte, blockSize int64, check byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.WriterConfig{BlockSize: blockSize, CheckSum: check, NoCheckSum: check == checkNone, DictCap: 1 << 20}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// reference decodes with ulikunitz's own stream reader.
func reference(t testing.TB, x []byte) []byte {
	t.Helper()
	r, err := xz.NewReader(bufio.NewReader(bytes.NewReader(x)))
	if err != nil {
		t.Fatalf("reference reader: %v", err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reference reader: %v", err)
	}
	return out
}

// withProcs runs f with GOMAXPROCS set to n, which selects the streaming
// path (1) or the parallel path (>1).
func withProcs(n int, f func()) {
	old := runtime.GOMAXPROCS(n)
	defer runtime.GOMAXPROCS(old)
	f()
}

// paths names the two decoders by the GOMAXPROCS that selects them.
var paths = []struct {
	name  string
	procs int
}{{"stream", 1}, {"parallel", 4}}

// firstBlock returns the offset and size of the first block header.
func firstBlock(x []byte) (int, int) {
	return headerLen, (int(x[headerLen]) + 1) * 4
}

// fixHeaderCRC recomputes the CRC32 of the block header at off.
func fixHeaderCRC(x []byte, off, size int) {
	binary.LittleEndian.PutUint32(x[off+size-4:], crc32.ChecksumIEEE(x[off:off+size-4]))
}

// assertClean fails if dir holds anything but the names in keep.
func assertClean(t *testing.T, dir string, keep ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{}
	for _, k := range keep {
		allowed[k] = true
	}
	for _, e := range ents {
		if !allowed[e.Name()] {
			t.Errorf("left behind: %s", filepath.Join(dir, e.Name()))
		}
	}
}
