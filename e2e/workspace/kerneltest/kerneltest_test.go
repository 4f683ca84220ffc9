// Package kerneltest checks, from a WORKSPACE consumer, that the kernel
// package embeds the published bytes and that the decompressed files reach
// the runfiles.
package kerneltest

import (
	"crypto/sha256"
	"encoding/hex"
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
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.bytes()
			sum := sha256.Sum256(b)
			if len(b) != tt.wantLen || hex.EncodeToString(sum[:]) != tt.wantSHA256 {
				t.Errorf("%d bytes with sha256 %x, want %d bytes with sha256 %s", len(b), sum, tt.wantLen, tt.wantSHA256)
			}
		})
	}
}

func TestRunfiles(t *testing.T) {
	p, err := assetpaths.FromRunfiles()
	if err != nil {
		t.Fatalf("assetpaths.FromRunfiles: %v", err)
	}
	if err := p.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}
