// Command gen rewrites the generated copies of assets/manifest.json
// (internal/manifest/embedded_gen.go, kernel/manifest_gen.go,
// assets/manifest.bzl), or with -check reports which of them drifted.
//
//	go run ./internal/manifest/cmd/gen [-root DIR] [-check]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/supermachine/supermachine_kernel/internal/manifest"
	"github.com/supermachine/supermachine_kernel/internal/manifest/codegen"
)

func main() {
	root := flag.String("root", ".", "repository root (the folder holding assets/manifest.json)")
	check := flag.Bool("check", false, "write nothing; exit 1 naming every generated file that differs")
	flag.Parse()
	if err := run(*root, *check); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(root string, check bool) error {
	src := filepath.Join(root, filepath.FromSlash(manifest.JSONPath))
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	m, err := manifest.Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if !check {
		return codegen.Write(root, m)
	}
	files, err := manifest.Generate(m)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	var drifted []string
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.Path))
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, f.Data) {
			drifted = append(drifted, p)
		}
	}
	if len(drifted) > 0 {
		return fmt.Errorf("out of date with %s: %v; run %s", src, drifted, manifest.RegenerateCommand)
	}
	return nil
}
