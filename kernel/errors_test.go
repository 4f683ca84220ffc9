package kernel_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/supermachine/supermachine_kernel/kernel"
)

// A caller outside the module can tell an I/O failure from the others by type
// and by kind, without importing an internal package.
func TestExtractErrorIsTyped(t *testing.T) {
	dir := t.TempDir()
	// The destination's parent is a regular file, so the write must fail.
	parent := filepath.Join(dir, "file")
	if err := os.WriteFile(parent, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := kernel.ExtractInitOCITo(filepath.Join(parent, "init-oci"))
	if err == nil {
		t.Fatal("ExtractInitOCITo under a regular file succeeded")
	}
	var kerr *kernel.Error
	if !errors.As(err, &kerr) {
		t.Fatalf("error %v (%T) is not a *kernel.Error", err, err)
	}
	if kerr.Kind != kernel.ErrIO {
		t.Errorf("Kind = %v, want %v", kerr.Kind, kernel.ErrIO)
	}
	if !errors.Is(err, &kernel.Error{Kind: kernel.ErrIO}) {
		t.Errorf("errors.Is(err, &kernel.Error{Kind: ErrIO}) = false for %v", err)
	}
	if errors.Is(err, &kernel.Error{Kind: kernel.ErrChecksumMismatch}) {
		t.Errorf("errors.Is matched the wrong kind for %v", err)
	}
}
