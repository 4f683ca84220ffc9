package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestExtractKernelErrors(t *testing.T) {
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Skipf("cannot read the test binary: %v", err)
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"not ELF", []byte("not an elf at all, but long enough to parse...................."), "not a readable ELF"},
		{"empty", nil, "not a readable ELF"},
		{"truncated", self[:30], "not a readable ELF"},
	}
	if runtime.GOARCH != "arm64" { // this test binary is then an ELF for another machine
		tests = append(tests, struct {
			name    string
			data    []byte
			wantErr string
		}{"host ELF", self, "wrong architecture"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := extractKernel("lib.so", tt.data, linuxVersion)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "lib.so") {
				t.Fatalf("err = %v, want one naming lib.so and containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestKernelFromDeb runs the real extraction when a maintainer has fetched
// the .deb (tools/fetch-libkrunfw); nothing is downloaded here.
func TestKernelFromDeb(t *testing.T) {
	root, m := repoManifest(t)
	p := filepath.Join(root, filepath.FromSlash(defaultDeb))
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("%s not present (run tools/fetch-libkrunfw to test the extraction): %v", p, err)
	}
	pkg, err := readDeb(p, raw, debMember)
	if err != nil {
		t.Fatal(err)
	}
	img, err := extractKernel(p, pkg.Data, linuxVersion)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.Asset("kernel")
	if err != nil {
		t.Fatal(err)
	}
	if got := digest(img); got != a.Raw {
		t.Errorf("kernel from %s: %+v, manifest says %+v", p, got, a.Raw)
	}
	if pkg.SHA256 != a.Provenance["deb_sha256"] {
		t.Errorf(".deb sha256 %s, manifest says %s", pkg.SHA256, a.Provenance["deb_sha256"])
	}
	// The same bytes with the trailing NUL missing must be refused.
	if _, err := extractKernel(p, pkg.Data[:len(pkg.Data)/2], linuxVersion); err == nil {
		t.Error("accepted a truncated shared object")
	}
	if _, err := extractKernel(p, pkg.Data, "6.1.0"); err == nil || !strings.Contains(err.Error(), "Linux version 6.12.91, want 6.1.0") {
		t.Errorf("wrong Linux version: err = %v", err)
	}
}
