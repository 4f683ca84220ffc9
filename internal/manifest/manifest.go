// Package manifest describes the payloads in assets/: what each one is, how
// big it is, its sha256 before and after compression, and where it came from.
//
// assets/manifest.json is the single source of truth. Every other copy of its
// figures (Go constants, Starlark) is generated from it by Generate* in this
// package, and a test fails when a copy drifts.
package manifest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
)

// Names of the three assets, in the order the manifest lists them.
const (
	Kernel            = "kernel"
	InitOCI           = "init-oci"
	SupermachineAgent = "supermachine-agent"
)

// SchemaVersion is the manifest format this package reads and writes.
const SchemaVersion = 1

// Manifest is the parsed form of assets/manifest.json.
type Manifest struct {
	Schema int `json:"schema"`
	// ModuleVersion is the release these payloads belong to (MODULE.bazel's version).
	ModuleVersion string  `json:"module_version"`
	Assets        []Asset `json:"assets"`
}

// Asset is one payload.
type Asset struct {
	// Name is kernel, init-oci or supermachine-agent; it is also the file name
	// the asset gets when extracted into a directory.
	Name string `json:"name"`
	// XZFile is the payload's file name inside assets/ (for example kernel.xz).
	XZFile string `json:"xz_file"`
	// Mode is the unix permission of the extracted file, in octal ("0644", "0755").
	Mode string `json:"mode"`
	// Arch is the CPU architecture the asset is for ("aarch64").
	Arch string `json:"arch"`
	// Format names what the raw bytes are ("linux-arm64-image", "elf-static-aarch64").
	Format string `json:"format"`
	// Raw describes the decompressed bytes.
	Raw Digest `json:"raw"`
	// XZ describes the compressed payload and what made it.
	XZ Compressed `json:"xz"`
	// Provenance says where the raw bytes came from; its keys depend on the asset.
	Provenance map[string]string `json:"provenance"`
}

// Digest is an exact size and sha256.
type Digest struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Compressed is the digest of an .xz payload plus what produced it.
type Compressed struct {
	Digest
	// Tool, ToolVersion and Settings record what made the .xz (for example
	// "xz-utils", "5.4.1", "-T2 --block-size=4MiB --lzma2=preset=9,dict=4MiB").
	Tool        string `json:"tool"`
	ToolVersion string `json:"tool_version"`
	Settings    string `json:"settings"`
}

// Parse decodes and validates a manifest. Unknown fields are an error so that
// a typo cannot silently drop a figure.
func Parse(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Marshal returns the canonical encoding (two-space indent, trailing newline),
// so that re-writing an unchanged manifest leaves the file byte-identical.
func (m *Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Validate checks that every figure is present and well formed.
func (m *Manifest) Validate() error {
	if m.Schema != SchemaVersion {
		return fmt.Errorf("manifest: schema %d, want %d", m.Schema, SchemaVersion)
	}
	if m.ModuleVersion == "" {
		return fmt.Errorf("manifest: module_version is empty")
	}
	seen := map[string]bool{}
	for i, a := range m.Assets {
		if a.Name == "" {
			return fmt.Errorf("manifest: asset %d has no name", i)
		}
		if seen[a.Name] {
			return fmt.Errorf("manifest: asset %q listed twice", a.Name)
		}
		seen[a.Name] = true
		if err := a.validate(); err != nil {
			return fmt.Errorf("manifest: asset %q: %w", a.Name, err)
		}
	}
	return nil
}

func (a *Asset) validate() error {
	if a.XZFile == "" {
		return fmt.Errorf("xz_file is empty")
	}
	if _, err := a.FileMode(); err != nil {
		return err
	}
	if a.Arch == "" || a.Format == "" {
		return fmt.Errorf("arch and format must be set")
	}
	if err := a.Raw.validate(); err != nil {
		return fmt.Errorf("raw: %w", err)
	}
	if err := a.XZ.Digest.validate(); err != nil {
		return fmt.Errorf("xz: %w", err)
	}
	if a.XZ.Tool == "" || a.XZ.ToolVersion == "" || a.XZ.Settings == "" {
		return fmt.Errorf("xz: tool, tool_version and settings must be set")
	}
	if len(a.Provenance) == 0 {
		return fmt.Errorf("provenance is empty")
	}
	return nil
}

func (d Digest) validate() error {
	if d.Size <= 0 {
		return fmt.Errorf("size %d is not positive", d.Size)
	}
	if b, err := hex.DecodeString(d.SHA256); err != nil || len(b) != 32 || hex.EncodeToString(b) != d.SHA256 {
		return fmt.Errorf("sha256 %q is not 64 lower-case hex digits", d.SHA256)
	}
	return nil
}

// FileMode parses Mode ("0644") into permission bits.
func (a *Asset) FileMode() (uint32, error) {
	v, err := strconv.ParseUint(a.Mode, 8, 32)
	if err != nil || len(a.Mode) != 4 || v&^0o777 != 0 {
		return 0, fmt.Errorf("mode %q is not four octal digits like 0644", a.Mode)
	}
	return uint32(v), nil
}

// Asset returns the asset with the given name.
func (m *Manifest) Asset(name string) (*Asset, error) {
	for i := range m.Assets {
		if m.Assets[i].Name == name {
			return &m.Assets[i], nil
		}
	}
	return nil, fmt.Errorf("manifest: no asset named %q", name)
}
