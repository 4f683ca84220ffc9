package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/supermachine/supermachine_kernel/assetpaths"
	"github.com/supermachine/supermachine_kernel/internal/manifest"
	"github.com/supermachine/supermachine_kernel/kernel"
)

// The tests run the program as a separate process: the test binary
// re-executed with cliEnv set runs main() with the given arguments, so exit
// statuses, stdout and stderr are the real ones.
const cliEnv = "SUPERMACHINE_KERNEL_CLI_TEST"

func TestMain(m *testing.M) {
	if os.Getenv(cliEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

type result struct {
	code           int
	stdout, stderr string
}

func cli(t *testing.T, args ...string) result {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), cliEnv+"=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb // a pipe: not a terminal
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// extracted returns a directory holding all three assets, extracted by the
// CLI itself.
func extracted(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "new", "assets")
	if r := cli(t, "extract", dir); r.code != 0 {
		t.Fatalf("extract: exit %d: %s", r.code, r.stderr)
	}
	return dir
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args    []string
		code    int
		wantErr string
	}{
		{nil, exitUsage, "usage:"},
		{[]string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{[]string{"extract"}, exitUsage, "want exactly one DIR"},
		{[]string{"extract", "a", "b"}, exitUsage, "want exactly one DIR"},
		{[]string{"extract", "--only", "vmlinux", "d"}, exitUsage, `unknown asset "vmlinux"`},
		{[]string{"extract", "--progress", "sometimes", "d"}, exitUsage, "want auto, always or never"},
		{[]string{"extract", "--nope", "d"}, exitUsage, "flag provided but not defined"},
		{[]string{"verify"}, exitUsage, "want exactly one DIR"},
		{[]string{"info", "x"}, exitUsage, `unexpected argument "x"`},
		{[]string{"help"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := cli(t, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, tt.code, tt.wantErr)
			}
		})
	}
}

func TestExtract(t *testing.T) {
	modes := map[string]os.FileMode{manifest.Kernel: 0o644, manifest.InitOCI: 0o755, manifest.SupermachineAgent: 0o755}
	tests := []struct {
		name string
		args func(dir string) []string
		want []string
	}{
		{"all", func(d string) []string { return []string{"extract", d} }, assetpaths.Names()},
		{"only kernel", func(d string) []string { return []string{"extract", "--only", "kernel", d} }, []string{"kernel"}},
		{"flag after DIR", func(d string) []string { return []string{"extract", d, "--only=supermachine-agent,init-oci"} },
			[]string{"init-oci", "supermachine-agent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "x", "y")
			rounds := 1
			if tt.name == "all" {
				rounds = 2 // the second round overwrites
			}
			for round := 0; round < rounds; round++ {
				r := cli(t, tt.args(dir)...)
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				if r.stderr != "" || r.stdout != "" {
					t.Fatalf("not quiet without a terminal: stdout %q stderr %q", r.stdout, r.stderr)
				}
			}
			entries, _ := os.ReadDir(dir)
			var got []string
			for _, e := range entries {
				got = append(got, e.Name())
			}
			if !reflect.DeepEqual(got, sortedCopy(tt.want)) {
				t.Fatalf("dir holds %v, want %v", got, tt.want)
			}
			for _, n := range tt.want {
				p := filepath.Join(dir, n)
				if err := assetpaths.VerifyFile(p, n); err != nil {
					t.Error(err)
				}
				if fi, _ := os.Stat(p); fi.Mode().Perm() != modes[n] {
					t.Errorf("%s: mode %v, want %v", n, fi.Mode().Perm(), modes[n])
				}
			}
		})
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

func TestExtractFailure(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644)
	r := cli(t, "extract", blocker)
	if r.code != exitFailure || !strings.Contains(r.stderr, blocker) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q; want exit 1 and one line naming %s", r.code, r.stderr, blocker)
	}
}

func TestProgress(t *testing.T) {
	dir := t.TempDir()
	// The two small assets keep this fast; the bar logic is the same.
	r := cli(t, "extract", "--progress=always", "--only=init-oci,supermachine-agent", dir)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"\r[", "100%", "done in", "supermachine-agent"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("progress output lacks %q: %q", want, r.stderr)
		}
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	tests := []struct {
		f    *os.File
		want bool
	}{{devnull, true}, {pw, false}, {pr, false}}
	for _, tt := range tests {
		if got := isTerminal(tt.f); got != tt.want {
			t.Errorf("isTerminal(%s) = %v, want %v", tt.f.Name(), got, tt.want)
		}
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string)
		args    []string
		code    int
		wantErr []string
	}{
		{"intact", func(*testing.T, string) {}, nil, 0, nil},
		{"kernel truncated", func(t *testing.T, d string) { truncate(t, filepath.Join(d, "kernel"), 1000) }, nil, 1,
			[]string{filepath.Join("kernel") + ": size mismatch"}},
		{"kernel with trailing garbage", func(t *testing.T, d string) { appendTo(t, filepath.Join(d, "kernel"), "garbage") }, nil, 1,
			[]string{"kernel: size mismatch"}},
		{"init-oci one bit flipped", func(t *testing.T, d string) { flip(t, filepath.Join(d, "init-oci")) }, nil, 2,
			[]string{"init-oci: checksum mismatch"}},
		{"init-oci not executable", func(t *testing.T, d string) { os.Chmod(filepath.Join(d, "init-oci"), 0o644) }, nil, 2,
			[]string{"init-oci: not executable"}},
		{"agent missing", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "supermachine-agent")) }, nil, 4,
			[]string{"supermachine-agent: missing"}},
		{"everything wrong", func(t *testing.T, d string) {
			truncate(t, filepath.Join(d, "kernel"), 0)
			flip(t, filepath.Join(d, "init-oci"))
			os.Remove(filepath.Join(d, "supermachine-agent"))
			os.Mkdir(filepath.Join(d, "supermachine-agent"), 0o755)
		}, nil, 7, []string{"kernel: size mismatch", "init-oci: checksum mismatch", "supermachine-agent: not a regular file"}},
		{"--only skips the broken one", func(t *testing.T, d string) { os.Remove(filepath.Join(d, "supermachine-agent")) },
			[]string{"--only", "kernel,init-oci"}, 0, nil},
	}
	base := extracted(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, n := range assetpaths.Names() {
				b, err := os.ReadFile(filepath.Join(base, n))
				if err != nil {
					t.Fatal(err)
				}
				fi, _ := os.Stat(filepath.Join(base, n))
				if err := os.WriteFile(filepath.Join(dir, n), b, fi.Mode().Perm()); err != nil {
					t.Fatal(err)
				}
			}
			tt.damage(t, dir)
			r := cli(t, append(append([]string{"verify"}, tt.args...), dir)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.code, r.stderr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(r.stderr, filepath.Join(dir, w)) {
					t.Errorf("stderr lacks %q: %q", filepath.Join(dir, w), r.stderr)
				}
			}
			if tt.code == 0 && r.stderr != "" {
				t.Errorf("stderr not empty: %q", r.stderr)
			}
			if oks := strings.Count(r.stdout, "ok "); tt.code == 0 && oks == 0 {
				t.Errorf("stdout lists nothing verified: %q", r.stdout)
			}
		})
	}
}

func truncate(t *testing.T, p string, n int64) {
	if err := os.Truncate(p, n); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, p, s string) {
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(s)
	f.Close()
}

func flip(t *testing.T, p string) {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestInfo(t *testing.T) {
	r := cli(t, "info")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := []string{"supermachine-kernel " + kernel.Version, kernel.EmbedKind(), kernel.KernelSHA256, kernel.InitOCISHA256, kernel.SupermachineAgentSHA256}
	for _, a := range manifest.Embedded.Assets {
		want = append(want, a.XZ.SHA256, a.XZ.Settings)
		for k, v := range a.Provenance {
			want = append(want, k+":", v)
		}
	}
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("info lacks %q", w)
		}
	}

	r = cli(t, "info", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got infoJSON
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("info --json: %v\n%s", err, r.stdout)
	}
	if got.Version != kernel.Version || got.Embed != kernel.EmbedKind() || !reflect.DeepEqual(got.Manifest, manifest.Embedded) {
		t.Fatalf("info --json = %+v, want version %s and the embedded manifest", got, kernel.Version)
	}
}
