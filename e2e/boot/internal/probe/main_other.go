//go:build !linux

// Command probe is the boot tests' guest program; it only runs on Linux.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "probe: runs only in a Linux guest")
	os.Exit(2)
}
