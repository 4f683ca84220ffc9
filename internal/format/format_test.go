package format

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// arm64Header builds a minimal Image: 64-byte header plus body.
func arm64Header(size int, imageSize, flags, textOffset uint64, magic string) []byte {
	b := make([]byte, size)
	if size < 64 {
		full := arm64Header(64, imageSize, flags, textOffset, magic)
		copy(b, full)
		return b
	}
	binary.LittleEndian.PutUint64(b[8:], textOffset)
	binary.LittleEndian.PutUint64(b[16:], imageSize)
	binary.LittleEndian.PutUint64(b[24:], flags)
	copy(b[0x38:], magic)
	return b
}

func TestCheckArm64Image(t *testing.T) {
	tests := []struct {
		name     string
		data     []byte
		wantErr  string
		wantPage int
	}{
		{"good 4K", arm64Header(4096, 8192, 0xa, 0, "ARMd"), "", 4096},
		{"good 64K", arm64Header(4096, 4096, 0x6, 0x80000, "ARMd"), "", 65536},
		{"good unspecified page", arm64Header(128, 128, 0, 0, "ARMd"), "", 0},
		{"truncated", arm64Header(40, 8192, 0xa, 0, "ARMd"), "truncated arm64 Image", 0},
		{"empty", nil, "truncated arm64 Image", 0},
		{"bad magic", arm64Header(4096, 8192, 0xa, 0, "ARMx"), `magic at 0x38 is "ARMx", want "ARMd"`, 0},
		{"ELF not Image", append([]byte("\x7fELF"), make([]byte, 100)...), "not an arm64 Image", 0},
		{"big endian", arm64Header(4096, 8192, 0xb, 0, "ARMd"), "big-endian", 0},
		{"zero image_size", arm64Header(4096, 0, 0xa, 0, "ARMd"), "image_size 0", 0},
		{"image_size below file", arm64Header(4096, 100, 0xa, 0, "ARMd"), "smaller than the 4096-byte file", 0},
		{"unaligned text_offset", arm64Header(4096, 8192, 0xa, 0x123, "ARMd"), "not page aligned", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := CheckArm64Image("Image", tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "Image: ") {
					t.Fatalf("err = %v, want one starting with the file name and containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.PageSize != tt.wantPage {
				t.Errorf("PageSize = %d, want %d", h.PageSize, tt.wantPage)
			}
		})
	}
}

func TestLinuxVersion(t *testing.T) {
	tests := []struct {
		data, want string
	}{
		{"xx\x00Linux version 6.12.91 (root@libkrunfw) (gcc)", "6.12.91"},
		{"Linux version %s\x00 then Linux version 6.1.0-rc1+ (x)", "6.1.0-rc1+"},
		{"Linux version 5.10 #1", "5.10"},
		{"no banner here", ""},
		{"Linux version ", ""},
	}
	for _, tt := range tests {
		got, err := LinuxVersion("k", []byte(tt.data))
		if tt.want == "" {
			if err == nil {
				t.Errorf("LinuxVersion(%q) = %q, want an error", tt.data, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("LinuxVersion(%q) = %q, %v; want %q", tt.data, got, err, tt.want)
		}
	}
}

// buildELF compiles a tiny Go program for goarch (static, CGO off).
func buildELF(t *testing.T, goarch string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOFLAGS=", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build for %s: %v\n%s", goarch, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withProgType rewrites the type of the first program header of type from.
func withProgType(t *testing.T, data []byte, from, to elf.ProgType) []byte {
	t.Helper()
	d := bytes.Clone(data)
	phoff := binary.LittleEndian.Uint64(d[0x20:])
	phentsize := uint64(binary.LittleEndian.Uint16(d[0x36:]))
	phnum := uint64(binary.LittleEndian.Uint16(d[0x38:]))
	for i := uint64(0); i < phnum; i++ {
		p := d[phoff+i*phentsize:]
		if elf.ProgType(binary.LittleEndian.Uint32(p)) == from {
			binary.LittleEndian.PutUint32(p, uint32(to))
			return d
		}
	}
	t.Fatalf("no %v program header", from)
	return nil
}

func TestCheckStaticAarch64ELF(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two small Go programs")
	}
	arm := buildELF(t, "arm64")
	amd := buildELF(t, "amd64")
	// A PT_NOTE rewritten as PT_INTERP / PT_DYNAMIC stands in for a dynamic executable.
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"static arm64", arm, ""},
		{"x86-64", amd, "wrong architecture: ELF machine x86-64, want aarch64"},
		{"interp", withProgType(t, arm, elf.PT_NOTE, elf.PT_INTERP), "PT_INTERP"},
		{"dynamic", withProgType(t, arm, elf.PT_NOTE, elf.PT_DYNAMIC), "PT_DYNAMIC"},
		{"truncated body", arm[:len(arm)/2], "truncated"},
		{"truncated header", arm[:40], "corrupt or truncated ELF"},
		{"not ELF", []byte("#!/bin/sh\necho hi\n"), `not an ELF file: starts with "#!/b"`},
		{"empty", nil, "not an ELF file"},
		{"32-bit", func() []byte { d := bytes.Clone(arm); d[4] = byte(elf.ELFCLASS32); return d }(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CheckStaticAarch64ELF("prog", tt.data)
			if tt.name == "32-bit" {
				if err == nil {
					t.Fatal("accepted a file whose ELF class byte says 32-bit")
				}
				return
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "prog: ") {
				t.Fatalf("err = %v, want one starting with the file name and containing %q", err, tt.wantErr)
			}
		})
	}
}
