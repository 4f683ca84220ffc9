package unpack

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// xzUtils compresses data with the xz program, or skips the test when it
// is not installed: these cases cover what only xz-utils writes (sizes in
// block headers from its multi-threaded mode, BCJ filters).
func xzUtils(t *testing.T, data []byte, args ...string) []byte {
	t.Helper()
	xzPath, err := exec.LookPath("xz")
	if err != nil {
		t.Skip("xz (xz-utils) is not installed; these cases need files it writes")
	}
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(xzPath, append(append([]string{"-c", "-k"}, args...), in)...).Output()
	if err != nil {
		t.Fatalf("xz %v: %v", args, err)
	}
	return out
}

func TestXZUtilsFiles(t *testing.T) {
	raw := sample(700<<10, 9)
	cases := []struct {
		name string
		args []string
		kind Kind
	}{
		{"multi-threaded blocks with sizes in headers", []string{"-T2", "--block-size=128KiB", "--lzma2=preset=6,dict=128KiB"}, 0},
		{"single-threaded one block", []string{"-T1", "-6"}, 0},
		{"single-threaded blocks without sizes", []string{"-T1", "--block-size=100KiB"}, 0},
		{"sha256 check", []string{"-T2", "--block-size=200KiB", "--check=sha256"}, 0},
		{"crc32 check", []string{"-T2", "--block-size=200KiB", "--check=crc32"}, 0},
		{"no check", []string{"-T2", "--block-size=200KiB", "--check=none"}, 0},
		{"arm64 BCJ filter", []string{"-T2", "--block-size=200KiB", "--arm64", "--lzma2"}, Unsupported},
		{"x86 BCJ filter one block", []string{"--x86", "--lzma2"}, Unsupported},
		{"dictionary above the limit", []string{"--lzma2=dict=96MiB"}, TooLarge},
	}
	for _, tc := range cases {
		x := xzUtils(t, raw, tc.args...)
		for _, p := range paths {
			t.Run(tc.name+"/"+p.name, func(t *testing.T) {
				var got []byte
				var err error
				withProcs(p.procs, func() { got, err = Bytes(x, "u.xz", Want{Size: int64(len(raw)), SHA256: sha(raw)}) })
				if KindOf(err) != tc.kind {
					t.Fatalf("got %v, want kind %v", err, tc.kind)
				}
				if tc.kind == 0 && !bytes.Equal(got, raw) {
					t.Fatal("output differs")
				}
			})
		}
	}
}
