package manifest

import (
	"bytes"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// fixture returns a valid manifest with all three assets and provenance keys
// given in non-sorted order, so tests can check the generated ordering.
func fixture() *Manifest {
	asset := func(name, mode, format string, size int64, fill byte) Asset {
		return Asset{
			Name: name, XZFile: name + ".xz", Mode: mode, Arch: "aarch64", Format: format,
			Raw: Digest{Size: size, SHA256: strings.Repeat(string(rune('a'+fill)), 64)},
			XZ: Compressed{
				Digest: Digest{Size: size / 2, SHA256: strings.Repeat(string(rune('0'+fill)), 64)},
				Tool:   "xz-utils", ToolVersion: "5.4.1", Settings: "-9 \"quoted\" \\ back",
			},
			Provenance: map[string]string{"zeta": "last", "alpha": "first", "mid": "dle"},
		}
	}
	return &Manifest{
		Schema:        SchemaVersion,
		ModuleVersion: "1.2.3",
		Assets: []Asset{
			asset(Kernel, "0644", "linux-arm64-image", 23134208, 1),
			asset(InitOCI, "0755", "elf-static-aarch64", 1600000, 2),
			asset(SupermachineAgent, "0755", "elf-static-aarch64", 430000, 3),
		},
	}
}

var generatedHeader = regexp.MustCompile(`(?m)^(//|#) Code generated .* DO NOT EDIT\.$`)

func TestGenerateProperties(t *testing.T) {
	files, err := Generate(fixture())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{EmbeddedGenPath, KernelGenPath, BzlGenPath}
	if len(files) != len(want) {
		t.Fatalf("Generate returned %d files, want %d", len(files), len(want))
	}
	again, err := Generate(fixture())
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		t.Run(f.Path, func(t *testing.T) {
			if f.Path != want[i] {
				t.Fatalf("file %d is %s, want %s", i, f.Path, want[i])
			}
			if !bytes.Equal(f.Data, again[i].Data) {
				t.Error("two runs on the same manifest differ")
			}
			if loc := generatedHeader.FindIndex(f.Data); loc == nil || loc[0] != 0 {
				t.Errorf("first line is not a Code generated ... DO NOT EDIT. header:\n%s", firstLine(f.Data))
			}
			if strings.HasSuffix(f.Path, ".go") {
				formatted, err := format.Source(f.Data)
				if err != nil {
					t.Fatalf("does not parse: %v", err)
				}
				if !bytes.Equal(formatted, f.Data) {
					t.Error("not gofmt'ed")
				}
				if _, err := parser.ParseFile(token.NewFileSet(), f.Path, f.Data, parser.AllErrors); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

func TestGenerateContents(t *testing.T) {
	m := fixture()
	emb, err := GenerateEmbedded(m)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := GenerateKernelConsts(m)
	if err != nil {
		t.Fatal(err)
	}
	bzl, err := GenerateBzl(m)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want []string // substrings, in this order
	}{
		{"embedded has every field", emb, []string{
			"package manifest", "var Embedded = &Manifest{", "Schema:", "1", `ModuleVersion: "1.2.3"`,
			`Name:   "kernel"`, `Raw:    Digest{Size: 23134208, SHA256: "` + strings.Repeat("b", 64),
			`Settings:    "-9 \"quoted\" \\ back"`,
			`"alpha": "first"`, `"mid":   "dle"`, `"zeta":  "last"`,
			`Name:   "init-oci"`, `Name:   "supermachine-agent"`,
		}},
		{"kernel consts", kc, []string{
			"package kernel", `const Version = "1.2.3"`,
			"KernelLen = 23134208", `KernelSHA256 = "` + strings.Repeat("b", 64) + `"`,
			"InitOCILen = 1600000", `InitOCISHA256 = "` + strings.Repeat("c", 64) + `"`,
			"SupermachineAgentLen = 430000", `SupermachineAgentSHA256 = "` + strings.Repeat("d", 64) + `"`,
		}},
		{"starlark", bzl, []string{
			`VERSION = "1.2.3"`, "ASSETS = {",
			`    "kernel": {`, `        "xz_file": "kernel.xz",`, `        "xz_size": 11567104,`,
			`        "xz_sha256": "` + strings.Repeat("1", 64) + `",`, `        "size": 23134208,`,
			`        "sha256": "` + strings.Repeat("b", 64) + `",`, `        "mode": "0644",`,
			`        "arch": "aarch64",`, `        "format": "linux-arm64-image",`,
			`    "init-oci": {`, `        "mode": "0755",`, `    "supermachine-agent": {`, "}\n",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rest := string(tt.data)
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("missing (or out of order) %q in:\n%s", w, tt.data)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Manifest)
		gen     func(*Manifest) ([]byte, error)
		wantErr string
	}{
		{"invalid manifest", func(m *Manifest) { m.Assets[0].Raw.SHA256 = "XYZ" }, GenerateEmbedded, "not 64 lower-case hex"},
		{"invalid schema", func(m *Manifest) { m.Schema = 9 }, GenerateBzl, "schema 9"},
		{"non-ASCII for starlark", func(m *Manifest) { m.Assets[1].Format = "elf\u00e9" }, GenerateBzl, "outside printable ASCII"},
		{"newline for starlark", func(m *Manifest) { m.ModuleVersion = "1\n2" }, GenerateBzl, "outside printable ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixture()
			tt.edit(m)
			_, err := tt.gen(m)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if _, err := Generate(m); err == nil {
				t.Fatal("Generate accepted a manifest one generator rejects")
			}
		})
	}
}

func TestPartialManifest(t *testing.T) {
	m := fixture()
	m.Assets = m.Assets[:1]
	if err := m.Complete(); err == nil || !strings.Contains(err.Error(), "init-oci, supermachine-agent") {
		t.Fatalf("Complete: got %v, want both programs named", err)
	}
	if err := fixture().Complete(); err != nil {
		t.Fatalf("Complete on a full manifest: %v", err)
	}
	kc, err := GenerateKernelConsts(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"KernelLen = 23134208", "InitOCILen = 0", `InitOCISHA256 = ""`, "SupermachineAgentLen = 0", "no init-oci entry yet"} {
		if !strings.Contains(string(kc), w) {
			t.Errorf("kernel consts for a kernel-only manifest lack %q:\n%s", w, kc)
		}
	}
	if _, err := Generate(m); err != nil {
		t.Fatalf("Generate on a kernel-only manifest: %v", err)
	}
}

func TestStarlarkString(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"plain", `"plain"`, true},
		{`a"b`, `"a\"b"`, true},
		{`a\b`, `"a\\b"`, true},
		{"", `""`, true},
		{"tab\there", "", false},
		{"\x7f", "", false},
		{"\u00fc", "", false},
	}
	for _, tt := range tests {
		got, err := starlarkString(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("starlarkString(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestGeneratedCopiesMatchManifest is the drift test: every generated copy in
// the repository must equal what assets/manifest.json generates now.
func TestGeneratedCopiesMatchManifest(t *testing.T) {
	root := filepath.Join("..", "..")
	src := filepath.Join(root, JSONPath)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("reading the manifest: %v", err)
	}
	m, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	if err := m.Complete(); err != nil {
		t.Errorf("%s: %v (the kernel package needs all three assets)", src, err)
	}
	canon, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(canon, data) {
		t.Errorf("%s is not in canonical form (Manifest.Marshal); rewrite it with the payload pipeline", src)
	}
	if !reflect.DeepEqual(Embedded, m) {
		t.Errorf("Embedded (%s) differs from %s; run %s", EmbeddedGenPath, src, RegenerateCommand)
	}
	files, err := Generate(m)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.Path))
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v; run %s", p, err, RegenerateCommand)
			continue
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s drifted from %s; run %s", p, src, RegenerateCommand)
		}
	}
}
