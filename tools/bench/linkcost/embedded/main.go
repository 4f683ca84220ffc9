// Command embedded links the kernel package, so the three assets are inside
// the binary. tools/bench/bazel-costs.sh compares its size and link time with
// those of ../runfiles, which carries the same files in its runfiles instead.
package main

import (
	"crypto/sha256"
	"fmt"

	"github.com/supermachine/supermachine_kernel/kernel"
)

func main() {
	fmt.Printf("%x\n", sha256.Sum256(kernel.KernelBytes()))
}
