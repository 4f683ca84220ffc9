// Command execlog summarises a Bazel execution log written with
// --execution_log_json_file, for the scripts in e2e/reliability: one line
// per spawn, tab-separated:
//
//	MNEMONIC  RUNNER  CACHE  ENV  OUTPUT
//
// where CACHE is "remote-hit" when the spawn's outputs came from a remote
// cache (Bazel 7 says so in the runner, "remote cache hit"; later versions
// also set remoteCacheHit) and "-" otherwise, ENV is the comma-separated names of the spawn's
// environment variables ("-" when none) and OUTPUT the path of its first
// output ("-" when none). Usage:
//
//	go run ./e2e/reliability/execlog FILE
//
// A file that is not such a log is an error naming the file and the spawn
// at which parsing failed.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// spawn holds the fields of Bazel's SpawnExec message used here (JSON
// names as the log spells them).
type spawn struct {
	Mnemonic             string `json:"mnemonic"`
	Runner               string `json:"runner"`
	RemoteCacheHit       bool   `json:"remoteCacheHit"`
	EnvironmentVariables []struct {
		Name string `json:"name"`
	} `json:"environmentVariables"`
	ListedOutputs []string `json:"listedOutputs"`
}

// summarise writes one line per spawn in r to w.
func summarise(w io.Writer, r io.Reader, name string) error {
	dec := json.NewDecoder(bufio.NewReader(r))
	n := 0
	for {
		var s spawn
		err := dec.Decode(&s)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: spawn %d: not a JSON execution log: %w", name, n+1, err)
		}
		n++
		if s.Mnemonic == "" {
			return fmt.Errorf("%s: spawn %d has no mnemonic: not an execution log", name, n)
		}
		cache := "-"
		if s.RemoteCacheHit || s.Runner == "remote cache hit" {
			cache = "remote-hit"
		}
		var env []string
		for _, e := range s.EnvironmentVariables {
			env = append(env, e.Name)
		}
		sort.Strings(env)
		out := "-"
		if len(s.ListedOutputs) > 0 {
			out = s.ListedOutputs[0]
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.Mnemonic, dash(s.Runner), cache, dash(strings.Join(env, ",")), out)
	}
	if n == 0 {
		return fmt.Errorf("%s: no spawns in the execution log", name)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: execlog EXECUTION_LOG.json")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "execlog:", err)
		os.Exit(1)
	}
	defer f.Close()
	w := bufio.NewWriter(os.Stdout)
	if err := summarise(w, f, os.Args[1]); err != nil {
		w.Flush()
		fmt.Fprintln(os.Stderr, "execlog:", err)
		os.Exit(1)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "execlog:", err)
		os.Exit(1)
	}
}
