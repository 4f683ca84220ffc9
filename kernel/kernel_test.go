package kernel

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/supermachine/supermachine_kernel/assetpaths"
	"github.com/supermachine/supermachine_kernel/internal/manifest"
	"github.com/supermachine/supermachine_kernel/internal/unpack"
	"github.com/ulikunitz/xz"
)

// These tests use only the generated constants, the embedded manifest and
// t.TempDir, so they run unchanged under go test and under Bazel.

// Child processes: the test binary re-executed with childEnv set extracts
// all three assets into $KERNEL_TEST_DIR (optionally under a umask) and
// exits, so tests can run many processes or control the umask.
const (
	childEnv   = "KERNEL_TEST_CHILD"
	childDir   = "KERNEL_TEST_DIR"
	childUmask = "KERNEL_TEST_UMASK"
	childLoops = "KERNEL_TEST_LOOPS"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "extract":
		os.Exit(childExtract())
	case "cache":
		p, err := ExtractToCache()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(p.Dir)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childExtract extracts all three assets into $KERNEL_TEST_DIR, $KERNEL_TEST_LOOPS
// times. With $KERNEL_TEST_UMASK (a comma-separated list of octal umasks)
// it extracts once per umask, under that umask, into
// $KERNEL_TEST_DIR/u<umask>/x/y: one process, so the kernel is decoded once.
func childExtract() int {
	dir := os.Getenv(childDir)
	if list := os.Getenv(childUmask); list != "" {
		for _, u := range strings.Split(list, ",") {
			v, err := strconv.ParseUint(u, 8, 32)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bad umask:", err)
				return 2
			}
			setUmask(int(v))
			if err := extractAll(filepath.Join(dir, "u"+u, "x", "y")); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return 0
	}
	loops, _ := strconv.Atoi(os.Getenv(childLoops))
	for i := 0; i < max(loops, 1); i++ {
		if err := extractAll(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func extractAll(dir string) error {
	steps := []struct {
		fn   func(string) error
		name string
	}{
		{ExtractKernelToWithParents, manifest.Kernel},
		{ExtractInitOCIToWithParents, manifest.InitOCI},
		{ExtractSupermachineAgentToWithParents, manifest.SupermachineAgent},
	}
	for _, s := range steps {
		if err := s.fn(filepath.Join(dir, s.name)); err != nil {
			return err
		}
	}
	return nil
}

type apiAsset struct {
	in      *asset
	name    string
	bytes   func() []byte
	size    int64
	sha     string
	mode    os.FileMode
	to      func(string) error
	parents func(string) error
}

func apiAssets() []apiAsset {
	return []apiAsset{
		{kernelAsset, manifest.Kernel, KernelBytes, KernelLen, KernelSHA256, 0o644, ExtractKernelTo, ExtractKernelToWithParents},
		{initOCIAsset, manifest.InitOCI, InitOCIBytes, InitOCILen, InitOCISHA256, 0o755, ExtractInitOCITo, ExtractInitOCIToWithParents},
		{supermachineAgentAsset, manifest.SupermachineAgent, SupermachineAgentBytes, SupermachineAgentLen, SupermachineAgentSHA256, 0o755,
			ExtractSupermachineAgentTo, ExtractSupermachineAgentToWithParents},
		// The deprecated aliases must behave exactly like the kernel ones.
		{kernelAsset, "kernel via ExtractTo", KernelBytes, KernelLen, KernelSHA256, 0o644, ExtractTo, ExtractToWithParents},
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestBytesMatchManifest(t *testing.T) {
	for _, a := range apiAssets()[:3] {
		t.Run(a.name, func(t *testing.T) {
			// rawBytes first: a broken payload fails this test, rather than
			// panicking in the Bytes function and hiding every other test.
			if _, err := rawBytes(a.in); err != nil {
				t.Fatal(err)
			}
			b := a.bytes()
			if int64(len(b)) != a.size || sum(b) != a.sha {
				t.Fatalf("%d bytes sha256 %s; constants say %d bytes sha256 %s", len(b), sum(b), a.size, a.sha)
			}
			m, err := manifest.Embedded.Asset(a.name)
			if err != nil {
				t.Fatal(err)
			}
			if m.Raw.Size != a.size || m.Raw.SHA256 != a.sha {
				t.Fatalf("constants disagree with manifest.Embedded (%d %s)", m.Raw.Size, m.Raw.SHA256)
			}
			if mode, _ := m.FileMode(); os.FileMode(mode) != a.mode {
				t.Fatalf("manifest mode %s, extraction uses %v", m.Mode, a.mode)
			}
			// No copy: a second call hands out the same backing array.
			if again := a.bytes(); &again[0] != &b[0] {
				t.Fatal("second call returned a different slice (a copy or a second decode)")
			}
		})
	}
}

// TestBytesFormats checks the assets are what they claim: an arm64 Linux
// Image and two static aarch64 ELF executables.
func TestBytesFormats(t *testing.T) {
	for _, a := range allAssets {
		if _, err := rawBytes(a); err != nil {
			t.Fatal(err)
		}
	}
	k := KernelBytes()
	if len(k) < 64 || string(k[0x38:0x3c]) != "ARMd" {
		t.Errorf("kernel lacks the arm64 Image magic ARMd at 0x38")
	}
	for name, b := range map[string][]byte{manifest.InitOCI: InitOCIBytes(), manifest.SupermachineAgent: SupermachineAgentBytes()} {
		if len(b) < 64 || string(b[:4]) != "\x7fELF" || b[4] != 2 || b[5] != 1 {
			t.Errorf("%s is not a 64-bit little-endian ELF", name)
			continue
		}
		if typ, mach := binary.LittleEndian.Uint16(b[16:]), binary.LittleEndian.Uint16(b[18:]); typ != 2 || mach != 183 {
			t.Errorf("%s: ELF type %d machine %d, want ET_EXEC (2) for EM_AARCH64 (183)", name, typ, mach)
		}
	}
}

func checkFile(t *testing.T, path string, a apiAsset) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != a.mode {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), a.mode)
	}
	if err := assetpaths.VerifyFile(path, strings.Fields(a.name)[0]); err != nil {
		t.Error(err)
	}
	if tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(tmps) > 0 {
		t.Errorf("temporary files left behind: %v", tmps)
	}
}

func TestExtract(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(t *testing.T, dir string) string // returns dest
		parents bool
		wantErr func(error) bool // nil: success
	}{
		{"fresh file", func(t *testing.T, dir string) string { return filepath.Join(dir, "out") }, false, nil},
		{"overwrites a larger read-only file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "out")
			os.WriteFile(p, bytes.Repeat([]byte("x"), KernelLen+10), 0o400)
			return p
		}, false, nil},
		{"overwrites through WithParents too", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "out")
			os.WriteFile(p, []byte("old"), 0o600)
			return p
		}, true, nil},
		{"plain form needs the parent", func(t *testing.T, dir string) string { return filepath.Join(dir, "a", "b", "out") }, false,
			func(err error) bool { return errors.Is(err, fs.ErrNotExist) }},
		{"WithParents creates the parents", func(t *testing.T, dir string) string { return filepath.Join(dir, "a", "b", "out") }, true, nil},
		{"destination is a directory", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "out")
			os.Mkdir(p, 0o755)
			return p
		}, false, func(err error) bool { return err != nil && strings.Contains(err.Error(), "directory") }},
		{"parent is a file", func(t *testing.T, dir string) string {
			os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
			return filepath.Join(dir, "f", "out")
		}, true, func(err error) bool { return err != nil && strings.Contains(err.Error(), "not a directory") }},
	}
	for _, a := range apiAssets() {
		for _, c := range cases {
			t.Run(a.name+"/"+c.name, func(t *testing.T) {
				dir := t.TempDir()
				dest := c.setup(t, dir)
				fn := a.to
				if c.parents {
					fn = a.parents
				}
				err := fn(dest)
				if c.wantErr != nil {
					if !c.wantErr(err) {
						t.Fatalf("got error %v", err)
					}
					if !strings.Contains(err.Error(), dest) && !strings.Contains(err.Error(), filepath.Dir(dest)) {
						t.Errorf("error does not name the destination: %v", err)
					}
					if fi, serr := os.Stat(dest); serr == nil && fi.Mode().IsRegular() {
						t.Errorf("a file was left at %s", dest)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				checkFile(t, dest, a)
				for d := filepath.Dir(dest); c.parents && d != dir; d = filepath.Dir(d) {
					if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o755 {
						t.Errorf("created parent %s: %v, %v; want mode 0755", d, fi.Mode().Perm(), err)
					}
				}
			})
		}
	}
}

func TestConcurrentExtractGoroutines(t *testing.T) {
	dir := t.TempDir()
	for _, a := range apiAssets()[:3] {
		dest := filepath.Join(dir, a.name)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- a.parents(dest)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		checkFile(t, dest, a)
	}
}

func runChildren(t *testing.T, n int, dir, umask string, loops int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmds := make([]*exec.Cmd, n)
	outs := make([]bytes.Buffer, n)
	for i := range cmds {
		c := exec.Command(self, "-test.run=^$")
		c.Env = append(os.Environ(), childEnv+"=extract", childDir+"="+dir, childUmask+"="+umask, childLoops+"="+strconv.Itoa(loops))
		c.Stdout, c.Stderr = &outs[i], &outs[i]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = c
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("child %d: %v: %s", i, err, outs[i].String())
		}
	}
}

func TestConcurrentExtractProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared", "assets")
	runChildren(t, 3, dir, "", 2)
	for _, a := range apiAssets()[:3] {
		checkFile(t, filepath.Join(dir, a.name), a)
	}
}

func TestDecodeXZRejectsBadPayloads(t *testing.T) {
	raw := bytes.Repeat([]byte("supermachine guest payload 0123456789\n"), 4000)
	good := xzOf(t, raw)
	a := &asset{name: "test", size: int64(len(raw)), sha256: sum(raw), mode: 0o644}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0x55
	otherRaw := append([]byte(nil), raw...)
	otherRaw[100] = '!'
	cases := []struct {
		name  string
		input []byte
		kinds []unpack.Kind // nil: success; else any of these
	}{
		{"valid", good, nil},
		{"truncated", good[:len(good)/2], []unpack.Kind{unpack.Truncated}},
		{"header only", good[:12], []unpack.Kind{unpack.Truncated}},
		{"empty", nil, []unpack.Kind{unpack.Truncated, unpack.Corrupt}},
		{"bit flip", flipped, []unpack.Kind{unpack.Corrupt}},
		{"trailing garbage", append(append([]byte(nil), good...), "garbage!"...), []unpack.Kind{unpack.Corrupt}},
		{"not xz", raw, []unpack.Kind{unpack.Corrupt}},
		{"oversized output", xzOf(t, append(append([]byte(nil), raw...), 'x')), []unpack.Kind{unpack.TooLarge, unpack.SizeMismatch}},
		{"short output", xzOf(t, raw[:len(raw)-1]), []unpack.Kind{unpack.SizeMismatch}},
		{"same size, other bytes", xzOf(t, otherRaw), []unpack.Kind{unpack.ChecksumMismatch}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeXZ(a, bytes.NewReader(c.input), int64(len(c.input)), "assets/test.xz")
			if c.kinds == nil {
				if err != nil || !bytes.Equal(got, raw) {
					t.Fatalf("err %v, equal %v", err, bytes.Equal(got, raw))
				}
				return
			}
			if got != nil {
				t.Error("bytes returned along with an error")
			}
			ok := false
			for _, k := range c.kinds {
				ok = ok || unpack.KindOf(err) == k
			}
			if !ok || !strings.Contains(fmt.Sprint(err), "assets/test.xz") {
				t.Fatalf("got %v (kind %v), want one of %v naming assets/test.xz", err, unpack.KindOf(err), c.kinds)
			}
		})
	}
}

func xzOf(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBytesFromDecoded(t *testing.T) {
	a := &asset{name: "init-oci", size: 4}
	if b, err := bytesFromDecoded(a, []byte("1234")); err != nil || string(b) != "1234" {
		t.Fatalf("got %q, %v", b, err)
	}
	for _, in := range []string{"123", "12345", ""} {
		_, err := bytesFromDecoded(a, []byte(in))
		if unpack.KindOf(err) != unpack.SizeMismatch || !strings.Contains(err.Error(), "bazel_payload/init-oci") {
			t.Errorf("%q: got %v, want a size mismatch naming bazel_payload/init-oci", in, err)
		}
	}
}

// useTempCache points os.UserCacheDir at a fresh directory.
func useTempCache(t *testing.T) string {
	base := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", base)
	t.Setenv("HOME", base) // darwin: $HOME/Library/Caches
	return base
}

func TestCacheDir(t *testing.T) {
	base := useTempCache(t)
	dir, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dir, base) || filepath.Base(filepath.Dir(dir)) != "supermachine-kernel" {
		t.Fatalf("CacheDir %s is not under %s/supermachine-kernel", dir, base)
	}
	key := filepath.Base(dir)
	if !strings.HasPrefix(key, Version+"-") || len(key) != len(Version)+13 {
		t.Fatalf("cache key %q is not VERSION-<12 hex>", key)
	}
	if _, err := hex.DecodeString(key[len(Version)+1:]); err != nil {
		t.Fatalf("cache key %q: %v", key, err)
	}
	if again, _ := CacheDir(); again != dir {
		t.Fatalf("CacheDir not stable: %s then %s", dir, again)
	}
}

func TestExtractToCache(t *testing.T) {
	useTempCache(t)
	p, err := ExtractToCache()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(); err != nil {
		t.Fatal(err)
	}
	for _, a := range apiAssets()[:3] {
		file, _ := p.Path(a.name)
		checkFile(t, file, a)
	}
	inode := func(path string) uint64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return inodeOf(fi)
	}
	before := map[string]uint64{}
	for _, n := range assetpaths.Names() {
		f, _ := p.Path(n)
		before[n] = inode(f)
	}
	// Damage two files: same size wrong bytes, and truncated. Leave one intact.
	k := bytes.Clone(KernelBytes())
	k[1000] ^= 1
	os.WriteFile(p.Kernel, k, 0o644)
	os.Truncate(p.InitOCI, 10)
	before[manifest.Kernel] = inode(p.Kernel)
	p2, err := ExtractToCache()
	if err != nil || p2 != p {
		t.Fatalf("second ExtractToCache: %+v, %v; want %+v", p2, err, p)
	}
	if err := p.Verify(); err != nil {
		t.Fatalf("damaged files not repaired: %v", err)
	}
	if inode(p.SupermachineAgent) != before[manifest.SupermachineAgent] {
		t.Error("an intact cached file was rewritten")
	}
	if inode(p.Kernel) == before[manifest.Kernel] && before[manifest.Kernel] != 0 {
		t.Error("a damaged cached file was not replaced")
	}
}

// TestExtractToCacheProcesses starts several processes that fill the same
// empty cache at once: all must succeed, agree on the directory, and leave
// intact files and no temporary ones.
func TestExtractToCacheProcesses(t *testing.T) {
	base := useTempCache(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	cmds := make([]*exec.Cmd, n)
	outs := make([]bytes.Buffer, n)
	errs := make([]bytes.Buffer, n)
	for i := range cmds {
		c := exec.Command(self, "-test.run=^$")
		c.Env = append(os.Environ(), childEnv+"=cache", "XDG_CACHE_HOME="+base, "HOME="+base)
		c.Stdout, c.Stderr = &outs[i], &errs[i]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = c
	}
	want, _ := CacheDir()
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("process %d: %v: %s", i, err, errs[i].String())
		}
		if got := strings.TrimSpace(outs[i].String()); got != want {
			t.Errorf("process %d used %s, want %s", i, got, want)
		}
	}
	for _, a := range apiAssets()[:3] {
		checkFile(t, filepath.Join(want, a.name), a)
	}
}

func TestPaths(t *testing.T) {
	useTempCache(t)
	t.Run("env wins", func(t *testing.T) {
		dir := t.TempDir()
		for _, a := range apiAssets()[:3] {
			if err := a.to(filepath.Join(dir, a.name)); err != nil {
				t.Fatal(err)
			}
		}
		t.Setenv(assetpaths.EnvDir, dir)
		p, err := Paths()
		if err != nil || p.Dir != dir {
			t.Fatalf("got %+v, %v; want Dir %s", p, err, dir)
		}
	})
	t.Run("broken env is an error", func(t *testing.T) {
		t.Setenv(assetpaths.EnvDir, t.TempDir())
		if _, err := Paths(); err == nil || errors.Is(err, assetpaths.ErrNotFound) {
			t.Fatalf("got %v, want a missing-file error", err)
		}
	})
	t.Run("falls back to the cache", func(t *testing.T) {
		t.Setenv(assetpaths.EnvDir, "")
		// Under Bazel the runfiles hold the assets; point the runfiles
		// library at an empty tree so the fallback is exercised there too.
		t.Setenv("RUNFILES_MANIFEST_FILE", "")
		t.Setenv("RUNFILES_DIR", t.TempDir())
		if _, err := assetpaths.Find(); !errors.Is(err, assetpaths.ErrNotFound) {
			t.Skipf("assets found without the cache (runfiles?): %v", err)
		}
		p, err := Paths()
		if err != nil {
			t.Fatal(err)
		}
		cache, _ := CacheDir()
		if p.Dir != cache {
			t.Fatalf("Paths().Dir = %s, want the cache %s", p.Dir, cache)
		}
		if err := p.Verify(); err != nil {
			t.Fatal(err)
		}
	})
	if EmbedKind() == "" {
		t.Error("EmbedKind is empty")
	}
}
