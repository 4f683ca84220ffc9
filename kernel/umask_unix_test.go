//go:build unix

package kernel

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func setUmask(m int) { syscall.Umask(m) }

func inodeOf(fi os.FileInfo) uint64 { return uint64(fi.Sys().(*syscall.Stat_t).Ino) }

// TestModesUnderUmask extracts in child processes running under umask 000
// and 077: files must come out 0644 / 0755 and created parents 0755 either
// way, because the modes are set explicitly.
func TestModesUnderUmask(t *testing.T) {
	for _, umask := range []string{"000", "077", "027"} {
		t.Run("umask "+umask, func(t *testing.T) {
			top := t.TempDir()
			dir := filepath.Join(top, "x", "y")
			runChildren(t, 1, dir, umask, 1)
			for _, a := range apiAssets()[:3] {
				checkFile(t, filepath.Join(dir, a.name), a)
			}
			for _, d := range []string{filepath.Join(top, "x"), dir} {
				fi, err := os.Stat(d)
				if err != nil || fi.Mode().Perm() != 0o755 {
					t.Errorf("%s: mode %v, %v; want 0755", d, fi.Mode().Perm(), err)
				}
			}
		})
	}
}
