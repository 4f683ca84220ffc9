// Command benchhelper holds the Go-side measurements of tools/bench/bench.sh:
//
//	benchhelper ulikunitz IN.xz OUT      decode with ulikunitz's plain sequential
//	                                     reader (through a bufio.Reader), the
//	                                     baseline the module's decoder replaced
//	benchhelper extract N DIR            first KernelBytes() call, then N
//	                                     alternating ExtractKernelTo / plain
//	                                     os.WriteFile of the same bytes
//	benchhelper cache                    time one kernel.ExtractToCache() call
//	                                     (run in fresh processes by the script)
//
// Results are printed as "key value" lines for the script to tabulate.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/supermachine/supermachine_kernel/kernel"
	"github.com/ulikunitz/xz"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchhelper:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: benchhelper ulikunitz IN OUT | extract N DIR | cache")
	}
	switch {
	case args[0] == "ulikunitz" && len(args) == 3:
		return ulikunitz(args[1], args[2])
	case args[0] == "extract" && len(args) == 3:
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 {
			return fmt.Errorf("extract: bad count %q", args[1])
		}
		return extract(n, args[2])
	case args[0] == "cache" && len(args) == 1:
		t := time.Now()
		p, err := kernel.ExtractToCache()
		if err != nil {
			return err
		}
		fmt.Printf("cache_ms %.2f\n", ms(time.Since(t)))
		fmt.Printf("cache_kernel %s\n", p.Kernel)
		return nil
	}
	return fmt.Errorf("unknown command %q", args)
}

func ulikunitz(in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := xz.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(o, 1<<16)
	if _, err := io.Copy(w, r); err != nil {
		o.Close()
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := w.Flush(); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}

func extract(n int, dir string) error {
	t := time.Now()
	data := kernel.KernelBytes()
	fmt.Printf("first_bytes_ms %.2f\n", ms(time.Since(t)))
	fmt.Printf("embed_kind %s\n", kernel.EmbedKind())
	t = time.Now()
	kernel.KernelBytes()
	fmt.Printf("second_bytes_ms %.4f\n", ms(time.Since(t)))
	var ext, plain, syncs []time.Duration
	for i := 0; i < n; i++ {
		t := time.Now()
		if err := kernel.ExtractKernelTo(filepath.Join(dir, "kernel")); err != nil {
			return err
		}
		ext = append(ext, time.Since(t))
		t = time.Now()
		if err := os.WriteFile(filepath.Join(dir, "plain"), data, 0o644); err != nil {
			return err
		}
		plain = append(plain, time.Since(t))
		// The fair comparison for durability: ExtractKernelTo fsyncs.
		t = time.Now()
		if err := writeSync(filepath.Join(dir, "plain-sync"), data); err != nil {
			return err
		}
		syncs = append(syncs, time.Since(t))
	}
	fmt.Printf("extract_ms %.2f\n", ms(median(ext)))
	fmt.Printf("plain_copy_ms %.2f\n", ms(median(plain)))
	fmt.Printf("plain_copy_fsync_ms %.2f\n", ms(median(syncs)))
	fmt.Printf("size_bytes %d\n", len(data))
	return nil
}

func writeSync(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
