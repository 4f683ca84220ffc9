package vm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/supermachine/supermachine_kernel/kernel"
)

// Assets are the paths of the three files the module ships.
type Assets struct {
	Kernel, InitOCI, Agent string
}

// ExtractAssets writes the kernel, init-oci and supermachine-agent into dir
// through package kernel, the way the module delivers them to Go users (the
// embedded .xz payloads, decoded and verified against the manifest).
func ExtractAssets(dir string) (Assets, error) {
	a := Assets{
		Kernel:  filepath.Join(dir, "kernel"),
		InitOCI: filepath.Join(dir, "init-oci"),
		Agent:   filepath.Join(dir, "supermachine-agent"),
	}
	for _, x := range []struct {
		name    string
		size    int
		extract func(string) error
		dest    string
	}{
		{"kernel", kernel.KernelLen, kernel.ExtractKernelToWithParents, a.Kernel},
		{"init-oci", kernel.InitOCILen, kernel.ExtractInitOCIToWithParents, a.InitOCI},
		{"supermachine-agent", kernel.SupermachineAgentLen, kernel.ExtractSupermachineAgentToWithParents, a.Agent},
	} {
		if x.size == 0 {
			return Assets{}, fmt.Errorf("the module does not ship %s yet (assets/manifest.json has no entry for it)", x.name)
		}
		if err := x.extract(x.dest); err != nil {
			return Assets{}, err
		}
	}
	return a, nil
}

// ProbePackage is the import path of the guest probe program.
const ProbePackage = "github.com/supermachine/supermachine_kernel/e2e/boot/internal/probe"

// BuildProbe builds the guest probe as a static linux/arm64 program at
// dest, with the go command on PATH (or $GOROOT/bin). It must run inside
// the e2e/boot module (a test's directory, or `cd e2e/boot`).
func BuildProbe(dest string) error {
	gobin := "go"
	if r := os.Getenv("GOROOT"); r != "" {
		if p := filepath.Join(r, "bin", "go"); fileExists(p) {
			gobin = p
		}
	}
	tmp := dest + ".tmp"
	cmd := exec.Command(gobin, "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", tmp, ProbePackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("building the guest probe (%s) for linux/arm64: %v\n%s", ProbePackage, err, strings.TrimSpace(out.String()))
	}
	return os.Rename(tmp, dest)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
