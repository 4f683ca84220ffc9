//go:build !linux

// Command supermachine-agent serves exec requests inside a supermachine
// guest; it only runs on Linux (see docs/guest.md).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "supermachine-agent: only runs on linux, inside a supermachine guest")
	os.Exit(2)
}
