// Package kernel ships the supermachine guest assets: an aarch64 Linux
// kernel Image with the AF_TSI patches, the init-oci PID 1 shim and the
// supermachine-agent, all static aarch64 programs. It mirrors the API of the
// upstream Rust crate supermachine-kernel, in Go idiom:
//
//   - KernelBytes, InitOCIBytes, SupermachineAgentBytes: the raw bytes;
//   - KernelLen, InitOCILen, SupermachineAgentLen and the *SHA256 constants,
//     generated from assets/manifest.json;
//   - Extract*To and Extract*ToWithParents: write one asset to a path.
//
// Unlike upstream, every asset is verified (exact size and sha256) before
// use, and extraction is atomic: the file appears at its destination
// complete, with its mode set regardless of the umask, even when many
// processes extract to the same path at once.
//
// How the bytes get into the binary depends on the build system. Under
// Bazel the decompressed files are embedded directly. Under plain go build
// the .xz payloads are embedded and decoded lazily, once per process per
// asset, on first use (a fraction of a second for the kernel).
//
// Programs that only need file paths should use package assetpaths, which
// does not link these bytes; Paths here adds the fallback of extracting
// into a per-user cache directory.
package kernel

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/supermachine/supermachine_kernel/internal/manifest"
	"github.com/supermachine/supermachine_kernel/internal/unpack"
)

// asset describes one payload as the generated constants record it.
type asset struct {
	name   string
	size   int64
	sha256 string
	mode   os.FileMode
}

var (
	kernelAsset            = &asset{manifest.Kernel, KernelLen, KernelSHA256, 0o644}
	initOCIAsset           = &asset{manifest.InitOCI, InitOCILen, InitOCISHA256, 0o755}
	supermachineAgentAsset = &asset{manifest.SupermachineAgent, SupermachineAgentLen, SupermachineAgentSHA256, 0o755}
	allAssets              = []*asset{kernelAsset, initOCIAsset, supermachineAgentAsset}
)

// mustBytes returns an asset's bytes for the Bytes functions, which have no
// error result (as upstream): an embedded payload that fails verification
// means the binary itself is damaged.
func mustBytes(a *asset) []byte {
	b, err := rawBytes(a)
	if err != nil {
		panic(fmt.Sprintf("kernel: embedded %s is unusable: %v", a.name, err))
	}
	return b
}

// KernelBytes returns the kernel: an aarch64 Linux Image (raw, no ELF
// wrapper), KernelLen bytes with sha256 KernelSHA256.
//
// The slice is shared, not copied: callers must not modify it. Under go
// build the first call decodes the embedded payload; it panics if that
// payload is damaged (use ExtractKernelTo to get an error instead).
func KernelBytes() []byte { return mustBytes(kernelAsset) }

// InitOCIBytes returns init-oci, the static aarch64 ELF that runs as PID 1
// in the guest, InitOCILen bytes with sha256 InitOCISHA256.
//
// The slice is shared, not copied: callers must not modify it. It panics
// like KernelBytes.
func InitOCIBytes() []byte { return mustBytes(initOCIAsset) }

// SupermachineAgentBytes returns supermachine-agent, the static aarch64 ELF
// that serves exec and control requests inside the guest,
// SupermachineAgentLen bytes with sha256 SupermachineAgentSHA256.
//
// The slice is shared, not copied: callers must not modify it. It panics
// like KernelBytes.
func SupermachineAgentBytes() []byte { return mustBytes(supermachineAgentAsset) }

// ExtractKernelTo writes the kernel to dest with mode 0644, replacing any
// existing file. dest's directory must exist (see
// ExtractKernelToWithParents). The file is written beside dest and renamed
// into place, so readers never see a partial kernel.
func ExtractKernelTo(dest string) error { return extract(kernelAsset, dest, false) }

// ExtractKernelToWithParents is ExtractKernelTo after creating dest's
// missing parent directories (mode 0755).
func ExtractKernelToWithParents(dest string) error { return extract(kernelAsset, dest, true) }

// ExtractInitOCITo writes init-oci to dest with mode 0755, replacing any
// existing file, atomically. dest's directory must exist.
func ExtractInitOCITo(dest string) error { return extract(initOCIAsset, dest, false) }

// ExtractInitOCIToWithParents is ExtractInitOCITo after creating dest's
// missing parent directories (mode 0755).
func ExtractInitOCIToWithParents(dest string) error { return extract(initOCIAsset, dest, true) }

// ExtractSupermachineAgentTo writes supermachine-agent to dest with mode
// 0755, replacing any existing file, atomically. dest's directory must exist.
func ExtractSupermachineAgentTo(dest string) error {
	return extract(supermachineAgentAsset, dest, false)
}

// ExtractSupermachineAgentToWithParents is ExtractSupermachineAgentTo after
// creating dest's missing parent directories (mode 0755).
func ExtractSupermachineAgentToWithParents(dest string) error {
	return extract(supermachineAgentAsset, dest, true)
}

// ExtractTo writes the kernel to dest.
//
// Deprecated: use ExtractKernelTo. Kept, as upstream keeps extract_to, for
// code written when the kernel was the only asset.
func ExtractTo(dest string) error { return ExtractKernelTo(dest) }

// ExtractToWithParents writes the kernel to dest, creating its parents.
//
// Deprecated: use ExtractKernelToWithParents.
func ExtractToWithParents(dest string) error { return ExtractKernelToWithParents(dest) }

func extract(a *asset, dest string, parents bool) error {
	data, err := rawBytes(a)
	if err != nil {
		return fmt.Errorf("kernel: extracting %s to %s: %w", a.name, dest, err)
	}
	if parents {
		if err := mkdirAll(filepath.Dir(dest)); err != nil {
			return fmt.Errorf("kernel: extracting %s to %s: %w", a.name, dest, err)
		}
	}
	// The bytes were verified when decoded (or by the Bazel action), so
	// only the size is rechecked here; hashing 22 MiB again per call would
	// cost more than the write.
	if err := unpack.Copy(dest, data, unpack.Want{Size: a.size, Mode: a.mode}); err != nil {
		return fmt.Errorf("kernel: extracting %s: %w", a.name, err)
	}
	return nil
}

// mkdirAll creates dir and its missing parents with mode 0755 whatever the
// umask (os.MkdirAll applies the umask). Directories that already exist are
// left as they are; losing a creation race to another process is fine.
func mkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s exists and is not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, os.ErrExist) {
			if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
				return nil
			}
		}
		return err
	}
	return os.Chmod(dir, 0o755)
}

// bytesFromDecoded checks bytes the build embedded already decoded (the
// Bazel path) against the generated size; the unxz action verified their
// sha256 when it produced them.
func bytesFromDecoded(a *asset, data []byte) ([]byte, error) {
	if int64(len(data)) != a.size {
		return nil, &unpack.Error{File: "bazel_payload/" + a.name, Kind: unpack.SizeMismatch,
			Err: fmt.Errorf("embedded %d bytes, want %d", len(data), a.size)}
	}
	return data, nil
}

// decodeXZ decodes one .xz payload through internal/unpack into a buffer of
// exactly the declared size, verifying size and sha256 as it goes. It is
// the go-build path's decoder (embed_xz.go); it lives here so the same
// tests exercise it in both builds.
func decodeXZ(a *asset, src io.ReaderAt, srcSize int64, srcName string) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, a.size))
	if err := unpack.Decode(buf, src, srcSize, srcName, unpack.Want{Size: a.size, SHA256: a.sha256}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
