package kernel_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/supermachine/supermachine_kernel/kernel"
)

// Stage the guest assets into a directory at build or install time, as the
// upstream crate's build.rs example does.
func ExampleExtractKernelToWithParents() {
	dir, err := os.MkdirTemp("", "bundle-resources")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := kernel.ExtractKernelToWithParents(filepath.Join(dir, "Resources", "kernel")); err != nil {
		log.Fatal(err)
	}
	if err := kernel.ExtractInitOCIToWithParents(filepath.Join(dir, "Resources", "init-oci")); err != nil {
		log.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "Resources", "init-oci"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(fi.Mode().Perm())
	// Output: -rwxr-xr-x
}

// Find the assets at run time: $SUPERMACHINE_ASSETS_DIR, Bazel runfiles or
// the executable's directory, else a per-user cache filled from the
// embedded bytes on first use.
func ExamplePaths() {
	p, err := kernel.Paths()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.Base(p.Kernel), filepath.Base(p.InitOCI), filepath.Base(p.SupermachineAgent))
}
