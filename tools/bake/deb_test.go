package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, name := range []string{"./", "./usr/", "./usr/lib/", "./usr/lib/aarch64-linux-gnu/"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func xzOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := xz.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func gzOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// arOf builds a common-format ar archive, the container of a .deb.
func arOf(members ...[2]string) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range members {
		fmt.Fprintf(&b, "%-16s%-12s%-6s%-6s%-8s%-10d`\n", m[0], "0", "0", "0", "100644", len(m[1]))
		b.WriteString(m[1])
		if len(m[1])%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

const testControl = "Package: libkrunfw5\nSource: libkrunfw (5.5.0+ds-1)\nVersion: 5.5.0+ds-1\nArchitecture: arm64\nDescription: x\n more\n"

func TestReadDeb(t *testing.T) {
	control := string(xzOf(t, tarOf(t, map[string]string{"./control": testControl})))
	data := tarOf(t, map[string]string{
		"./usr/share/doc/libkrunfw5/copyright":           "c",
		"./usr/lib/aarch64-linux-gnu/libkrunfw.so.5.5.0": "the shared object",
	})
	good := arOf([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.xz", control}, [2]string{"data.tar.xz", string(xzOf(t, data))})
	tests := []struct {
		name, wantErr string
		deb           []byte
	}{
		{"xz data", "", good},
		{"gzip data", "", arOf([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.gz", string(gzOf(t, tarOf(t, map[string]string{"./control": testControl})))}, [2]string{"data.tar.gz", string(gzOf(t, data))})},
		{"uncompressed data", "", arOf([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.xz", control}, [2]string{"data.tar", string(data)})},
		{"zstd data", "zstd-compressed members are not supported", arOf([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.xz", control}, [2]string{"data.tar.zst", "x"})},
		{"not ar", "no ar archive magic", []byte("PK\x03\x04 zip")},
		{"truncated", "truncated", good[:len(good)-50]},
		{"not binary package", "not a Debian binary package", arOf([2]string{"debian-binary", "3.0\n"})},
		{"no data member", "no data.tar member", arOf([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.xz", control})},
		{"member missing", "no matching file", arOf([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.xz", control}, [2]string{"data.tar.xz", string(xzOf(t, tarOf(t, map[string]string{"./usr/lib/other.so": "x"})))})},
		{"corrupt data", "data.tar.xz", arOf([2]string{"debian-binary", "2.0\n"}, [2]string{"control.tar.xz", control}, [2]string{"data.tar.xz", "\xfd7zXZ\x00garbage"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := readDeb("x.deb", tt.deb, debMember)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "x.deb: ") {
					t.Fatalf("err = %v, want one naming x.deb and containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Member != "usr/lib/aarch64-linux-gnu/libkrunfw.so.5.5.0" || string(p.Data) != "the shared object" {
				t.Errorf("member %q = %q", p.Member, p.Data)
			}
			if p.Control["Package"] != "libkrunfw5" || p.Control["Version"] != "5.5.0+ds-1" || p.Control["Source"] != "libkrunfw (5.5.0+ds-1)" {
				t.Errorf("control = %v", p.Control)
			}
			if len(p.SHA256) != 64 {
				t.Errorf("SHA256 = %q", p.SHA256)
			}
		})
	}
}

func TestParseControl(t *testing.T) {
	tests := []struct {
		in, wantErr string
	}{
		{testControl, ""},
		{"Package: a\nVersion: 1\n", "no Architecture field"},
		{" leading continuation\n", "continuation line before any field"},
		{"Package a\n", "bad control line"},
	}
	for _, tt := range tests {
		_, err := parseControl([]byte(tt.in))
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("parseControl(%q) err = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}
