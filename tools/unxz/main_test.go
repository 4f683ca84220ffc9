package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

var unxzBin string

// TestMain builds the real binary once; every test runs it as Bazel would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "unxz-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	unxzBin = filepath.Join(dir, "unxz")
	if out, err := exec.Command("go", "build", "-o", unxzBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func payload(t *testing.T) (raw, x []byte) {
	t.Helper()
	raw = bytes.Repeat([]byte("supermachine kernel payload \x00\x01\x02 "), 20000)
	for i := range raw {
		if i%7 == 0 {
			raw[i] = byte(i / 7)
		}
	}
	var buf bytes.Buffer
	w, err := xz.WriterConfig{BlockSize: 64 << 10}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return raw, buf.Bytes()
}

func hexsum(p []byte) string {
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:])
}

func runUnxz(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(unxzBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stderr.String(), code
}

func TestSuccess(t *testing.T) {
	raw, x := payload(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "in.xz")
	os.WriteFile(src, x, 0o644)
	cases := []struct {
		name string
		args []string
		mode os.FileMode
	}{
		{"verified executable", []string{"--sha256", hexsum(raw), "--size", fmt.Sprint(len(raw)), "--mode", "0755"}, 0o755},
		{"defaults", nil, 0o644},
		{"size only", []string{"--size", fmt.Sprint(len(raw)), "--mode", "600"}, 0o600},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
			stderr, code := runUnxz(t, append([]string{"--src", src, "--out", out}, tc.args...)...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			got, err := os.ReadFile(out)
			if err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("output differs (%v)", err)
			}
			if fi, _ := os.Stat(out); fi.Mode().Perm() != tc.mode {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tc.mode)
			}
		})
	}
}

func TestFailures(t *testing.T) {
	raw, x := payload(t)
	dir := t.TempDir()
	write := func(name string, p []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, p, 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	good := write("good.xz", x)
	corrupt := append([]byte(nil), x...)
	corrupt[len(corrupt)/2] ^= 0xff
	bad := write("corrupt.xz", corrupt)
	trunc := write("trunc.xz", x[:len(x)-100])
	garbage := write("garbage.xz", append(append([]byte(nil), x...), "trailing"...))
	notxz := write("notxz.xz", []byte("plain text"))
	sum := hexsum(raw)
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string // must appear in the one line
	}{
		{"corrupt", []string{"--src", bad, "--sha256", sum}, 1, "corrupt.xz: corrupt xz"},
		{"truncated", []string{"--src", trunc}, 1, "trunc.xz: "},
		{"trailing garbage", []string{"--src", garbage}, 1, "garbage.xz: corrupt xz"},
		{"not xz", []string{"--src", notxz}, 1, "notxz.xz: "},
		{"checksum mismatch", []string{"--src", good, "--sha256", hexsum(nil)}, 1, "good.xz: checksum mismatch: got " + sum},
		{"size mismatch", []string{"--src", good, "--size", fmt.Sprint(len(raw) + 1)}, 1, "good.xz: size mismatch"},
		{"larger than declared", []string{"--src", good, "--size", "100"}, 1, "good.xz: output larger than declared"},
		{"missing src", []string{"--src", filepath.Join(dir, "nope.xz")}, 1, "nope.xz: no such file"},
		{"src is a directory", []string{"--src", dir}, 1, "not a regular file"},
		{"no src", []string{}, 2, "--src is required"},
		{"bad sha", []string{"--src", good, "--sha256", "ABC"}, 2, "--sha256"},
		{"bad mode", []string{"--src", good, "--mode", "0999"}, 2, "--mode"},
		{"negative size", []string{"--src", good, "--size", "-1"}, 2, "--size"},
		{"unknown flag", []string{"--src", good, "--bogus"}, 2, "bogus"},
		{"stray argument", []string{"--src", good, "extra"}, 2, "extra"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			outDir := t.TempDir()
			out := filepath.Join(outDir, "OUT")
			// A stale OUT from an earlier run must not survive a failure.
			os.WriteFile(out, []byte("stale"), 0o644)
			stderr, code := runUnxz(t, append([]string{"--out", out}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "unxz: ") || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q: want one line starting %q containing %q", stderr, "unxz: ", tc.stderr)
			}
			if code == 1 {
				if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
					t.Errorf("left behind: %v", ents)
				}
			}
		})
	}
}

func TestFailureKeepsSrcNamedAsOut(t *testing.T) {
	_, x := payload(t)
	x[len(x)/2] ^= 0xff
	src := filepath.Join(t.TempDir(), "in.xz")
	os.WriteFile(src, x, 0o644)
	if _, code := runUnxz(t, "--src", src, "--out", src); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if got, err := os.ReadFile(src); err != nil || !bytes.Equal(got, x) {
		t.Fatalf("the input was removed or changed (%v)", err)
	}
}

func TestDeterministic(t *testing.T) {
	raw, x := payload(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "in.xz")
	os.WriteFile(src, x, 0o644)
	var outs [][]byte
	for i, env := range [][]string{{"GOMAXPROCS=1"}, {"GOMAXPROCS=2"}, {"GOMAXPROCS=8"}} {
		out := filepath.Join(dir, fmt.Sprint("out", i))
		cmd := exec.Command(unxzBin, "--src", src, "--out", out, "--sha256", hexsum(raw))
		cmd.Env = append(os.Environ(), env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", env, err, b)
		}
		b, _ := os.ReadFile(out)
		outs = append(outs, b)
	}
	for i := range outs {
		if !bytes.Equal(outs[i], raw) {
			t.Errorf("run %d differs", i)
		}
	}
}
