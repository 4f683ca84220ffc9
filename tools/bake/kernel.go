package main

import (
	"bytes"
	"debug/elf"
	"fmt"

	"github.com/supermachine/supermachine_kernel/internal/format"
)

// kernelSymbol is the dynamic symbol in libkrunfw.so that holds the Image,
// as a C array with one trailing NUL.
const kernelSymbol = "KERNEL_BUNDLE"

// extractKernel returns the arm64 Image held in the KERNEL_BUNDLE symbol of
// the aarch64 shared object so (named name in errors), without the trailing
// NUL, after checking its header and that its banner names wantLinux.
func extractKernel(name string, so []byte, wantLinux string) ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(so))
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable ELF shared object: %w", name, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		return nil, fmt.Errorf("%s: wrong architecture: ELF machine %v, want EM_AARCH64 (the arm64 libkrunfw)", name, f.Machine)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		return nil, fmt.Errorf("%s: reading dynamic symbols: %w", name, err)
	}
	var sym *elf.Symbol
	for i := range syms {
		if syms[i].Name == kernelSymbol {
			sym = &syms[i]
			break
		}
	}
	if sym == nil {
		return nil, fmt.Errorf("%s: no dynamic symbol %s", name, kernelSymbol)
	}
	if elf.ST_TYPE(sym.Info) != elf.STT_OBJECT || sym.Size < 2 {
		return nil, fmt.Errorf("%s: %s is not a data object (type %v, size %d)", name, kernelSymbol, elf.ST_TYPE(sym.Info), sym.Size)
	}
	if int(sym.Section) <= 0 || int(sym.Section) >= len(f.Sections) {
		return nil, fmt.Errorf("%s: %s has no section (index %d)", name, kernelSymbol, sym.Section)
	}
	sec := f.Sections[sym.Section]
	if sec.Type != elf.SHT_PROGBITS || sym.Value < sec.Addr || sym.Value+sym.Size > sec.Addr+sec.Size {
		return nil, fmt.Errorf("%s: %s (%#x+%#x) lies outside its section %s (%#x+%#x)", name, kernelSymbol, sym.Value, sym.Size, sec.Name, sec.Addr, sec.Size)
	}
	off := sym.Value - sec.Addr + sec.Offset
	if off+sym.Size > uint64(len(so)) {
		return nil, fmt.Errorf("%s: truncated: %s needs bytes %d..%d, file has %d", name, kernelSymbol, off, off+sym.Size, len(so))
	}
	b := so[off : off+sym.Size]
	if b[len(b)-1] != 0 {
		return nil, fmt.Errorf("%s: %s does not end with the NUL of a C array (last byte %#x)", name, kernelSymbol, b[len(b)-1])
	}
	img := bytes.Clone(b[:len(b)-1])
	where := name + ":" + kernelSymbol
	if _, err := format.CheckArm64Image(where, img); err != nil {
		return nil, err
	}
	v, err := format.LinuxVersion(where, img)
	if err != nil {
		return nil, err
	}
	if v != wantLinux {
		return nil, fmt.Errorf("%s: Linux version %s, want %s", where, v, wantLinux)
	}
	return img, nil
}
