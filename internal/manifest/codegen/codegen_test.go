package codegen

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/supermachine/supermachine_kernel/internal/manifest"
)

func TestWrite(t *testing.T) {
	m := manifest.Embedded
	files, err := manifest.Generate(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("missing directories name the file", func(t *testing.T) {
		root := t.TempDir()
		err := Write(root, m)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(root, manifest.EmbeddedGenPath)) || !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("got %v, want a not-exist error naming %s", err, manifest.EmbeddedGenPath)
		}
	})
	t.Run("invalid manifest writes nothing", func(t *testing.T) {
		root := t.TempDir()
		bad := *m
		bad.Schema = 99
		if err := Write(root, &bad); err == nil {
			t.Fatal("Write accepted an invalid manifest")
		}
		if ents, _ := os.ReadDir(root); len(ents) != 0 {
			t.Errorf("wrote %d entries for an invalid manifest", len(ents))
		}
	})
	t.Run("writes every file, mode 0644, idempotent", func(t *testing.T) {
		root := t.TempDir()
		for _, d := range []string{"internal/manifest", "kernel", "assets"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// A stale, read-only file must be replaced, not appended to.
		stale := filepath.Join(root, manifest.KernelGenPath)
		if err := os.WriteFile(stale, []byte("stale and much longer than nothing"), 0o444); err != nil {
			t.Fatal(err)
		}
		for round := 0; round < 2; round++ {
			if err := Write(root, m); err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				p := filepath.Join(root, f.Path)
				got, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, f.Data) {
					t.Errorf("round %d: %s differs from Generate's output", round, f.Path)
				}
				fi, _ := os.Stat(p)
				if fi.Mode().Perm() != 0o644 {
					t.Errorf("%s has mode %v, want 0644", f.Path, fi.Mode().Perm())
				}
			}
			leftovers, _ := filepath.Glob(filepath.Join(root, "*", ".*tmp*"))
			if len(leftovers) > 0 {
				t.Errorf("temporary files left behind: %v", leftovers)
			}
		}
	})
}
