//go:build linux

// Command probe is the entrypoint of the boot tests' image and the tool the
// tests run in the guest through the agent. It is built as a static
// linux/arm64 program and is the only program in the image, so it carries
// every behaviour the tests need as a subcommand:
//
//	probe main [ARGS...]             print the greeting and a report.Report line; exit $PROBE_EXIT
//	probe serve                      print report.AgentReady, then wait for "probe stop" and exit with
//	                                 its code
//	probe stop CODE                  make "probe serve" exit with CODE
//	probe say OUT ERR CODE           write OUT to stdout, ERR to stderr, exit CODE
//	probe where                      print the working directory and $PROBE_VAR, exit 0
//	probe rendezvous DIR ME PEER CODE
//	                                 create DIR/ME, wait for DIR/PEER (so two copies prove they run at
//	                                 the same time), print ME to stdout and stderr, exit CODE
//	probe bulk N SEED                write report.Pattern(N, SEED) to stdout
//	probe cat                        copy stdin to stdout
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/supermachine/supermachine_kernel/e2e/boot/internal/report"
)

func main() {
	if len(os.Args) < 2 {
		fail(2, "usage: probe main|serve|stop|say|where|rendezvous|bulk|cat ...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "main":
		runMain()
	case "serve":
		serve()
	case "stop":
		need(args, 1)
		code := atoi(args[0])
		if err := writeAtomic(report.StopFile, []byte(strconv.Itoa(code))); err != nil {
			fail(1, "stop: %v", err)
		}
	case "say":
		need(args, 3)
		os.Stdout.WriteString(args[0])
		os.Stderr.WriteString(args[1])
		os.Exit(atoi(args[2]))
	case "where":
		wd, err := os.Getwd()
		if err != nil {
			fail(1, "getwd: %v", err)
		}
		fmt.Printf("cwd=%s PROBE_VAR=%s\n", wd, os.Getenv("PROBE_VAR"))
	case "rendezvous":
		need(args, 4)
		rendezvous(args[0], args[1], args[2], atoi(args[3]))
	case "cat":
		need(args, 0)
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fail(1, "cat: %v", err)
		}
	case "bulk":
		need(args, 2)
		p := report.Pattern(atoi(args[0]), uint32(atoi(args[1])))
		if _, err := os.Stdout.Write(p); err != nil {
			fail(1, "bulk: %v", err)
		}
	default:
		fail(2, "probe: unknown subcommand %q", os.Args[1])
	}
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "probe: "+format+"\n", args...)
	os.Exit(code)
}

func need(args []string, n int) {
	if len(args) != n {
		fail(2, "%s: want %d arguments, got %d", os.Args[1], n, len(args))
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fail(2, "%s: %q is not a number", os.Args[1], s)
	}
	return n
}

func envOr(k, def string) string {
	if v, ok := os.LookupEnv(k); ok {
		return v
	}
	return def
}

func writeAtomic(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func statfs(path string) report.Statfs {
	var s syscall.Statfs_t
	if err := syscall.Statfs(path, &s); err != nil {
		return report.Statfs{Err: err.Error()}
	}
	return report.Statfs{Type: s.Type, Bsize: s.Bsize, Blocks: s.Blocks, Bfree: s.Bfree}
}

// runMain gathers the report. Each step records its own error, so one
// failing check does not hide the others from the host.
func runMain() {
	fmt.Println(report.Greeting)
	r := &report.Report{Argv: os.Args, Env: os.Environ(), UID: os.Getuid(), PID: os.Getpid()}
	r.Cwd, _ = os.Getwd()
	r.RootMount = rootMount()

	// Overlay: writes must succeed on a root whose disk is read-only, and
	// be charged to the upper tmpfs: an overlay's statfs is its upper
	// layer's, so its free blocks must drop by what was written.
	r.WrotePath, r.WriteSize = "/probe-wrote.bin", 4<<20
	r.TmpStatfs = statfs("/tmp")
	r.RootBefore = statfs("/")
	err := os.WriteFile(r.WrotePath, report.Pattern(int(r.WriteSize), 7), 0o644)
	if err == nil {
		err = syncFile(r.WrotePath)
	}
	r.WriteErr = errString(err)
	r.RootAfter = statfs("/")
	r.ImageFile, r.ImageFileNew = "/etc/greeting.txt", "changed by the probe\n"
	if err := os.WriteFile(r.ImageFile, []byte(r.ImageFileNew), 0o644); err != nil {
		r.WriteErr += "; " + r.ImageFile + ": " + err.Error()
	}
	b, _ := os.ReadFile(r.ImageFile)
	r.ImageFileMerged = string(b)

	// The image layer itself, seen through a second read-only mount of the
	// root disk: the writes above must not be there.
	r.LowerDevice, r.LowerMount = envOr("PROBE_DISK", "/dev/vda"), "/tmp/lower"
	rootfs := envOr("PROBE_IMAGE_ROOTFS", "/image/rootfs")
	if err := os.MkdirAll(r.LowerMount, 0o755); err != nil {
		r.LowerErr = err.Error()
	} else if err := syscall.Mount(r.LowerDevice, r.LowerMount, "ext4", syscall.MS_RDONLY, ""); err != nil {
		r.LowerErr = fmt.Sprintf("mount %s: %v", r.LowerDevice, err)
	} else {
		b, err := os.ReadFile(filepath.Join(r.LowerMount, rootfs, r.ImageFile))
		r.LowerImageFile = string(b)
		if err != nil {
			r.LowerErr = err.Error()
		}
		_, err = os.Lstat(filepath.Join(r.LowerMount, rootfs, r.WrotePath))
		r.LowerHasWrote = err == nil
		_ = syscall.Unmount(r.LowerMount, 0)
	}

	r.Protocols, err = protocols()
	r.ProtocolsErr = errString(err)

	r.ExitCode = 0
	if v := os.Getenv("PROBE_EXIT"); v != "" {
		r.ExitCode = atoi(v)
	}
	line, err := r.Line()
	if err != nil {
		fail(1, "report: %v", err)
	}
	os.Stdout.Write(line)
	os.Exit(r.ExitCode)
}

func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func rootMount() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "error: " + err.Error()
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	last := ""
	for sc.Scan() {
		// Fields: id parent major:minor root mountpoint options ... - fstype source superoptions
		if fs := strings.Fields(sc.Text()); len(fs) > 4 && fs[4] == "/" {
			last = sc.Text() // the last one is the one on top
		}
	}
	return last
}

func protocols() ([]string, error) {
	b, err := os.ReadFile("/proc/net/protocols")
	if err != nil {
		return nil, err
	}
	var names []string
	for i, line := range strings.Split(string(b), "\n") {
		if fs := strings.Fields(line); i > 0 && len(fs) > 0 {
			names = append(names, fs[0])
		}
	}
	return names, nil
}

// serve reports the guest's virtio serial ports (the host needs the
// agent's to be there), prints report.AgentReady and waits for "probe
// stop". init-oci starts the agent before the entrypoint, and QEMU holds
// the host's bytes back until the agent opens its port, so the host may
// talk to the agent from here on.
func serve() {
	ports, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
	for _, p := range ports {
		name, _ := os.ReadFile(p)
		fmt.Printf("probe: virtio port /dev/%s is %q\n", filepath.Base(filepath.Dir(p)), strings.TrimSpace(string(name)))
	}
	fmt.Println(report.AgentReady)
	// Bounded, so a VM whose host went away still powers off.
	deadline := time.Now().Add(120 * time.Second)
	for {
		b, err := os.ReadFile(report.StopFile)
		if err == nil {
			os.Exit(atoi(strings.TrimSpace(string(b))))
		}
		if !errors.Is(err, os.ErrNotExist) {
			fail(1, "serve: %v", err)
		}
		if time.Now().After(deadline) {
			fail(124, "serve: nobody ran \"probe stop\" in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func rendezvous(dir, me, peer string, code int) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(1, "rendezvous: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, me), nil, 0o644); err != nil {
		fail(1, "rendezvous: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, peer)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fail(125, "rendezvous: %s never appeared: %s and %s did not run at the same time", peer, me, peer)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("%s-out\n", me)
	fmt.Fprintf(os.Stderr, "%s-err\n", me)
	os.Exit(code)
}
