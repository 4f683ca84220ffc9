//go:build unix

package kernel

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func setUmask(m int) { syscall.Umask(m) }

func inodeOf(fi os.FileInfo) uint64 { return uint64(fi.Sys().(*syscall.Stat_t).Ino) }

// TestModesUnderUmask extracts, in a child process, under umask 000, 077 and
// 027 in turn: files must come out 0644 / 0755 and created parents 0755
// every time, because the modes are set explicitly.
func TestModesUnderUmask(t *testing.T) {
	umasks := []string{"000", "077", "027"}
	top := t.TempDir()
	runChildren(t, 1, top, strings.Join(umasks, ","), 1)
	for _, u := range umasks {
		t.Run("umask "+u, func(t *testing.T) {
			dir := filepath.Join(top, "u"+u, "x", "y")
			for _, a := range apiAssets()[:3] {
				checkFile(t, filepath.Join(dir, a.name), a)
			}
			for _, d := range []string{filepath.Join(top, "u"+u), filepath.Join(top, "u"+u, "x"), dir} {
				fi, err := os.Stat(d)
				if err != nil || fi.Mode().Perm() != 0o755 {
					t.Errorf("%s: mode %v, %v; want 0755", d, fi.Mode().Perm(), err)
				}
			}
		})
	}
}
