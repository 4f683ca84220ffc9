package unpack

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func sha(p []byte) string {
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:])
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestRoundTrip(t *testing.T) {
	big := sample(600<<10, 1)
	small := sample(5000, 2)
	cases := []struct {
		name string
		raw  []byte
		xz   []byte
	}{
		{"empty", nil, compress(t, nil, 0, checkCRC64)},
		{"one byte", []byte{7}, compress(t, []byte{7}, 0, checkCRC64)},
		{"one block", small, compress(t, small, 0, checkCRC64)},
		{"many blocks crc64", big, compress(t, big, 64<<10, checkCRC64)},
		{"many blocks crc32", big, compress(t, big, 100<<10, checkCRC32)},
		{"many blocks sha256", big, compress(t, big, 128<<10, checkSHA256)},
		{"many blocks no check", big, compress(t, big, 128<<10, checkNone)},
		{"hundreds of tiny blocks", small, compress(t, small, 16, checkCRC32)},
		{"uneven last block", big[:300001], compress(t, big[:300001], 64<<10, checkCRC64)},
		{"multiple streams", concat(small, big), concat(compress(t, small, 0, checkCRC32), compress(t, big, 64<<10, checkCRC64))},
		{"streams with padding", concat(big, small), concat(compress(t, big, 64<<10, checkCRC64), make([]byte, 8), compress(t, small, 1024, checkSHA256), make([]byte, 4))},
		{"zeros", make([]byte, 1<<20), compress(t, make([]byte, 1<<20), 256<<10, checkCRC64)},
	}
	for _, tc := range cases {
		for _, p := range paths {
			t.Run(tc.name+"/"+p.name, func(t *testing.T) {
				if ref := reference(t, tc.xz); !bytes.Equal(ref, tc.raw) {
					t.Fatalf("test input broken: reference decodes %d bytes, want %d", len(ref), len(tc.raw))
				}
				want := Want{Size: int64(len(tc.raw)), SHA256: sha(tc.raw)}
				var got []byte
				var err error
				withProcs(p.procs, func() { got, err = Bytes(tc.xz, "in.xz", want) })
				if err != nil {
					t.Fatalf("Bytes: %v", err)
				}
				if !bytes.Equal(got, tc.raw) {
					t.Fatalf("Bytes: got %d bytes, differ from input of %d", len(got), len(tc.raw))
				}
				dir := t.TempDir()
				dest := filepath.Join(dir, "out")
				withProcs(p.procs, func() {
					err = File(dest, bytes.NewReader(tc.xz), int64(len(tc.xz)), "in.xz", Want{SHA256: sha(tc.raw)})
				})
				if err != nil {
					t.Fatalf("File: %v", err)
				}
				if b, _ := os.ReadFile(dest); !bytes.Equal(b, tc.raw) {
					t.Fatalf("File: content differs")
				}
				assertClean(t, dir, "out")
			})
		}
	}
}

// mutate returns a copy of x changed by f.
func mutate(x []byte, f func([]byte) []byte) []byte {
	return f(append([]byte(nil), x...))
}

func TestBadInput(t *testing.T) {
	raw := sample(400<<10, 3)
	good := compress(t, raw, 64<<10, checkCRC64)
	oneBlock := compress(t, raw, 0, checkCRC64)
	zeros := compress(t, make([]byte, 8<<20), 0, checkCRC64)
	manyZeros := compress(t, make([]byte, 8<<20), 1<<20, checkCRC64)
	n := len(good)
	hoff, hsize := firstBlock(good)
	flip := func(i int) func([]byte) []byte {
		return func(p []byte) []byte { p[i] ^= 0x55; return p }
	}
	full := Want{Size: int64(len(raw)), SHA256: sha(raw)}
	streams, err := locate(bytes.NewReader(good), int64(n))
	if err != nil {
		t.Fatal(err)
	}
	b1 := streams[0].blocks[1]
	check1 := int(b1.offset+(b1.unpadded+3)&^3) - 8 // CRC64 of block 2
	cases := []struct {
		name string
		xz   []byte
		want Want
		kind Kind
		// alt is a second acceptable kind, for inputs where the two paths
		// may reasonably see different first problems.
		alt Kind
	}{
		{"wrong magic", mutate(good, flip(0)), full, Corrupt, 0},
		{"not xz at all", []byte("hello, this is not an xz file at all"), full, Corrupt, 0},
		{"empty input", nil, full, Truncated, Corrupt},
		{"bad stream flags", mutate(good, flip(7)), full, Corrupt, 0},
		{"corrupt block header", mutate(good, flip(hoff+2)), full, Corrupt, 0},
		{"corrupt data early", mutate(good, flip(hoff+hsize+10)), full, Corrupt, 0},
		{"corrupt data middle", mutate(good, flip(n/2)), full, Corrupt, 0},
		{"corrupt one-block data", mutate(oneBlock, flip(len(oneBlock)/2)), full, Corrupt, 0},
		{"corrupt block check", mutate(good, flip(check1)), full, Corrupt, 0},
		{"corrupt index", mutate(good, flip(n-20)), full, Corrupt, 0},
		{"corrupt footer", mutate(good, flip(n-3)), full, Corrupt, 0},
		{"corrupt last byte", mutate(good, flip(n-1)), full, Corrupt, 0},
		{"truncated header", good[:7], full, Truncated, 0},
		{"truncated after header", good[:12], full, Truncated, 0},
		{"truncated in data", good[:n/3], full, Truncated, 0},
		{"truncated in one-block data", oneBlock[:len(oneBlock)/2], full, Truncated, 0},
		{"truncated footer", good[:n-4], full, Truncated, 0},
		{"trailing garbage", concat(good, []byte("junk")), full, Corrupt, 0},
		{"trailing odd garbage", concat(good, []byte{1, 2, 3}), full, Corrupt, 0},
		{"trailing zero not padding", concat(good, []byte{0, 0}), full, Corrupt, 0},
		{"padding before the stream", concat(make([]byte, 4), good), full, Corrupt, 0},
		{"only zeros", make([]byte, 16), full, Corrupt, 0},
		{"size too small", good, Want{Size: int64(len(raw)) - 1}, TooLarge, 0},
		{"size too big", good, Want{Size: int64(len(raw)) + 1}, SizeMismatch, 0},
		{"checksum mismatch", good, Want{Size: int64(len(raw)), SHA256: sha(raw[1:])}, ChecksumMismatch, 0},
		{"expands past MaxSize", zeros, Want{MaxSize: 1 << 20}, TooLarge, 0},
		{"blocks expand past MaxSize", manyZeros, Want{MaxSize: 1 << 20}, TooLarge, 0},
		{"expands past Size", manyZeros, Want{Size: 1000}, TooLarge, 0},
		{"huge dictionary", mutate(good, func(p []byte) []byte {
			// The LZMA2 property byte is the header's last before padding/CRC;
			// find it after filter id 0x21 and size 1.
			i := bytes.Index(p[hoff:hoff+hsize], []byte{0x21, 0x01}) + hoff + 2
			p[i] = 40
			fixHeaderCRC(p, hoff, hsize)
			return p
		}), full, TooLarge, 0},
		{"BCJ filter", mutate(good, func(p []byte) []byte {
			i := bytes.Index(p[hoff:hoff+hsize], []byte{0x21, 0x01}) + hoff
			p[i] = 0x0a
			fixHeaderCRC(p, hoff, hsize)
			return p
		}), full, Unsupported, 0},
	}
	for _, tc := range cases {
		for _, p := range paths {
			t.Run(tc.name+"/"+p.name, func(t *testing.T) {
				dir := t.TempDir()
				dest := filepath.Join(dir, "out")
				var err error
				withProcs(p.procs, func() {
					err = File(dest, bytes.NewReader(tc.xz), int64(len(tc.xz)), "bad.xz", tc.want)
				})
				if err == nil {
					t.Fatal("File succeeded")
				}
				if k := KindOf(err); k != tc.kind && k != tc.alt {
					t.Errorf("kind %v, want %v: %v", k, tc.kind, err)
				}
				if !strings.HasPrefix(err.Error(), "unpack: bad.xz: ") || strings.Contains(err.Error(), "\n") {
					t.Errorf("error does not name the file on one line: %q", err)
				}
				assertClean(t, dir)
				if _, berr := Bytes(tc.xz, "bad.xz", tc.want); KindOf(berr) == 0 {
					t.Errorf("Bytes: %v, want an *Error", berr)
				}
			})
		}
	}
}

func TestErrorIs(t *testing.T) {
	_, err := Bytes([]byte("nope"), "x.xz", Want{})
	if !errors.Is(err, &Error{Kind: Truncated}) && !errors.Is(err, &Error{Kind: Corrupt}) {
		t.Fatalf("errors.Is does not match kind: %v", err)
	}
	if errors.Is(err, &Error{Kind: ChecksumMismatch}) {
		t.Fatalf("errors.Is matches the wrong kind: %v", err)
	}
}

func TestModeIgnoresUmask(t *testing.T) {
	raw := sample(10000, 4)
	x := compress(t, raw, 0, checkCRC64)
	for _, umask := range []int{0o077, 0o000, 0o022} {
		for _, mode := range []os.FileMode{0, 0o644, 0o755} {
			old := syscall.Umask(umask)
			dir := t.TempDir()
			f1, f2 := filepath.Join(dir, "decoded"), filepath.Join(dir, "copied")
			err1 := File(f1, bytes.NewReader(x), int64(len(x)), "in.xz", Want{Mode: mode})
			err2 := Copy(f2, raw, Want{Mode: mode, SHA256: sha(raw)})
			syscall.Umask(old)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			want := mode
			if want == 0 {
				want = 0o644
			}
			for _, f := range []string{f1, f2} {
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != want {
					t.Errorf("umask %03o mode %v: %s has %v, want %v", umask, mode, filepath.Base(f), fi.Mode().Perm(), want)
				}
			}
		}
	}
}

func TestDestinationProblems(t *testing.T) {
	raw := sample(10000, 5)
	x := compress(t, raw, 0, checkCRC64)
	dir := t.TempDir()
	sub := filepath.Join(dir, "adir")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		dest string
	}{
		{"destination is a directory", sub},
		{"missing parent", filepath.Join(dir, "missing", "out")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := File(tc.dest, bytes.NewReader(x), int64(len(x)), "in.xz", Want{})
			if KindOf(err) != IO {
				t.Errorf("File: %v, want an IO error", err)
			}
			err = Copy(tc.dest, raw, Want{})
			if KindOf(err) != IO {
				t.Errorf("Copy: %v, want an IO error", err)
			}
			assertClean(t, dir, "adir")
			assertClean(t, sub)
		})
	}
}

func TestCopy(t *testing.T) {
	raw := sample(10000, 6)
	cases := []struct {
		name string
		want Want
		kind Kind
	}{
		{"verified", Want{Size: int64(len(raw)), SHA256: sha(raw)}, 0},
		{"unchecked", Want{}, 0},
		{"wrong size", Want{Size: 5}, SizeMismatch},
		{"wrong sha", Want{SHA256: sha(nil)}, ChecksumMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dest := filepath.Join(dir, "f")
			if err := os.WriteFile(dest, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			err := Copy(dest, raw, tc.want)
			if KindOf(err) != tc.kind {
				t.Fatalf("Copy: %v, want kind %v", err, tc.kind)
			}
			got, _ := os.ReadFile(dest)
			if tc.kind == 0 && !bytes.Equal(got, raw) {
				t.Error("content not replaced")
			}
			if tc.kind != 0 {
				if string(got) != "old" {
					t.Error("failed Copy touched the destination")
				}
				if !strings.Contains(err.Error(), dest) {
					t.Errorf("error does not name %s: %v", dest, err)
				}
			}
			assertClean(t, dir, "f")
		})
	}
}

func TestConcurrentFileSameDest(t *testing.T) {
	raw := sample(300<<10, 7)
	x := compress(t, raw, 64<<10, checkCRC64)
	dir := t.TempDir()
	dest := filepath.Join(dir, "out")
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				errs[i] = File(dest, bytes.NewReader(x), int64(len(x)), "in.xz", Want{Size: int64(len(raw)), SHA256: sha(raw), Mode: 0o755})
			} else {
				errs[i] = Copy(dest, raw, Want{Mode: 0o755})
			}
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if got, _ := os.ReadFile(dest); !bytes.Equal(got, raw) {
		t.Error("content differs after concurrent writes")
	}
	assertClean(t, dir, "out")
}

func TestLocateMatchesStream(t *testing.T) {
	raw := sample(200<<10, 8)
	x := concat(compress(t, raw, 32<<10, checkCRC32), make([]byte, 4), compress(t, raw[:1000], 0, checkCRC64))
	streams, err := locate(bytesReaderAt(x), int64(len(x)))
	if err != nil {
		t.Fatal(err)
	}
	if len(streams) != 2 || len(streams[0].blocks) != 7 || len(streams[1].blocks) != 1 {
		t.Fatalf("located %d streams: %+v", len(streams), streams)
	}
	var total int64
	for _, s := range streams {
		for _, b := range s.blocks {
			total += b.uncompressed
		}
	}
	if total != int64(len(raw)+1000) {
		t.Errorf("index total %d, want %d", total, len(raw)+1000)
	}
}

func bytesReaderAt(p []byte) *bytes.Reader { return bytes.NewReader(p) }
