// Command demo boots the module's packaged kernel under QEMU with the
// packaged init-oci as PID 1 on a tiny image whose entrypoint greets, and
// prints the greeting and init-oci's status line:
//
//	cd e2e/boot && go run ./cmd/demo [-console]
//
// It needs qemu-system-aarch64 and mkfs.ext4 (Debian: qemu-system-arm,
// e2fsprogs) and no privileges.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/supermachine/supermachine_kernel/e2e/boot/internal/report"
	"github.com/supermachine/supermachine_kernel/e2e/boot/internal/vm"
	"github.com/supermachine/supermachine_kernel/guest/initstatus"
	"github.com/supermachine/supermachine_kernel/kernel"
)

func main() {
	console := flag.Bool("console", false, "print the whole guest console")
	timeout := flag.Duration("timeout", 60*time.Second, "kill the VM after this long")
	flag.Parse()
	if err := run(*console, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(showConsole bool, timeout time.Duration) error {
	tools, err := vm.FindTools()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "smdemo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	fmt.Printf("extracting the packaged kernel (module %s, sha256 %.12s...), init-oci and supermachine-agent\n", kernel.Version, kernel.KernelSHA256)
	a, err := vm.ExtractAssets(filepath.Join(dir, "assets"))
	if err != nil {
		return err
	}
	probe := filepath.Join(dir, "probe")
	if err := vm.BuildProbe(probe); err != nil {
		return err
	}
	disk, err := vm.BuildDisk(tools.Mkfs, dir, a, vm.Image{
		Config: vm.ImageConfig{Entrypoint: []string{"/bin/probe", "main"}, WorkingDir: "/"},
		Files: map[string]vm.File{
			"/bin/probe":        {Source: probe, Mode: 0o755},
			"/etc/greeting.txt": {Data: []byte("greeting from the image layer\n")},
		},
	})
	if err != nil {
		return err
	}
	fmt.Println("booting it under qemu-system-aarch64 (software emulation), init-oci as PID 1")
	m, err := vm.Start(vm.Config{
		Tools: tools, Kernel: a.Kernel, Disk: disk, Append: []string{"SM_AGENT=off"},
		Console: filepath.Join(dir, "console.log"), Timeout: timeout,
	})
	if err != nil {
		return err
	}
	defer m.Kill()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		m.Kill()
	}()
	r := m.Wait()
	if showConsole {
		fmt.Printf("--- guest console ---\n%s--- end of guest console ---\n", r.Console)
	}
	if !vm.HasLine(r.Console, report.Greeting) {
		return fmt.Errorf("the entrypoint's greeting is not on the console:\n%s", r.Describe())
	}
	st, ok := initstatus.Find(r.Console)
	if !ok || r.Err != nil || r.TimedOut {
		return fmt.Errorf("the VM did not end with init-oci's status line:\n%s", r.Describe())
	}
	fmt.Printf("guest: %s\nguest: %s\n", report.Greeting, st)
	fmt.Printf("the VM powered off by itself after %.1f s\n", r.Elapsed.Seconds())
	if st != initstatus.Exited(0) {
		return fmt.Errorf("the entrypoint failed: %s", st)
	}
	return nil
}
