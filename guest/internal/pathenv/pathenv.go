// Package pathenv merges environments and finds programs in the PATH of an
// environment that is not the caller's own (the entrypoint's, an exec
// request's), which os/exec.LookPath cannot do.
package pathenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultPath is the PATH given to programs whose environment has none; it
// is the value Docker and containerd use.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Merge returns base with each KEY=VALUE of over applied in order: an entry
// replaces the entry of base with the same key, in place, or is appended.
// Entries without '=' are ignored. Neither input is modified.
func Merge(base, over []string) []string {
	out := make([]string, 0, len(base)+len(over))
	index := make(map[string]int, len(base)+len(over))
	add := func(e string) {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return
		}
		if i, seen := index[k]; seen {
			out[i] = e
			return
		}
		index[k] = len(out)
		out = append(out, e)
	}
	for _, e := range base {
		add(e)
	}
	for _, e := range over {
		add(e)
	}
	return out
}

// Get returns the value of key in env and whether it is set.
func Get(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// ErrNotFound is wrapped by LookPath when no PATH entry holds the program.
var ErrNotFound = errors.New("executable file not found in PATH")

// LookPath resolves file the way execvp does, but against the PATH of env
// (DefaultPath when env has no PATH). Names holding a slash are returned
// unchanged: the kernel resolves them (relative to the working directory).
// root prefixes every candidate when looking (for a tree that is not yet the
// root), and is not part of the result.
func LookPath(root, file string, env []string) (string, error) {
	if file == "" {
		return "", errors.New("empty program name")
	}
	if strings.Contains(file, "/") {
		return file, nil
	}
	path, ok := Get(env, "PATH")
	if !ok {
		path = DefaultPath
	}
	var firstErr error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		cand := filepath.Join(dir, file)
		err := executable(filepath.Join(root, cand))
		if err == nil {
			if !filepath.IsAbs(cand) && !strings.HasPrefix(cand, ".") {
				cand = "./" + cand
			}
			return cand, nil
		}
		if firstErr == nil && !errors.Is(err, fs.ErrNotExist) {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", fmt.Errorf("%s: %w", file, firstErr)
	}
	return "", fmt.Errorf("%s: %w (PATH=%s)", file, ErrNotFound, path)
}

func executable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory", p)
	}
	if st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", p)
	}
	return nil
}
