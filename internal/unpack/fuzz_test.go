package unpack

import (
	"bufio"
	"bytes"
	"io"
	"testing"

	"github.com/ulikunitz/xz"
)

// FuzzDecode feeds arbitrary bytes to both decoding paths. Neither may
// panic, hang or exceed the output cap; both must agree on success and
// output; and whatever they accept, ulikunitz's own reader must decode to
// the same bytes. Seeds live in testdata/fuzz/FuzzDecode; run it with
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 30s -fuzzminimizetime 1s ./internal/unpack
//
// (Without a short -fuzzminimizetime, minimizing each new input stalls the
// run for long stretches on a 2-core machine.)
func FuzzDecode(f *testing.F) {
	small := sample(3000, 11)
	f.Add(compress(f, small, 1024, checkCRC64))
	f.Add(compress(f, small[:100], 0, checkCRC32))
	f.Add(compress(f, nil, 0, checkNone))
	f.Add(bytes.Join([][]byte{compress(f, small[:500], 128, checkSHA256), make([]byte, 4), compress(f, small[:50], 0, checkCRC32)}, nil))
	f.Fuzz(func(t *testing.T, x []byte) {
		want := Want{MaxSize: 1 << 20}
		var outs [2][]byte
		var errs [2]error
		for i, p := range paths {
			withProcs(p.procs, func() { outs[i], errs[i] = Bytes(x, "fuzz.xz", want) })
			if errs[i] != nil && KindOf(errs[i]) == 0 {
				t.Fatalf("%s: error is not an *Error: %v", p.name, errs[i])
			}
			if int64(len(outs[i])) > want.MaxSize {
				t.Fatalf("%s: %d bytes past the cap", p.name, len(outs[i]))
			}
		}
		if (errs[0] == nil) != (errs[1] == nil) || !bytes.Equal(outs[0], outs[1]) {
			t.Fatalf("paths disagree: stream %v, parallel %v", errs[0], errs[1])
		}
		if errs[0] != nil {
			return
		}
		// Accepted input has a dictionary within MaxDictSize, so the
		// reference reader cannot be made to allocate gigabytes here.
		r, err := xz.NewReader(bufio.NewReader(bytes.NewReader(x)))
		if err != nil {
			t.Fatalf("accepted input the reference rejects: %v", err)
		}
		ref, err := io.ReadAll(io.LimitReader(r, want.MaxSize+1))
		if err != nil {
			t.Fatalf("accepted input the reference rejects: %v", err)
		}
		if !bytes.Equal(ref, outs[0]) {
			t.Fatalf("output differs from the reference (%d vs %d bytes)", len(outs[0]), len(ref))
		}
	})
}
