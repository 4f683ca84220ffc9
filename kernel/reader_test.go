package kernel

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentExtractWithReader runs several processes that extract all
// three assets into one directory, over and over, while this process keeps
// opening and reading the files: every read must see a complete asset
// (exact size and sha256), never a partial or empty one, and every
// extractor must succeed. TestConcurrentExtractProcesses checks the files
// after the writers are done; this checks them while they write.
func TestConcurrentExtractWithReader(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "assets")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const procs, loops = 4, 5
	cmds := make([]*exec.Cmd, procs)
	outs := make([]bytes.Buffer, procs)
	for i := range cmds {
		c := exec.Command(self, "-test.run=^$")
		c.Env = append(os.Environ(), childEnv+"=extract", childDir+"="+dir, childLoops+"="+strconv.Itoa(loops))
		c.Stdout, c.Stderr = &outs[i], &outs[i]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = c
	}
	var running atomic.Int32
	running.Store(procs)
	done := make(chan struct{})
	for i, c := range cmds {
		go func(i int, c *exec.Cmd) {
			if err := c.Wait(); err != nil {
				t.Errorf("extractor %d: %v: %s", i, err, outs[i].String())
			}
			if running.Add(-1) == 0 {
				close(done)
			}
		}(i, c)
	}

	assets := apiAssets()[:3]
	seen := make([]int, len(assets))
	deadline := time.After(5 * time.Minute)
	h := sha256.New()
	for polling := true; polling; {
		select {
		case <-done:
			polling = false // one last pass below sees the final files
		case <-deadline:
			t.Fatal("extractors did not finish within 5 minutes")
		default:
		}
		for i, a := range assets {
			f, err := os.Open(filepath.Join(dir, a.name))
			if os.IsNotExist(err) {
				continue // not extracted yet: absent is fine, partial is not
			}
			if err != nil {
				t.Fatal(err)
			}
			h.Reset()
			n, err := io.Copy(h, f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(h.Sum(nil)); n != a.size || got != a.sha {
				t.Fatalf("read %s while extractors run: %d bytes sha256 %s, want %d bytes %s", a.name, n, got, a.size, a.sha)
			}
			seen[i]++
		}
	}
	for i, a := range assets {
		if seen[i] == 0 {
			t.Errorf("%s was never seen complete", a.name)
		}
		checkFile(t, filepath.Join(dir, a.name), a)
	}
	t.Logf("complete reads while %d processes extracted %d times each: %v", procs, loops, seen)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(assets) {
		for _, e := range ents {
			t.Logf("in %s: %s", dir, e.Name())
		}
		t.Errorf("%d entries in %s, want only the %d assets", len(ents), dir, len(assets))
	}
}
