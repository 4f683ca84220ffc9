// Package hello checks the output of the unxz rule from a consumer module.
package hello

import (
	"os"
	"testing"

	"github.com/bazelbuild/rules_go/go/runfiles"
)

func TestUnxzOutput(t *testing.T) {
	rloc := os.Getenv("HELLO_TXT")
	if rloc == "" {
		t.Fatal("HELLO_TXT is not set: run this test with bazel test")
	}
	path, err := runfiles.Rlocation(rloc)
	if err != nil {
		t.Fatalf("runfiles.Rlocation(%q): %v", rloc, err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const want = "Hello from an .xz file, decompressed by the unxz rule of supermachine_kernel.\n"
	if string(got) != want {
		t.Errorf("%s = %q, want %q", path, got, want)
	}
}
