package format

import (
	"bytes"
	"debug/elf"
	"fmt"
	"strings"
)

// StaticELF summarizes a validated static executable.
type StaticELF struct {
	Machine elf.Machine
	Entry   uint64
	Type    elf.Type
}

// machineName gives the usual short name of an ELF machine ("x86-64"), for
// errors a human can act on.
func machineName(m elf.Machine) string {
	switch m {
	case elf.EM_AARCH64:
		return "aarch64"
	case elf.EM_X86_64:
		return "x86-64"
	case elf.EM_386:
		return "i386"
	case elf.EM_ARM:
		return "arm (32-bit)"
	case elf.EM_RISCV:
		return "riscv"
	case elf.EM_PPC64:
		return "ppc64"
	case elf.EM_S390:
		return "s390"
	}
	return strings.ToLower(strings.TrimPrefix(m.String(), "EM_"))
}

// CheckStaticAarch64ELF validates that data is a 64-bit little-endian aarch64
// ELF executable that needs no dynamic loader: no PT_INTERP, no PT_DYNAMIC, no
// needed libraries, and every loadable segment lies inside the file. name is
// the file the bytes came from, for error messages.
func CheckStaticAarch64ELF(name string, data []byte) (*StaticELF, error) {
	if len(data) < 4 || string(data[:4]) != elf.ELFMAG {
		n := min(len(data), 4)
		return nil, fmt.Errorf("%s: not an ELF file: starts with %q, want %q", name, data[:n], elf.ELFMAG)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt or truncated ELF: %w", name, err)
	}
	defer f.Close()
	if f.Class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("%s: wrong ELF class %v, want ELFCLASS64", name, f.Class)
	}
	if f.Machine != elf.EM_AARCH64 {
		return nil, fmt.Errorf("%s: wrong architecture: ELF machine %s, want aarch64", name, machineName(f.Machine))
	}
	if f.Data != elf.ELFDATA2LSB {
		return nil, fmt.Errorf("%s: ELF is %v, want little-endian aarch64", name, f.Data)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return nil, fmt.Errorf("%s: ELF type %v is not an executable", name, f.Type)
	}
	loads := 0
	for i, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			return nil, fmt.Errorf("%s: not static: has a PT_INTERP program header (dynamic loader)", name)
		case elf.PT_DYNAMIC:
			return nil, fmt.Errorf("%s: not static: has a PT_DYNAMIC program header (dynamic section)", name)
		case elf.PT_LOAD:
			loads++
			if p.Off > uint64(len(data)) || p.Filesz > uint64(len(data))-p.Off {
				return nil, fmt.Errorf("%s: truncated ELF: segment %d needs bytes %d..%d, file has %d", name, i, p.Off, p.Off+p.Filesz, len(data))
			}
		}
	}
	if loads == 0 {
		return nil, fmt.Errorf("%s: ELF has no loadable segment", name)
	}
	if s := f.Section(".dynamic"); s != nil {
		return nil, fmt.Errorf("%s: not static: has a .dynamic section", name)
	}
	if s := f.Section(".interp"); s != nil {
		return nil, fmt.Errorf("%s: not static: has an .interp section", name)
	}
	return &StaticELF{Machine: f.Machine, Entry: f.Entry, Type: f.Type}, nil
}
