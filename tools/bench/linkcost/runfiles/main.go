// Command runfiles finds the kernel in its Bazel runfiles through package
// assetpaths, which links no asset. See ../embedded.
package main

import (
	"fmt"
	"os"

	"github.com/supermachine/supermachine_kernel/assetpaths"
)

func main() {
	p, err := assetpaths.Find()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(p.Kernel)
}
