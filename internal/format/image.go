// Package format checks that payload bytes are what they claim to be: an arm64
// Linux Image, a static aarch64 ELF executable, or an xz stream made of
// independent LZMA2 blocks. Every error names the file and what is wrong.
package format

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"regexp"
)

// arm64 Image header layout (Documentation/arch/arm64/booting.rst).
const (
	arm64HeaderSize  = 64
	arm64MagicOffset = 0x38
	arm64Magic       = "ARMd"
)

// Arm64Image is the decoded header of an arm64 Linux kernel Image.
type Arm64Image struct {
	TextOffset uint64 // where the image must be placed above a 2 MiB aligned base
	ImageSize  uint64 // memory footprint (file plus bss), never smaller than the file
	Flags      uint64
	PageSize   int // 4096, 16384, 65536, or 0 when the header leaves it unspecified
}

// CheckArm64Image validates the header of an arm64 Linux Image held in data;
// name is the file the bytes came from, for error messages.
func CheckArm64Image(name string, data []byte) (*Arm64Image, error) {
	if len(data) < arm64HeaderSize {
		return nil, fmt.Errorf("%s: truncated arm64 Image: %d bytes, the header alone is %d", name, len(data), arm64HeaderSize)
	}
	if m := data[arm64MagicOffset : arm64MagicOffset+4]; string(m) != arm64Magic {
		return nil, fmt.Errorf("%s: not an arm64 Image: magic at 0x38 is %q, want %q", name, m, arm64Magic)
	}
	h := &Arm64Image{
		TextOffset: binary.LittleEndian.Uint64(data[8:]),
		ImageSize:  binary.LittleEndian.Uint64(data[16:]),
		Flags:      binary.LittleEndian.Uint64(data[24:]),
	}
	if h.Flags&1 != 0 {
		return nil, fmt.Errorf("%s: arm64 Image is big-endian (flags %#x), want little-endian", name, h.Flags)
	}
	switch (h.Flags >> 1) & 3 {
	case 1:
		h.PageSize = 4096
	case 2:
		h.PageSize = 16384
	case 3:
		h.PageSize = 65536
	}
	if h.ImageSize == 0 {
		// Kernels before 3.17 leave image_size zero; we ship only newer ones.
		return nil, fmt.Errorf("%s: arm64 Image header has image_size 0 (pre-3.17 kernel or corrupt header)", name)
	}
	if h.ImageSize < uint64(len(data)) {
		return nil, fmt.Errorf("%s: arm64 Image header says image_size %d, smaller than the %d-byte file (corrupt header or trailing garbage)", name, h.ImageSize, len(data))
	}
	if h.TextOffset%4096 != 0 {
		return nil, fmt.Errorf("%s: arm64 Image text_offset %#x is not page aligned", name, h.TextOffset)
	}
	return h, nil
}

var linuxVersionRE = regexp.MustCompile(`Linux version ([0-9]+\.[0-9]+(\.[0-9]+)?[^ \x00]*) `)

// LinuxVersion returns the release in the kernel's banner ("Linux version
// 6.12.91 (...)"), found anywhere in data, or an error naming name.
func LinuxVersion(name string, data []byte) (string, error) {
	i := bytes.Index(data, []byte("Linux version "))
	for i >= 0 {
		end := min(len(data), i+128)
		if m := linuxVersionRE.FindSubmatch(data[i:end]); m != nil {
			return string(m[1]), nil
		}
		next := bytes.Index(data[i+1:], []byte("Linux version "))
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return "", fmt.Errorf("%s: no \"Linux version X.Y.Z \" banner found", name)
}
