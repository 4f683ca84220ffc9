package format

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/supermachine/supermachine_kernel/internal/unpack"
	"github.com/ulikunitz/xz"
)

// The testdata files were made by xz-utils 5.4.1 from the same 258,894-byte
// text (see testdata/README):
//
//	blocks.xz        -T2 --block-size=64KiB --lzma2=preset=6,dict=64KiB
//	single-thread.xz -T1 (one block, sizes not recorded)
//	bcj.xz           -T2 --block-size=64KiB --arm64 --lzma2=preset=6,dict=64KiB
//	crc32.xz         -T2 --block-size=64KiB --check=crc32
const fixtureRawSize = 258894

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckXZ(t *testing.T) {
	good := readFixture(t, "blocks.xz")
	flip := func(off int) []byte { d := bytes.Clone(good); d[off] ^= 0x40; return d }
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"independent LZMA2 blocks", good, ""},
		{"sizes not in block headers", readFixture(t, "single-thread.xz"), "does not record its compressed and uncompressed sizes"},
		{"BCJ filter", readFixture(t, "bcj.xz"), "only LZMA2 (0x21) alone"},
		{"CRC32 check", readFixture(t, "crc32.xz"), "integrity check type 0x1"},
		{"truncated", good[:len(good)-100], "truncated or trailing data"},
		{"trailing garbage", append(bytes.Clone(good), 0, 0, 0, 0), "truncated or trailing data"},
		{"tiny", good[:10], "truncated: 10 bytes"},
		{"not xz", []byte(strings.Repeat("hello world ", 4)), "not an xz file"},
		{"corrupt stream header", flip(7), "corrupt stream header"},
		{"corrupt block header", flip(14), "corrupt block header"},
		{"corrupt footer", flip(len(good) - 6), "corrupt stream footer"},
		{"corrupt index", flip(len(good) - 14), "index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := CheckXZ("p.xz", tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "p.xz: xz: ") {
					t.Fatalf("err = %v, want one starting with the file name and containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Check != XZCheckCRC64 {
				t.Errorf("Check = %#x, want CRC64", info.Check)
			}
			if info.UncompressedSize != fixtureRawSize {
				t.Errorf("UncompressedSize = %d, want %d", info.UncompressedSize, fixtureRawSize)
			}
			if n := len(info.Blocks); n != (fixtureRawSize+65535)/65536 {
				t.Errorf("%d blocks, want %d", n, (fixtureRawSize+65535)/65536)
			}
			for i, b := range info.Blocks {
				if b.DictSize != 64<<10 {
					t.Errorf("block %d: DictSize %d, want 64 KiB", i, b.DictSize)
				}
				if i > 0 && b.Offset <= info.Blocks[i-1].Offset {
					t.Errorf("block %d offset %d not after block %d", i, b.Offset, i-1)
				}
			}
			// The sizes the headers claim must be what a real decoder produces.
			r, err := xz.NewReader(bufio.NewReader(bytes.NewReader(tt.data)))
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, r)
			if err != nil || n != info.UncompressedSize {
				t.Fatalf("ulikunitz decoded %d bytes (err %v), headers say %d", n, err, info.UncompressedSize)
			}
		})
	}
}

// Container errors come from the decoder's own parser and keep its typed
// error, so callers can tell corrupt from unsupported input.
func TestCheckXZParserErrorKinds(t *testing.T) {
	good := readFixture(t, "blocks.xz")
	tests := []struct {
		name string
		data []byte
		kind unpack.Kind
	}{
		{"BCJ filter", readFixture(t, "bcj.xz"), unpack.Unsupported},
		{"tiny", good[:10], unpack.Truncated},
		{"corrupt index", func() []byte { d := bytes.Clone(good); d[len(d)-14] ^= 0x40; return d }(), unpack.Corrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CheckXZ("p.xz", tt.data)
			var e *unpack.Error
			if !errors.As(err, &e) || e.Kind != tt.kind || e.File != "p.xz" {
				t.Fatalf("err = %v, want an *unpack.Error of kind %v for p.xz in the chain", err, tt.kind)
			}
		})
	}
}
