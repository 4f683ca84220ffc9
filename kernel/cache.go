package kernel

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/supermachine/supermachine_kernel/assetpaths"
)

// CacheDir returns the per-user directory the assets are extracted into by
// ExtractToCache: os.UserCacheDir()/supermachine-kernel/VERSION-HASH, where
// HASH is the first 12 hex digits of the sha256 of the three assets'
// sha256s. Different payloads never share a directory, so a cache entry
// never needs invalidating.
func CacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("kernel: no cache directory: %w", err)
	}
	return filepath.Join(base, "supermachine-kernel", cacheKey()), nil
}

func cacheKey() string {
	h := sha256.New()
	for _, a := range allAssets {
		h.Write([]byte(a.name + "=" + a.sha256 + "\n"))
	}
	return Version + "-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// ExtractToCache makes sure the three assets are in CacheDir and returns
// their paths. Files that are already there with the right size and sha256
// are kept (a later process pays a stat and a hash, not a decode); missing
// or damaged ones are extracted again, atomically, so concurrent callers
// are safe.
func ExtractToCache() (assetpaths.Paths, error) {
	dir, err := CacheDir()
	if err != nil {
		return assetpaths.Paths{}, err
	}
	return ensureDir(dir)
}

// ensureDir extracts into dir every asset that is not already there intact.
func ensureDir(dir string) (assetpaths.Paths, error) {
	p := assetpaths.InDir(dir)
	if err := mkdirAll(dir); err != nil {
		return assetpaths.Paths{}, fmt.Errorf("kernel: cache directory: %w", err)
	}
	for _, a := range allAssets {
		file, _ := p.Path(a.name)
		if assetpaths.VerifyFile(file, a.name) == nil {
			continue
		}
		if err := extract(a, file, false); err != nil {
			return assetpaths.Paths{}, err
		}
	}
	return p, nil
}

// Paths returns where the three asset files are: assetpaths.Find
// ($SUPERMACHINE_ASSETS_DIR, Bazel runfiles, the executable's directory),
// and when none of those has them, the cache directory, extracting the
// embedded assets there first if needed (ExtractToCache).
func Paths() (assetpaths.Paths, error) {
	p, err := assetpaths.Find()
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, assetpaths.ErrNotFound) {
		return assetpaths.Paths{}, err
	}
	return ExtractToCache()
}

// EmbedKind says how this build holds the assets (go:embed of .xz payloads
// decoded at run time, or decoded files embedded by Bazel).
func EmbedKind() string { return embedKind }
