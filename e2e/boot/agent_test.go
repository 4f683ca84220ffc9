package boot_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/supermachine/supermachine_kernel/agentclient"
	"github.com/supermachine/supermachine_kernel/e2e/boot/internal/report"
	"github.com/supermachine/supermachine_kernel/e2e/boot/internal/vm"
	"github.com/supermachine/supermachine_kernel/guest/agentproto"
	"github.com/supermachine/supermachine_kernel/guest/initstatus"
)

// execResult is what one Exec brought back.
type execResult struct {
	res            agentclient.Result
	err            error
	stdout, stderr bytes.Buffer
}

func run(ctx context.Context, c *agentclient.Client, req agentclient.Request) *execResult {
	var r execResult
	req.Stdout, req.Stderr = &r.stdout, &r.stderr
	r.res, r.err = c.Exec(ctx, req)
	return &r
}

// TestBootAgent boots an image whose entrypoint waits, with init-oci
// starting the packaged supermachine-agent on a virtio serial port
// (vm.AgentDevice) that QEMU exposes as a unix socket. From the host, the test
// runs commands in the guest through agentclient, one after the other and
// at the same time, and checks their stdout, stderr and exit codes; then it
// stops the entrypoint and checks the VM powers off with its status.
func TestBootAgent(t *testing.T) {
	t.Parallel()
	needSuite(t)
	img := vm.Image{
		Config: vm.ImageConfig{
			Entrypoint: []string{"/bin/probe", "serve"},
			Env:        []string{"PATH=/bin", "PROBE_VAR=from-image"},
		},
		Files: map[string]vm.File{"/bin/probe": probeFile()},
		Dirs:  []string{"/etc"},
	}
	b := newBoot(t, img, "SM_AGENT="+vm.AgentDevice)
	b.cfg.AgentSocket = filepath.Join(b.dir, "agent.sock")
	b.start()

	ctx, cancel := context.WithTimeout(context.Background(), bootTimeout)
	defer cancel()
	conn, err := b.m.DialAgent(ctx)
	if err != nil {
		b.fatalf("%v", err)
	}
	c := agentclient.New(conn)
	defer func() { c.Close() }()
	if err := b.m.WaitForLine(ctx, report.AgentReady); err != nil {
		b.fatalf("waiting for the agent: %v", err)
	}
	if port := fmt.Sprintf("probe: virtio port %s is %q", vm.AgentDevice, vm.AgentPortName); !vm.HasLine(b.m.Console(), port) {
		b.fatalf("the guest has no %s named %q: the agent cannot serve it", vm.AgentDevice, vm.AgentPortName)
	}

	t.Run("one-after-the-other", func(t *testing.T) {
		for _, tc := range []struct {
			name           string
			req            agentclient.Request
			stdout, stderr string
			code           int
		}{
			{"stdout-stderr-exit-code", agentclient.Request{Argv: []string{"probe", "say", "out-1\n", "err-1\n", "3"}}, "out-1\n", "err-1\n", 3},
			{"exit-zero", agentclient.Request{Argv: []string{"/bin/probe", "say", "", "only stderr", "0"}}, "", "only stderr", 0},
			{"image-env-and-root-dir", agentclient.Request{Argv: []string{"probe", "where"}}, "cwd=/ PROBE_VAR=from-image\n", "", 0},
			{"request-env-and-dir", agentclient.Request{Argv: []string{"probe", "where"}, Dir: "/etc", Env: []string{"PROBE_VAR=from-request"}},
				"cwd=/etc PROBE_VAR=from-request\n", "", 0},
			{"exit-255", agentclient.Request{Argv: []string{"probe", "say", "x", "y", "255"}}, "x", "y", 255},
		} {
			r := run(ctx, c, tc.req)
			if r.err != nil {
				b.errorf(t, "%s: Exec %q: %v", tc.name, tc.req.Argv, r.err)
				continue
			}
			if r.res.ExitCode != tc.code || r.res.Signal != 0 || r.stdout.String() != tc.stdout || r.stderr.String() != tc.stderr {
				b.errorf(t, "%s: Exec %q: got exit %d (signal %d), stdout %q, stderr %q; want exit %d, stdout %q, stderr %q",
					tc.name, tc.req.Argv, r.res.ExitCode, r.res.Signal, r.stdout.String(), r.stderr.String(), tc.code, tc.stdout, tc.stderr)
			}
		}
	})
	t.Run("missing-program", func(t *testing.T) {
		r := run(ctx, c, agentclient.Request{Argv: []string{"/bin/no-such-program"}})
		var re *agentclient.RemoteError
		if !errors.As(r.err, &re) {
			b.errorf(t, "Exec of a missing program: got result %+v, error %v; want an agent error", r.res, r.err)
		}
	})
	t.Run("large-output", func(t *testing.T) {
		const n = 1 << 20
		start := time.Now()
		r := run(ctx, c, agentclient.Request{Argv: []string{"probe", "bulk", "1048576", "99"}})
		if r.err != nil || r.res.ExitCode != 0 {
			b.errorf(t, "Exec bulk: exit %d, error %v, stderr %q", r.res.ExitCode, r.err, r.stderr.String())
			return
		}
		if want := report.Pattern(n, 99); !bytes.Equal(r.stdout.Bytes(), want) {
			b.errorf(t, "bulk stdout: got %d bytes, want the %d-byte pattern (first difference at %d)", r.stdout.Len(), n, firstDiff(r.stdout.Bytes(), want))
		}
		t.Logf("1 MiB of stdout over the virtio serial port in %v", time.Since(start).Round(time.Millisecond))
	})
	t.Run("stdin", func(t *testing.T) {
		// More than the agent's stdin window, so flow control is exercised.
		in := report.Pattern(agentproto.StdinWindow+100_000, 5)
		r := run(ctx, c, agentclient.Request{Argv: []string{"probe", "cat"}, Stdin: bytes.NewReader(in)})
		if r.err != nil || r.res.ExitCode != 0 {
			b.errorf(t, "Exec cat: exit %d, error %v, stderr %q", r.res.ExitCode, r.err, r.stderr.String())
			return
		}
		if !bytes.Equal(r.stdout.Bytes(), in) {
			b.errorf(t, "cat: got %d bytes back for %d of stdin (first difference at %d)", r.stdout.Len(), len(in), firstDiff(r.stdout.Bytes(), in))
		}
	})
	t.Run("at-the-same-time", func(t *testing.T) {
		// Each waits for the other's marker file, so they pass only if the
		// agent runs them concurrently.
		var wg sync.WaitGroup
		results := make([]*execResult, 2)
		for i, args := range [][]string{{"a", "b", "11"}, {"b", "a", "12"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = run(ctx, c, agentclient.Request{Argv: append([]string{"probe", "rendezvous", "/tmp/rv"}, args...)})
			}()
		}
		wg.Wait()
		for i, me := range []string{"a", "b"} {
			r := results[i]
			if r.err != nil {
				b.errorf(t, "concurrent Exec %s: %v", me, r.err)
				continue
			}
			if r.res.ExitCode != 11+i || r.stdout.String() != me+"-out\n" || r.stderr.String() != me+"-err\n" {
				b.errorf(t, "concurrent Exec %s: got exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr %q",
					me, r.res.ExitCode, r.stdout.String(), r.stderr.String(), 11+i, me+"-out\n", me+"-err\n")
			}
		}
	})

	t.Run("reconnect", func(t *testing.T) {
		// The agent must serve a host that went away and came back.
		c.Close()
		conn, err := b.m.DialAgent(ctx)
		if err != nil {
			b.errorf(t, "%v", err)
			return
		}
		c = agentclient.New(conn)
		r := run(ctx, c, agentclient.Request{Argv: []string{"probe", "say", "again", "", "0"}})
		if r.err != nil || r.res.ExitCode != 0 || r.stdout.String() != "again" {
			b.errorf(t, "Exec after reconnecting: exit %d, error %v, stdout %q", r.res.ExitCode, r.err, r.stdout.String())
		}
	})

	// End the entrypoint through the agent; init-oci reports its code.
	// The VM may power off before the agent's reply leaves it: a closed
	// connection is then the expected answer.
	if r := run(ctx, c, agentclient.Request{Argv: []string{"probe", "stop", "7"}}); (r.err != nil && !errors.Is(r.err, agentclient.ErrClosed)) ||
		(r.err == nil && r.res.ExitCode != 0) {
		b.fatalf("Exec probe stop: exit %d, error %v, stderr %q", r.res.ExitCode, r.err, r.stderr.String())
	}
	b.wait()
	t.Run("status-line-and-power-off", func(t *testing.T) { b.checkEnd(t, initstatus.Exited(7)) })
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
