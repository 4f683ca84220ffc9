package unpack

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ulikunitz/xz"
)

// Benchmarks decode $UNPACK_BENCH_XZ, else assets/kernel.xz, else a
// generated 16 MiB file of 2 MiB blocks. Each reports its time relative to
// ulikunitz's sequential reader measured in the same process
// (x-vs-ulikunitz; below 1 is faster), so the figure survives a noisy,
// shared machine better than absolute times do. tools/bench compares with
// xz-utils.

var benchInput struct {
	once sync.Once
	xz   []byte
	raw  int64
	ref  time.Duration // median of ulikunitz's reader
}

func benchXZ(b *testing.B) ([]byte, int64, time.Duration) {
	benchInput.once.Do(func() {
		path := os.Getenv("UNPACK_BENCH_XZ")
		if path == "" {
			path = filepath.Join("..", "..", "assets", "kernel.xz")
		}
		if p, err := os.ReadFile(path); err == nil {
			benchInput.xz = p
		} else {
			benchInput.xz = compress(b, sample(16<<20, 42), 2<<20, checkCRC64)
		}
		var ds []time.Duration
		for i := 0; i < 3; i++ {
			t := time.Now()
			benchInput.raw = int64(len(referenceDecode(b, benchInput.xz)))
			ds = append(ds, time.Since(t))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		benchInput.ref = ds[1]
	})
	return benchInput.xz, benchInput.raw, benchInput.ref
}

func referenceDecode(b *testing.B, x []byte) []byte {
	r, err := xz.NewReader(bufio.NewReader(bytes.NewReader(x)))
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := io.Copy(&out, r); err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}

func reportRatio(b *testing.B, ref time.Duration) {
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(ref), "x-vs-ulikunitz")
}

// benchDecoder times decodeOnce over the shared input and reports its ratio
// to the reference run.
func benchDecoder(b *testing.B, decodeOnce func(x []byte, raw int64)) {
	x, raw, ref := benchXZ(b)
	b.SetBytes(raw)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		decodeOnce(x, raw)
	}
	reportRatio(b, ref)
}

// BenchmarkDecode is the production path (parallel when the file has
// several blocks).
func BenchmarkDecode(b *testing.B) {
	benchDecoder(b, func(x []byte, raw int64) {
		if err := Decode(io.Discard, bytes.NewReader(x), int64(len(x)), "bench.xz", Want{Size: raw}); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkDecodeStream is the single-threaded streaming path.
func BenchmarkDecodeStream(b *testing.B) {
	benchDecoder(b, func(x []byte, raw int64) {
		v := newVerifier(io.Discard, "bench.xz", Want{Size: raw})
		if err := decode(v, bytes.NewReader(x), int64(len(x)), "bench.xz", 1); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkReference is ulikunitz's reader through a bufio.Reader.
func BenchmarkReference(b *testing.B) {
	benchDecoder(b, func(x []byte, _ int64) { referenceDecode(b, x) })
}

// BenchmarkCopy measures Copy (temp file, fsync, chmod, rename) against a
// plain os.WriteFile of the same bytes, timed in alternation.
func BenchmarkCopy(b *testing.B) {
	x, raw, _ := benchXZ(b)
	data, err := Bytes(x, "bench.xz", Want{Size: raw})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	b.SetBytes(raw)
	var plain time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := Copy(filepath.Join(dir, "copy"), data, Want{Mode: 0o644}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		t := time.Now()
		if err := os.WriteFile(filepath.Join(dir, "plain"), data, 0o644); err != nil {
			b.Fatal(err)
		}
		plain += time.Since(t)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed())/float64(plain), "x-vs-writefile")
}

// BenchmarkBlocks decodes each block of the input alone, one after the
// other, and reports what bounds the parallel path: the sum of the blocks'
// times (sum-ms, the single-core cost) and the finish time of the in-order
// schedule decodeParallel uses on GOMAXPROCS workers (critical-path-ms, the
// best wall time the parallel path can reach with every core free). Each
// block's time is its fastest over b.N rounds.
func BenchmarkBlocks(b *testing.B) {
	x, _, _ := benchXZ(b)
	streams, err := locate(bytes.NewReader(x), int64(len(x)))
	if err != nil {
		b.Skipf("input is not parallel-decodable: %v", err)
	}
	var jobs []*job
	for si, s := range streams {
		for bi, blk := range s.blocks {
			jobs = append(jobs, &job{si: si, bi: bi, check: s.check, b: blk})
		}
	}
	best := make([]time.Duration, len(jobs))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k, j := range jobs {
			out := make([]byte, j.b.uncompressed)
			t := time.Now()
			if err := decodeBlock(out, bytes.NewReader(x), int64(len(x)), "bench.xz", j); err != nil {
				b.Fatal(err)
			}
			if d := time.Since(t); i == 0 || d < best[k] {
				best[k] = d
			}
		}
	}
	var sum time.Duration
	free := make([]time.Duration, runtime.GOMAXPROCS(0)) // when each worker is next free
	for _, d := range best {
		sum += d
		w := 0
		for k := range free {
			if free[k] < free[w] {
				w = k
			}
		}
		free[w] += d
	}
	var crit time.Duration
	for _, f := range free {
		crit = max(crit, f)
	}
	b.ReportMetric(float64(sum)/1e6, "sum-ms")
	b.ReportMetric(float64(crit)/1e6, "critical-path-ms")
	b.ReportMetric(float64(len(jobs)), "blocks")
}
