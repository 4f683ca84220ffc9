// Package kernelsha checks, from a consumer module, that the bytes the
// kernel package embeds are the published ones.
package kernelsha

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"

	"github.com/supermachine/supermachine_kernel/assetpaths"
	"github.com/supermachine/supermachine_kernel/kernel"
)

func TestEmbeddedBytes(t *testing.T) {
	tests := []struct {
		name       string
		bytes      func() []byte
		wantLen    int
		wantSHA256 string
	}{
		{"kernel", kernel.KernelBytes, kernel.KernelLen, kernel.KernelSHA256},
		{"init-oci", kernel.InitOCIBytes, kernel.InitOCILen, kernel.InitOCISHA256},
		{"supermachine-agent", kernel.SupermachineAgentBytes, kernel.SupermachineAgentLen, kernel.SupermachineAgentSHA256},
	}
	paths, err := assetpaths.FromRunfiles()
	if err != nil {
		t.Fatalf("assetpaths.FromRunfiles: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.bytes()
			if len(b) != tt.wantLen {
				t.Errorf("len = %d, want %d", len(b), tt.wantLen)
			}
			sum := sha256.Sum256(b)
			if got := hex.EncodeToString(sum[:]); got != tt.wantSHA256 {
				t.Errorf("sha256 = %s, want %s", got, tt.wantSHA256)
			}
			// The decompressed file in the runfiles is the same build output: byte-identical.
			file, err := paths.Path(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			onDisk, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(onDisk, b) {
				t.Errorf("%s differs from the embedded bytes", file)
			}
		})
	}
}

func TestKernelIsArm64Image(t *testing.T) {
	b := kernel.KernelBytes()
	// arm64 Image header: magic "ARMd" at offset 0x38.
	if len(b) < 0x40 || string(b[0x38:0x3c]) != "ARMd" {
		t.Fatalf("kernel bytes do not start with an arm64 Image header")
	}
}
