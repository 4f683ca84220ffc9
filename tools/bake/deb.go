package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/ulikunitz/xz"
)

// debPackage is what bake needs from a Debian binary package.
type debPackage struct {
	SHA256  string            // of the whole .deb
	Control map[string]string // fields of DEBIAN/control (Package, Version, Architecture, Source, ...)
	Member  string            // path of the extracted member inside data.tar, without "./"
	Data    []byte            // the member's bytes
}

// readDeb reads the .deb in raw (named name in errors), parses its control
// file and returns the first regular file in data.tar whose path matches
// memberPattern (a path.Match pattern without the leading "./").
func readDeb(name string, raw []byte, memberPattern string) (*debPackage, error) {
	sum := sha256.Sum256(raw)
	members, err := readAr(name, raw)
	if err != nil {
		return nil, err
	}
	if string(members["debian-binary"]) != "2.0\n" {
		return nil, fmt.Errorf("%s: not a Debian binary package (debian-binary member is %q, want \"2.0\\n\")", name, members["debian-binary"])
	}
	p := &debPackage{SHA256: hex.EncodeToString(sum[:])}
	ctl, cname, err := tarMember(name, members, "control.tar", func(h *tar.Header) bool {
		return path.Clean(h.Name) == "control"
	})
	if err != nil {
		return nil, err
	}
	if p.Control, err = parseControl(ctl); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", name, cname, err)
	}
	var found string
	p.Data, _, err = tarMember(name, members, "data.tar", func(h *tar.Header) bool {
		n := strings.TrimPrefix(path.Clean(h.Name), "./")
		if ok, _ := path.Match(memberPattern, n); ok && h.Typeflag == tar.TypeReg {
			found = n
			return true
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	p.Member = found
	return p, nil
}

// readAr splits a common-format ar archive into its members.
func readAr(name string, raw []byte) (map[string][]byte, error) {
	const magic = "!<arch>\n"
	if !bytes.HasPrefix(raw, []byte(magic)) {
		return nil, fmt.Errorf("%s: not a .deb: no ar archive magic", name)
	}
	out := map[string][]byte{}
	p := raw[len(magic):]
	for len(p) > 0 {
		if len(p) < 60 {
			return nil, fmt.Errorf("%s: truncated ar member header", name)
		}
		h := p[:60]
		if string(h[58:60]) != "`\n" {
			return nil, fmt.Errorf("%s: corrupt ar member header", name)
		}
		mname := strings.TrimSuffix(strings.TrimRight(string(h[:16]), " "), "/")
		var size int
		if _, err := fmt.Sscanf(strings.TrimSpace(string(h[48:58])), "%d", &size); err != nil || size < 0 {
			return nil, fmt.Errorf("%s: ar member %q: bad size %q", name, mname, h[48:58])
		}
		p = p[60:]
		if size > len(p) {
			return nil, fmt.Errorf("%s: truncated: ar member %q needs %d bytes, %d left", name, mname, size, len(p))
		}
		out[mname] = p[:size]
		p = p[size:]
		if size%2 == 1 && len(p) > 0 {
			p = p[1:]
		}
	}
	return out, nil
}

// tarMember finds the ar member prefix.{xz,gz,zst,} and returns the content of
// the first tar entry that match accepts, and the member's name.
func tarMember(name string, members map[string][]byte, prefix string, match func(*tar.Header) bool) ([]byte, string, error) {
	for _, ext := range []string{"", ".xz", ".gz", ".zst"} {
		raw, ok := members[prefix+ext]
		if !ok {
			continue
		}
		mname := prefix + ext
		var r io.Reader = bytes.NewReader(raw)
		switch ext {
		case ".xz":
			xr, err := xz.NewReader(bufio.NewReader(r))
			if err != nil {
				return nil, mname, fmt.Errorf("%s: %s: %w", name, mname, err)
			}
			r = xr
		case ".gz":
			gr, err := gzip.NewReader(r)
			if err != nil {
				return nil, mname, fmt.Errorf("%s: %s: %w", name, mname, err)
			}
			r = gr
		case ".zst":
			// Debian's libkrunfw5 uses data.tar.xz; zstd would need a new dependency.
			return nil, mname, fmt.Errorf("%s: %s: zstd-compressed members are not supported; extract the .so with dpkg-deb -x and pass -so", name, mname)
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil, mname, fmt.Errorf("%s: %s: no matching file", name, mname)
			}
			if err != nil {
				return nil, mname, fmt.Errorf("%s: %s: corrupt or truncated: %w", name, mname, err)
			}
			if match(h) {
				b, err := io.ReadAll(tr)
				if err != nil {
					return nil, mname, fmt.Errorf("%s: %s: reading %s: %w", name, mname, h.Name, err)
				}
				return b, mname, nil
			}
		}
	}
	return nil, "", fmt.Errorf("%s: no %s member in the .deb", name, prefix)
}

// parseControl reads the single paragraph of a DEBIAN/control file.
func parseControl(b []byte) (map[string]string, error) {
	out := map[string]string{}
	last := ""
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "":
			continue
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("continuation line before any field")
			}
			out[last] += "\n" + strings.TrimSpace(line)
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return nil, fmt.Errorf("bad control line %q", line)
			}
			last = strings.TrimSpace(k)
			out[last] = strings.TrimSpace(v)
		}
	}
	for _, f := range []string{"Package", "Version", "Architecture"} {
		if out[f] == "" {
			return nil, fmt.Errorf("control file has no %s field", f)
		}
	}
	return out, nil
}
