//go:build !linux

// Command init-oci is PID 1 of a supermachine microVM; it only runs on
// Linux (see docs/guest.md).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "init-oci: error: only runs on linux, as PID 1 of a microVM")
	os.Exit(2)
}
