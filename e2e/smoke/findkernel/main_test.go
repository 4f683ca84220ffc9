package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/supermachine/supermachine_kernel/assetpaths"
)

func TestRunFindsEveryAssetInRunfiles(t *testing.T) {
	// $SUPERMACHINE_ASSETS_DIR would win over the runfiles: make sure the test looks at the runfiles.
	t.Setenv(assetpaths.EnvDir, "")
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	names := assetpaths.Names()
	if len(lines) != len(names) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(names), out.String())
	}
	for i, name := range names {
		got, file, ok := strings.Cut(lines[i], "\t")
		if !ok || got != name {
			t.Errorf("line %d = %q, want %q<TAB>path", i, lines[i], name)
			continue
		}
		if fi, err := os.Stat(file); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: %s is not a regular file (err %v)", name, file, err)
		}
	}
}

func TestRunReportsMissingAssetsDir(t *testing.T) {
	t.Setenv(assetpaths.EnvDir, t.TempDir())
	if err := run(new(bytes.Buffer)); err == nil {
		t.Fatal("run with an empty $SUPERMACHINE_ASSETS_DIR succeeded, want an error")
	}
}
