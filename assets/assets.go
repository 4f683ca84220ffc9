// Package assets holds the compressed payloads (kernel.xz, init-oci.xz,
// supermachine-agent.xz) and manifest.json, embedded for plain `go build`
// users. It only hands out the .xz bytes: decoding and verification happen
// in internal/unpack, reached through package kernel.
//
// Under Bazel the kernel package embeds the already decoded files instead,
// so programs built there do not need this package at all.
package assets

import (
	"embed"
	"fmt"
	"io"
	"io/fs"

	"github.com/supermachine/supermachine_kernel/internal/manifest"
)

//go:embed *.xz manifest.json
var files embed.FS

// ManifestFile is the name of the embedded manifest.
const ManifestFile = "manifest.json"

// ManifestJSON returns the embedded assets/manifest.json.
func ManifestJSON() []byte {
	b, err := files.ReadFile(ManifestFile)
	if err != nil {
		// The go:embed pattern guarantees the file; reaching this is a build bug.
		panic(fmt.Sprintf("assets: embedded %s missing: %v", ManifestFile, err))
	}
	return b
}

// XZFile returns the payload file name (for example "kernel.xz") of the
// named asset (kernel, init-oci or supermachine-agent).
func XZFile(name string) (string, error) {
	a, err := manifest.Embedded.Asset(name)
	if err != nil {
		return "", fmt.Errorf("assets: %w", err)
	}
	return a.XZFile, nil
}

// OpenXZ returns the named asset's embedded .xz payload as a reader over
// the binary's read-only data, without copying it. Size() is the payload's
// length.
func OpenXZ(name string) (*io.SectionReader, error) {
	file, err := XZFile(name)
	if err != nil {
		return nil, err
	}
	f, err := files.Open(file)
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		return nil, fmt.Errorf("assets: %s: embedded file is not an io.ReaderAt", file)
	}
	return io.NewSectionReader(ra, 0, fi.Size()), nil
}

// XZ returns a copy of the named asset's embedded .xz payload.
func XZ(name string) ([]byte, error) {
	file, err := XZFile(name)
	if err != nil {
		return nil, err
	}
	b, err := fs.ReadFile(files, file)
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	return b, nil
}
