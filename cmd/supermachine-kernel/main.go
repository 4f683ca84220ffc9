// Command supermachine-kernel writes out, checks and describes the
// supermachine guest assets this module ships: the aarch64 Linux kernel
// (AF_TSI patches), init-oci and supermachine-agent.
//
// Usage:
//
//	supermachine-kernel extract [--only NAME[,NAME...]] [--progress auto|always|never] DIR
//	supermachine-kernel verify  [--only NAME[,NAME...]] DIR
//	supermachine-kernel info    [--json]
//
// extract writes each asset to DIR/NAME (creating DIR), atomically, with
// mode 0644 for the kernel and 0755 for the programs. A progress bar goes to
// stderr when stderr is a terminal (a character device); otherwise extract
// is quiet.
//
// verify checks DIR/NAME against the size and sha256 in the manifest (and
// that the programs are executable). Its exit status has one bit per asset
// that failed:
//
//	1  kernel
//	2  init-oci
//	4  supermachine-agent
//
// so 0 means all good and 7 means all three failed.
//
// info prints the module version, how the assets are embedded in this
// build, and each asset's size, sha256, format and provenance; --json prints
// the same as one JSON object.
//
// Every command exits 64 on a usage error; extract and info exit 1 on
// failure. Errors are one line each on stderr, naming the file and the
// problem.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/supermachine/supermachine_kernel/assetpaths"
	"github.com/supermachine/supermachine_kernel/internal/manifest"
	"github.com/supermachine/supermachine_kernel/kernel"
)

// Exit statuses besides verify's per-asset bits.
const (
	exitFailure = 1
	exitUsage   = 64 // EX_USAGE from sysexits.h
)

const usage = `usage:
  supermachine-kernel extract [--only NAME[,NAME...]] [--progress auto|always|never] DIR
  supermachine-kernel verify  [--only NAME[,NAME...]] DIR
  supermachine-kernel info    [--json]

NAME is kernel, init-oci or supermachine-agent.
verify exits with one bit per failed asset: 1 kernel, 2 init-oci, 4 supermachine-agent.
Usage errors exit 64.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status.
func run(args []string, stdout io.Writer, stderr *os.File) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "extract":
		return cmdExtract(args[1:], stderr)
	case "verify":
		return cmdVerify(args[1:], stdout, stderr)
	case "info":
		return cmdInfo(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "supermachine-kernel: unknown command %q\n%s", args[0], usage)
	return exitUsage
}

// extractors maps each asset to its extraction function, in manifest order.
var extractors = []struct {
	name string
	fn   func(string) error
}{
	{manifest.Kernel, kernel.ExtractKernelToWithParents},
	{manifest.InitOCI, kernel.ExtractInitOCIToWithParents},
	{manifest.SupermachineAgent, kernel.ExtractSupermachineAgentToWithParents},
}

// bit returns verify's exit-status bit for an asset.
func bit(name string) int {
	for i, e := range extractors {
		if e.name == name {
			return 1 << i
		}
	}
	return 0
}

// parse parses flags that may come before or after the single positional
// argument (Go's flag package stops at the first non-flag), returning the
// positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	return fs
}

// selectAssets turns --only into the list of asset names, in manifest order.
func selectAssets(only string) ([]string, error) {
	if only == "" {
		return assetpaths.Names(), nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		n = strings.TrimSpace(n)
		if bit(n) == 0 {
			return nil, fmt.Errorf("--only: unknown asset %q (want %s)", n, strings.Join(assetpaths.Names(), ", "))
		}
		want[n] = true
	}
	var names []string
	for _, n := range assetpaths.Names() {
		if want[n] {
			names = append(names, n)
		}
	}
	return names, nil
}

func usageErr(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "supermachine-kernel %s: %v\n%s", cmd, err, usage)
	return exitUsage
}

func cmdExtract(args []string, stderr *os.File) int {
	fs := newFlagSet("extract", stderr)
	only := fs.String("only", "", "extract only these assets (comma-separated)")
	progressMode := fs.String("progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always or never")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		return usageErr(stderr, "extract", fmt.Errorf("want exactly one DIR, got %d arguments", len(pos)))
	}
	names, err := selectAssets(*only)
	if err != nil {
		return usageErr(stderr, "extract", err)
	}
	var show bool
	switch *progressMode {
	case "auto":
		show = isTerminal(stderr)
	case "always":
		show = true
	case "never":
	default:
		return usageErr(stderr, "extract", fmt.Errorf("--progress %q: want auto, always or never", *progressMode))
	}
	dir := pos[0]
	var total int64
	sizes := map[string]int64{}
	for _, n := range names {
		a, err := manifest.Embedded.Asset(n)
		if err != nil {
			fmt.Fprintf(stderr, "supermachine-kernel extract: this build has no %s: %v\n", n, err)
			return exitFailure
		}
		sizes[n] = a.Raw.Size
		total += a.Raw.Size
	}
	bar := newProgress(stderr, show, total)
	for _, e := range extractors {
		if !slices.Contains(names, e.name) {
			continue
		}
		bar.start(e.name, sizes[e.name])
		err := e.fn(filepath.Join(dir, e.name))
		bar.finish(err == nil)
		if err != nil {
			fmt.Fprintf(stderr, "supermachine-kernel extract: %v\n", err)
			return exitFailure
		}
	}
	bar.done()
	return 0
}

func cmdVerify(args []string, stdout io.Writer, stderr *os.File) int {
	fs := newFlagSet("verify", stderr)
	only := fs.String("only", "", "verify only these assets (comma-separated)")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		return usageErr(stderr, "verify", fmt.Errorf("want exactly one DIR, got %d arguments", len(pos)))
	}
	names, err := selectAssets(*only)
	if err != nil {
		return usageErr(stderr, "verify", err)
	}
	p := assetpaths.InDir(pos[0])
	status := 0
	for _, n := range names {
		file, _ := p.Path(n)
		if err := verifyOne(file, n); err != nil {
			fmt.Fprintf(stderr, "supermachine-kernel verify: %v\n", err)
			status |= bit(n)
			continue
		}
		fmt.Fprintf(stdout, "ok %s %s\n", n, file)
	}
	return status
}

// verifyOne checks size and sha256, and for the programs the exec bit
// (a non-executable init-oci is as useless as a corrupt one). The exact mode
// is not required: Bazel outputs are 0555.
func verifyOne(file, name string) error {
	if err := assetpaths.VerifyFile(file, name); err != nil {
		return err
	}
	a, err := manifest.Embedded.Asset(name)
	if err != nil {
		return err
	}
	want, _ := a.FileMode()
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	if want&0o111 != 0 && fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s: not executable (mode %04o, want %s) (%s)", file, fi.Mode().Perm(), a.Mode, name)
	}
	return nil
}

// infoJSON is what info --json prints.
type infoJSON struct {
	Version  string             `json:"version"`
	Embed    string             `json:"embed"`
	Manifest *manifest.Manifest `json:"manifest"`
}

func cmdInfo(args []string, stdout io.Writer, stderr *os.File) int {
	fs := newFlagSet("info", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 0 {
		return usageErr(stderr, "info", fmt.Errorf("unexpected argument %q", pos[0]))
	}
	m := manifest.Embedded
	if *asJSON {
		b, err := json.MarshalIndent(infoJSON{Version: kernel.Version, Embed: kernel.EmbedKind(), Manifest: m}, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "supermachine-kernel info: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	fmt.Fprintf(stdout, "supermachine-kernel %s\n", kernel.Version)
	fmt.Fprintf(stdout, "assets: %s\n", kernel.EmbedKind())
	for _, a := range m.Assets {
		keys := make([]string, 0, len(a.Provenance))
		w := len("compressed:")
		for k := range a.Provenance {
			keys = append(keys, k)
			w = max(w, len(k)+1)
		}
		sort.Strings(keys)
		line := func(label, format string, args ...any) {
			fmt.Fprintf(stdout, "  %-*s %s\n", w, label+":", fmt.Sprintf(format, args...))
		}
		fmt.Fprintf(stdout, "\n%s (%s, %s, mode %s)\n", a.Name, a.Format, a.Arch, a.Mode)
		line("size", "%d bytes (%s)", a.Raw.Size, mib(a.Raw.Size))
		line("sha256", "%s", a.Raw.SHA256)
		line("payload", "%s, %d bytes (%s), sha256 %s", a.XZFile, a.XZ.Size, mib(a.XZ.Size), a.XZ.SHA256)
		line("compressed", "%s %s %s", a.XZ.Tool, a.XZ.ToolVersion, a.XZ.Settings)
		for _, k := range keys {
			line(k, "%s", a.Provenance[k])
		}
	}
	return 0
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// isTerminal reports whether f is a character device, the portable
// approximation of "a terminal" the standard library allows.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws a one-line bar on w: the share of bytes extracted so far,
// and a spinner while the current asset is being decoded and written
// (extraction reports no finer progress than one asset).
type progress struct {
	w       io.Writer
	enabled bool
	total   int64
	doneB   int64

	mu      sync.Mutex
	name    string
	size    int64
	frame   int
	stop    chan struct{}
	stopped chan struct{}
	began   time.Time
}

func newProgress(w io.Writer, enabled bool, total int64) *progress {
	return &progress{w: w, enabled: enabled, total: total, began: time.Now()}
}

const barWidth = 30

func (p *progress) draw(final bool) {
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.doneB) / float64(p.total)
	}
	n := int(frac * barWidth)
	spin := `|/-\`[p.frame%4]
	status := fmt.Sprintf("%c %s", spin, p.name)
	if final {
		status = fmt.Sprintf("done in %.1fs", time.Since(p.began).Seconds())
	}
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% %s/%s %-28s",
		strings.Repeat("#", n), strings.Repeat(".", barWidth-n), frac*100,
		mibShort(p.doneB), mib(p.total), status)
	if final {
		fmt.Fprint(p.w, "\n")
	}
}

func mibShort(n int64) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) }

// start shows that the named asset (size bytes) is in progress and keeps
// the spinner turning until finish.
func (p *progress) start(name string, size int64) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	p.name, p.size = name, size
	p.draw(false)
	p.mu.Unlock()
	p.stop, p.stopped = make(chan struct{}), make(chan struct{})
	go func(stop, stopped chan struct{}) {
		defer close(stopped)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.frame++
				p.draw(false)
				p.mu.Unlock()
			}
		}
	}(p.stop, p.stopped)
}

// finish stops the spinner and counts the asset's bytes when it succeeded.
func (p *progress) finish(ok bool) {
	if !p.enabled {
		return
	}
	close(p.stop)
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok {
		p.doneB += p.size
		p.draw(false)
		return
	}
	fmt.Fprint(p.w, "\n") // keep the bar; the error goes on its own line
}

// done draws the completed bar and ends the line.
func (p *progress) done() {
	if !p.enabled {
		return
	}
	p.draw(true)
}
