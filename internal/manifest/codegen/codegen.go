// Package codegen writes the generated copies of the manifest into the
// repository. It lives apart from package manifest so that the manifest's
// readers (assetpaths, kernel) do not link the file-writing path of
// internal/unpack, and with it the xz decoder.
package codegen

import (
	"fmt"
	"path/filepath"

	"github.com/supermachine/supermachine_kernel/internal/manifest"
	"github.com/supermachine/supermachine_kernel/internal/unpack"
)

// Write writes every generated copy of m (manifest.Generate) under
// repoRoot. Each file is replaced atomically (temporary file in the same
// directory, then rename) with mode 0644, so a reader never sees half a
// file. Nothing is written if any copy fails to generate.
func Write(repoRoot string, m *manifest.Manifest) error {
	files, err := manifest.Generate(m)
	if err != nil {
		return err
	}
	for _, f := range files {
		dest := filepath.Join(repoRoot, filepath.FromSlash(f.Path))
		if err := unpack.Copy(dest, f.Data, unpack.Want{Size: int64(len(f.Data)), Mode: 0o644}); err != nil {
			return fmt.Errorf("writing generated %s: %w", dest, err)
		}
	}
	return nil
}
