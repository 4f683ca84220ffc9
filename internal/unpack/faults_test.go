package unpack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Faults at the destination: no space, a read-only directory, a symlink in
// the destination's place, a process killed in the middle. In every case
// the error is an *Error of Kind IO naming the input, a good file already
// at the destination stays byte for byte as it was, and nothing new is
// left under the final name. (A destination that is a directory, and a
// missing parent, are TestDestinationProblems in unpack_test.go.)

const faultChildEnv = "UNPACK_FAULT_CHILD"

// failingWriter accepts limit bytes, then fails every write with err.
type failingWriter struct {
	limit, n int64
	err      error
	after    int // writes attempted after the first failure
	failed   bool
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.failed {
		w.after++
	}
	if w.n+int64(len(p)) > w.limit {
		k := w.limit - w.n
		w.n = w.limit
		w.failed = true
		return int(k), w.err
	}
	w.n += int64(len(p))
	return len(p), nil
}

// TestDecodeWriterFails: a writer that runs out of space part-way gets no
// further writes, and the error says what failed and wraps the cause.
func TestDecodeWriterFails(t *testing.T) {
	raw := sample(900<<10, 21)
	x := compress(t, raw, 64<<10, checkCRC64)
	want := Want{Size: int64(len(raw)), SHA256: sha(raw)}
	for _, limit := range []int64{0, 1, 64 << 10, 500 << 10, int64(len(raw)) - 1} {
		for _, p := range paths {
			t.Run(fmt.Sprintf("after %d bytes/%s", limit, p.name), func(t *testing.T) {
				w := &failingWriter{limit: limit, err: syscall.ENOSPC}
				var err error
				withProcs(p.procs, func() { err = Decode(w, bytes.NewReader(x), int64(len(x)), "in.xz", want) })
				if KindOf(err) != IO || !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("got %v, want an IO error wrapping ENOSPC", err)
				}
				if !strings.HasPrefix(err.Error(), "unpack: in.xz: ") {
					t.Errorf("error does not name the input: %v", err)
				}
				if w.after != 0 {
					t.Errorf("%d writes after the writer failed", w.after)
				}
			})
		}
	}
}

// goodFile writes the "previous good version" a failed run must not touch.
func goodFile(t *testing.T, path string) []byte {
	t.Helper()
	good := []byte("a previous, complete and verified asset\n")
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	return good
}

func assertUntouched(t *testing.T, path string, good []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the good file is gone: %v", err)
	}
	if !bytes.Equal(got, good) {
		t.Fatalf("the good file at %s changed (%d bytes now)", path, len(got))
	}
}

// destFaults runs File and Copy of a 3 MiB payload onto a good file in dir,
// where writing is expected to fail with errno; it checks the error, the
// good file and that nothing else is in dir.
func destFaults(t *testing.T, dir string, errno syscall.Errno) {
	raw := sample(3<<20, 22)
	x := compress(t, raw, 256<<10, checkCRC64)
	dest := filepath.Join(dir, "kernel")
	good, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		var err error
		withProcs(p.procs, func() {
			err = File(dest, bytes.NewReader(x), int64(len(x)), "kernel.xz", Want{Size: int64(len(raw)), SHA256: sha(raw)})
		})
		if KindOf(err) != IO || !errors.Is(err, errno) || !strings.HasPrefix(err.Error(), "unpack: kernel.xz: ") {
			t.Errorf("File/%s: got %v, want an IO error naming kernel.xz and wrapping %v", p.name, err, errno)
		}
		assertUntouched(t, dest, good)
		assertClean(t, dir, "kernel")
	}
	err = Copy(dest, raw, Want{Size: int64(len(raw))})
	if KindOf(err) != IO || !errors.Is(err, errno) || !strings.Contains(err.Error(), dest) {
		t.Errorf("Copy: got %v, want an IO error naming %s and wrapping %v", err, dest, errno)
	}
	assertUntouched(t, dest, good)
	assertClean(t, dir, "kernel")
}

// TestDestinationFilesystemFaults: a full file system (a 1 MiB tmpfs) and a
// read-only one. As root this runs in a child process in its own mount
// namespace, so the mounts are private to it and vanish with it; without
// root a read-only directory (mode 0555) stands in and the full file
// system is skipped.
func TestDestinationFilesystemFaults(t *testing.T) {
	if mode := os.Getenv(faultChildEnv); mode != "" {
		runFSFaultChild(t, mode)
		return
	}
	if os.Geteuid() != 0 {
		t.Run("read-only directory (mode 0555)", func(t *testing.T) {
			dir := t.TempDir()
			goodFile(t, filepath.Join(dir, "kernel"))
			if err := os.Chmod(dir, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o755) })
			destFaults(t, dir, syscall.EACCES)
		})
		t.Skip("not root: cannot mount a small tmpfs for the out-of-space case")
	}
	for _, mode := range []string{"enospc", "erofs"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(self, "-test.run=^TestDestinationFilesystemFaults$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), faultChildEnv+"="+mode, "UNPACK_FAULT_DIR="+dir)
			cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
			out, err := cmd.CombinedOutput()
			if err != nil && bytes.Contains(out, []byte("SKIP-MOUNT:")) {
				t.Skipf("cannot mount here: %s", out)
			}
			if err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Skipf("cannot start a child in a new mount namespace: %v", err)
				}
				t.Fatalf("child (%s): %v\n%s", mode, err, out)
			}
			if !bytes.Contains(out, []byte("--- PASS: TestDestinationFilesystemFaults")) {
				t.Fatalf("child did not run the checks:\n%s", out)
			}
			// The mount was private to the child: the directory here is
			// still the empty one t.TempDir made.
			assertClean(t, dir)
		})
	}
}

// runFSFaultChild runs inside the private mount namespace.
func runFSFaultChild(t *testing.T, mode string) {
	dir := os.Getenv("UNPACK_FAULT_DIR")
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0755"); err != nil {
		fmt.Println("SKIP-MOUNT:", err)
		os.Exit(3)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	good := goodFile(t, filepath.Join(dir, "kernel"))
	switch mode {
	case "enospc":
		destFaults(t, dir, syscall.ENOSPC)
		// A later run with room succeeds over the same good file: the
		// failed runs freed what they had written.
		raw := sample(200<<10, 23)
		x := compress(t, raw, 0, checkCRC64)
		if err := File(filepath.Join(dir, "kernel"), bytes.NewReader(x), int64(len(x)), "kernel.xz", Want{SHA256: sha(raw)}); err != nil {
			t.Fatalf("after the failures, a payload that fits: %v", err)
		}
	case "erofs":
		if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Fatalf("remount read-only: %v", err)
		}
		destFaults(t, dir, syscall.EROFS)
		assertUntouched(t, filepath.Join(dir, "kernel"), good)
	}
}

// TestDestinationSymlink pins down what happens when the destination is a
// symbolic link: the link itself is replaced, atomically, by a regular file
// (it is not followed, so whatever it points at is never written); a link
// to a directory is refused like a directory.
func TestDestinationSymlink(t *testing.T) {
	raw := sample(20000, 24)
	x := compress(t, raw, 0, checkCRC64)
	cases := []struct {
		name   string
		target func(t *testing.T, outside string) string
		fail   bool
	}{
		{"link to a file", func(t *testing.T, outside string) string {
			p := filepath.Join(outside, "victim")
			goodFile(t, p)
			return p
		}, false},
		{"dangling link", func(t *testing.T, outside string) string {
			return filepath.Join(outside, "missing")
		}, false},
		{"link to a directory", func(t *testing.T, outside string) string {
			return outside
		}, true},
	}
	for _, tc := range cases {
		for _, op := range []string{"File", "Copy"} {
			t.Run(tc.name+"/"+op, func(t *testing.T) {
				dir, outside := t.TempDir(), t.TempDir()
				target := tc.target(t, outside)
				before, _ := os.ReadFile(target)
				dest := filepath.Join(dir, "kernel")
				if err := os.Symlink(target, dest); err != nil {
					t.Fatal(err)
				}
				var err error
				if op == "File" {
					err = File(dest, bytes.NewReader(x), int64(len(x)), "kernel.xz", Want{SHA256: sha(raw)})
				} else {
					err = Copy(dest, raw, Want{SHA256: sha(raw)})
				}
				if tc.fail {
					if KindOf(err) != IO || !strings.Contains(err.Error(), "is a directory") {
						t.Fatalf("got %v, want an IO error saying the destination is a directory", err)
					}
					if l, lerr := os.Readlink(dest); lerr != nil || l != target {
						t.Fatalf("the link changed: %q %v", l, lerr)
					}
				} else {
					if err != nil {
						t.Fatal(err)
					}
					fi, err := os.Lstat(dest)
					if err != nil || !fi.Mode().IsRegular() {
						t.Fatalf("destination is not a regular file now: %v %v", fi, err)
					}
					if got, _ := os.ReadFile(dest); !bytes.Equal(got, raw) {
						t.Fatal("destination content differs")
					}
				}
				after, _ := os.ReadFile(target)
				if !bytes.Equal(before, after) {
					t.Fatal("the link's target was written through the link")
				}
				if _, err := os.Stat(filepath.Join(outside, "missing")); err == nil {
					t.Fatal("a dangling link's target was created")
				}
				assertClean(t, dir, "kernel")
			})
		}
	}
}

// slowReaderAt delays every read, so a child's extraction is slow enough to
// be killed part-way at a predictable point.
type slowReaderAt struct {
	r     io.ReaderAt
	delay time.Duration
}

func (s slowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(s.delay)
	return s.r.ReadAt(p, off)
}

// TestKilledMidExtraction SIGKILLs a process while it extracts onto a good
// file (after it has written part of its temporary file), then checks:
// the good file is byte for byte unchanged; no partial file appears under
// the final name; the dead process's temporary file remains, under a
// hidden name (".kernel.tmp-*") that is never the final name; and a later
// extraction succeeds next to it without touching it (nothing cleans such
// leftovers: removing another process's file by pattern could delete a live
// extraction's temporary file).
func TestKilledMidExtraction(t *testing.T) {
	if os.Getenv(faultChildEnv) == "extract" {
		raw := sample(4<<20, 25)
		x := compress(t, raw, 64<<10, checkCRC64)
		src := slowReaderAt{bytes.NewReader(x), 5 * time.Millisecond}
		err := File(os.Getenv("UNPACK_FAULT_DEST"), src, int64(len(x)), "kernel.xz", Want{Size: int64(len(raw)), SHA256: sha(raw)})
		fmt.Println("child finished:", err) // reached only if the kill came too late
		return
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			dir := t.TempDir()
			dest := filepath.Join(dir, "kernel")
			good := goodFile(t, dest)
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(self, "-test.run=^TestKilledMidExtraction$", "-test.count=1")
			cmd.Env = append(os.Environ(), faultChildEnv+"=extract", "UNPACK_FAULT_DEST="+dest, fmt.Sprintf("GOMAXPROCS=%d", p.procs))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			tmp := waitForPartial(t, dir, 2*time.Minute)
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed mid-way: %v\n%s", err, out.String())
			}
			assertUntouched(t, dest, good)
			assertClean(t, dir, "kernel", filepath.Base(tmp))
			// A later run succeeds and leaves the orphan as it was.
			raw := sample(100<<10, 26)
			x := compress(t, raw, 0, checkCRC64)
			if err := File(dest, bytes.NewReader(x), int64(len(x)), "kernel.xz", Want{SHA256: sha(raw)}); err != nil {
				t.Fatalf("extraction after the kill: %v", err)
			}
			if got, _ := os.ReadFile(dest); !bytes.Equal(got, raw) {
				t.Fatal("extraction after the kill wrote the wrong bytes")
			}
			assertClean(t, dir, "kernel", filepath.Base(tmp))
		})
	}
}

// waitForPartial polls dir until a temporary file beside "kernel" holds
// some bytes, and returns its path.
func waitForPartial(t *testing.T, dir string, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(dir, ".kernel.tmp-*"))
		for _, p := range m {
			if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
				return p
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no partial temporary file appeared in %s within %v", dir, limit)
	return ""
}
