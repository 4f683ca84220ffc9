// Command findkernel prints where the supermachine kernel, init-oci and
// supermachine-agent files are, as found by package assetpaths from the
// Bazel runfiles, after checking each against its size and sha256.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/supermachine/supermachine_kernel/assetpaths"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "findkernel:", err)
		os.Exit(1)
	}
}

// run finds the three files, verifies them and prints "name<TAB>path" lines.
func run(w io.Writer) error {
	p, err := assetpaths.Find()
	if err != nil {
		return err
	}
	if err := p.Verify(); err != nil {
		return err
	}
	for _, name := range assetpaths.Names() {
		file, err := p.Path(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\t%s\n", name, file)
	}
	return nil
}
