package boot_test

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supermachine/supermachine_kernel/e2e/boot/internal/vm"
	"github.com/supermachine/supermachine_kernel/guest/initstatus"
)

// bootTimeout bounds each boot. A quiet boot takes ~2 s; a loaded 2-core
// machine ~10 s. Boots run in parallel, so the suite stays under a minute
// even when one hangs.
const bootTimeout = 40 * time.Second

// suite is what TestMain prepares once for every boot.
var suite struct {
	skip   string // why the boot tests cannot run here
	err    error  // setup failed: every test fails with it
	tools  vm.Tools
	assets vm.Assets
	probe  string
	dir    string
}

// extractAssets gets the three payloads; it is a variable only so the
// setup reads as one list of steps.
var extractAssets = vm.ExtractAssets

func TestMain(m *testing.M) {
	flag.Parse() // for testing.Verbose in setup
	code := func() int {
		tools, err := vm.FindTools()
		if err != nil {
			suite.skip = err.Error()
			return m.Run()
		}
		suite.tools = tools
		suite.dir, err = os.MkdirTemp("", "smboot-")
		if err != nil {
			suite.err = err
			return m.Run()
		}
		defer os.RemoveAll(suite.dir)
		suite.err = setup()
		return m.Run()
	}()
	os.Exit(code)
}

func setup() error {
	// Extracting the kernel and cross-compiling the probe (tens of seconds
	// with a cold build cache) use different cores: overlap them.
	start := time.Now()
	suite.probe = filepath.Join(suite.dir, "probe")
	probeDone := make(chan error, 1)
	var probeTime time.Duration
	go func() {
		err := vm.BuildProbe(suite.probe)
		probeTime = time.Since(start)
		probeDone <- err
	}()
	a, err := extractAssets(filepath.Join(suite.dir, "assets"))
	extracted := time.Since(start)
	if perr := <-probeDone; perr != nil {
		return perr
	}
	if err != nil {
		return fmt.Errorf("extracting the packaged assets: %w", err)
	}
	suite.assets = a
	if testing.Verbose() {
		fmt.Printf("setup: assets extracted in %v, probe built in %v (in parallel)\n",
			extracted.Round(time.Millisecond), probeTime.Round(time.Millisecond))
	}
	return nil
}

// needSuite skips the test when QEMU or mkfs.ext4 is missing (and only
// then), and fails it when the shared setup failed.
func needSuite(t *testing.T) {
	t.Helper()
	if suite.skip != "" {
		t.Skipf("boot tests need QEMU and e2fsprogs: %s", suite.skip)
	}
	if suite.err != nil {
		t.Fatal(suite.err)
	}
}

// boot is one prepared VM.
type boot struct {
	t       *testing.T
	dir     string
	disk    string
	diskSum string
	cfg     vm.Config
	m       *vm.Machine
	res     *vm.Result
}

// newBoot builds the image's disk in a fresh directory and checksums it.
func newBoot(t *testing.T, img vm.Image, appendArgs ...string) *boot {
	t.Helper()
	needSuite(t)
	dir, err := os.MkdirTemp(suite.dir, strings.ReplaceAll(t.Name(), "/", "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	disk, err := vm.BuildDisk(suite.tools.Mkfs, dir, suite.assets, img)
	if err != nil {
		t.Fatal(err)
	}
	b := &boot{t: t, dir: dir, disk: disk, diskSum: sha256File(t, disk)}
	b.cfg = vm.Config{
		Tools: suite.tools, Kernel: suite.assets.Kernel, Disk: disk,
		Append: appendArgs, Console: filepath.Join(dir, "console.log"), Timeout: bootTimeout,
	}
	return b
}

func (b *boot) start() {
	b.t.Helper()
	m, err := vm.Start(b.cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	b.m = m
	b.t.Cleanup(m.Kill)
}

// wait waits for QEMU to exit and records the result.
func (b *boot) wait() vm.Result {
	r := b.m.Wait()
	b.res = &r
	b.t.Logf("boot took %v (QEMU pid %d)", r.Elapsed.Round(time.Millisecond), b.m.PID())
	return r
}

// fatalf fails the test with the guest console attached, so the failure
// explains itself.
func (b *boot) fatalf(format string, args ...any) {
	b.t.Helper()
	b.t.Fatalf("%s\n%s", fmt.Sprintf(format, args...), b.describe())
}

func (b *boot) errorf(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Errorf("%s\n%s", fmt.Sprintf(format, args...), b.describe())
}

func (b *boot) describe() string {
	if b.res != nil {
		return b.res.Describe()
	}
	if b.m == nil {
		return "(the VM was not started)"
	}
	// Still running: what the console shows so far.
	return (vm.Result{Console: b.m.Console(), Stderr: b.m.Stderr()}).Describe()
}

// checkEnd checks that the guest powered off by itself, printed the status
// line want, and left the disk image unchanged.
func (b *boot) checkEnd(t *testing.T, want initstatus.Status) {
	t.Helper()
	r := *b.res
	if r.TimedOut || r.Err != nil {
		b.errorf(t, "the VM did not power off by itself")
	}
	if st, ok := initstatus.Find(r.Console); !ok {
		b.errorf(t, "no init-oci status line on the console")
	} else if st != want {
		b.errorf(t, "init-oci status line: got %q, want %q", st, want)
	}
	if got := sha256File(t, b.disk); got != b.diskSum {
		b.errorf(t, "the root disk %s changed during the boot (sha256 %s, was %s): the image layer must stay read-only", b.disk, got, b.diskSum)
	}
}

func sha256File(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// probeFile is the probe as a file of the image.
func probeFile() vm.File { return vm.File{Source: suite.probe, Mode: 0o755} }
