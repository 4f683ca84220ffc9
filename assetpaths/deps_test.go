package assetpaths_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// TestStaysLight fails when assetpaths, directly or through any package it
// imports, links the xz decoder or the payloads: a program that only wants
// the files' paths must not pay for them. It runs the go command on the
// source tree (go test only; a manual target under Bazel).
func TestStaysLight(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err2 := exec.LookPath(goCmd); err2 != nil {
			t.Skipf("the go command is missing (%v); this test lists the package's dependencies with it", err)
		}
	}
	var stderr bytes.Buffer
	cmd := exec.Command(goCmd, "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, ".")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v\n%s", err, stderr.Bytes())
	}
	// importers maps every dependency to the packages that import it.
	importers := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		importers[f[0]] = importers[f[0]]
		for _, imp := range f[1:] {
			importers[imp] = append(importers[imp], f[0])
		}
	}
	if _, ok := importers["github.com/supermachine/supermachine_kernel/internal/manifest"]; !ok {
		t.Fatalf("go list -deps does not list internal/manifest, which assetpaths imports; is this the right package?\n%s", out)
	}
	forbidden := []struct {
		prefix, why string
	}{
		{"github.com/ulikunitz/xz", "the xz decoder"},
		{"github.com/supermachine/supermachine_kernel/internal/unpack", "the decode-and-verify path (and the decoder with it)"},
		{"github.com/supermachine/supermachine_kernel/kernel", "the embedded payloads"},
		{"github.com/supermachine/supermachine_kernel/assets", "the embedded .xz payloads"},
	}
	deps := make([]string, 0, len(importers))
	for dep := range importers {
		deps = append(deps, dep)
	}
	sort.Strings(deps)
	for _, f := range forbidden {
		for _, dep := range deps {
			by := importers[dep]
			if dep == f.prefix || strings.HasPrefix(dep, f.prefix+"/") {
				t.Errorf("assetpaths links %s (%s), imported by %v; it must stay light: move that import out of the packages assetpaths uses", dep, f.why, by)
			}
		}
	}
}
