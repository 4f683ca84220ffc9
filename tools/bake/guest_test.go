package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGuestSourceOf builds a throw-away git repository holding a copy of this
// module's layout and checks which changes count as dirty build inputs.
func TestGuestSourceOf(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not found")
	}
	root := t.TempDir()
	write := func(rel, body string) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write("go.mod", "module github.com/supermachine/supermachine_kernel\n\ngo 1.24\n")
	write("guest/lib/lib.go", "package lib\n\nimport _ \"embed\"\n\n//go:embed data/blob.txt\nvar Blob string\n")
	write("guest/lib/data/blob.txt", "v1\n")
	write("guest/lib/lib_test.go", "package lib\n")
	write("guest/prog/main.go", "package main\n\nimport _ \"github.com/supermachine/supermachine_kernel/guest/lib\"\n\nfunc main() {}\n")
	write("guest/prog/BUILD.bazel", "# build file\n")
	write("guest/other/other.go", "package other\n")
	write("tools/x/x.go", "package x\n")
	run("init", "-q")
	run("add", ".")
	run("commit", "-qm", "one")

	src, err := guestSourceOf(root, "./guest/prog")
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Dirty) != 0 || !slices.Equal(src.Dirs, []string{"guest/lib", "guest/prog"}) || len(src.Revision) != 40 {
		t.Fatalf("clean tree: %+v", src)
	}
	first := src.Revision

	// Not inputs: tests, BUILD files, packages it does not use, a later commit
	// touching only those.
	write("guest/lib/lib_test.go", "package lib\n// edited\n")
	write("guest/prog/BUILD.bazel", "# edited\n")
	write("guest/other/other.go", "package other\n// edited\n")
	write("tools/x/x.go", "package x\n// edited\n")
	if src, err = guestSourceOf(root, "./guest/prog"); err != nil || len(src.Dirty) != 0 {
		t.Fatalf("non-input edits counted as dirty: %+v %v", src, err)
	}
	run("commit", "-qam", "tests only")
	if src, _ = guestSourceOf(root, "./guest/prog"); src.Revision != first {
		t.Errorf("a test-only commit moved the revision to %s", src.Revision)
	}

	// Inputs: an embedded file, a new untracked source file, go.mod.
	for _, tc := range []struct{ rel, body string }{
		{"guest/lib/data/blob.txt", "v2\n"},
		{"guest/prog/extra.go", "package main\n"},
		{"go.mod", "module github.com/supermachine/supermachine_kernel\n\ngo 1.24.0\n"},
	} {
		old, _ := os.ReadFile(filepath.Join(root, filepath.FromSlash(tc.rel)))
		write(tc.rel, tc.body)
		src, err := guestSourceOf(root, "./guest/prog")
		if err != nil || !slices.Contains(src.Dirty, tc.rel) {
			t.Errorf("editing %s: dirty = %v (err %v), want it listed", tc.rel, src.Dirty, err)
		}
		if old == nil {
			os.Remove(filepath.Join(root, filepath.FromSlash(tc.rel)))
		} else {
			write(tc.rel, string(old))
		}
	}

	// A guest that reaches outside guest/ is refused.
	write("guest/prog/main.go", "package main\n\nimport _ \"github.com/supermachine/supermachine_kernel/tools/x\"\n\nfunc main() {}\n")
	if _, err := guestSourceOf(root, "./guest/prog"); err == nil || !strings.Contains(err.Error(), "outside guest/") {
		t.Errorf("import outside guest/: err = %v", err)
	}
}
