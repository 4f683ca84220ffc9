//go:build linux

package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/supermachine/supermachine_kernel/agentclient"
	"github.com/supermachine/supermachine_kernel/guest/agentproto"
)

// Hostile peers and runaway commands. These tests are not parallel: each
// counts this process's goroutines, open descriptors and child processes
// before it starts and requires the same counts once its agent has stopped
// (noLeaks), which only means something while no other test runs. The
// malformed frames the agent answers per session (bad JSON, unknown kinds,
// wrong sizes, oversized frames, an overrun stdin window, a double OPEN)
// are TestMalformedFramesEndOnlyTheirSession in agent_test.go.

// procState is one process as /proc/PID/stat shows it.
type procState struct {
	pid, ppid int
	comm      string
	state     string
}

func readProc(pid int) (procState, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procState{}, false
	}
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return procState{}, false
	}
	f := strings.Fields(s[close+1:])
	if len(f) < 2 {
		return procState{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return procState{pid: pid, ppid: ppid, comm: s[open+1 : close], state: f[0]}, true
}

// children lists this process's child processes, zombies included.
func children() []procState {
	ents, _ := os.ReadDir("/proc")
	var out []procState
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok && p.ppid == os.Getpid() {
			out = append(out, p)
		}
	}
	return out
}

// alive reports whether pid is a process that is not a zombie.
func alive(pid int) bool {
	p, ok := readProc(pid)
	return ok && p.state != "Z"
}

func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// noLeaks records the goroutines, descriptors and children now and, at
// cleanup (registered first, so it runs after the agent's own cleanups),
// waits up to 10 s for all three to be back.
func noLeaks(t *testing.T) {
	t.Helper()
	g0, fd0 := runtime.NumGoroutine(), openFDs()
	if c := children(); len(c) != 0 {
		t.Fatalf("children before the test: %+v", c)
	}
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		var g, fd int
		var kids []procState
		for {
			g, fd, kids = runtime.NumGoroutine(), openFDs(), children()
			if (g <= g0 && fd <= fd0 && len(kids) == 0) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if g > g0 {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines: %d before, %d after:\n%s", g0, g, buf)
		}
		if fd > fd0 {
			t.Errorf("open descriptors: %d before, %d after", fd0, fd)
		}
		if len(kids) != 0 {
			t.Errorf("child processes left: %+v", kids)
		}
	})
}

// hostileServer is an agent with small limits.
func hostileServer(t *testing.T) *Server {
	return &Server{Logf: t.Logf, MaxSessions: 4, OutputGrace: 200 * time.Millisecond}
}

func dial(t *testing.T, sock string) *net.UnixConn {
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UnixConn)
}

// waitFor polls cond for up to limit.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// childNamed waits for a child process called comm and returns its pid.
func childNamed(t *testing.T, comm string) int {
	t.Helper()
	pid := 0
	if !waitFor(10*time.Second, func() bool {
		for _, c := range children() {
			if c.comm == comm && c.state != "Z" {
				pid = c.pid
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no %s child process appeared (children: %+v)", comm, children())
	}
	return pid
}

func header(n uint32, kind agentproto.Kind, id uint32) []byte {
	h := binary.BigEndian.AppendUint32(nil, n)
	h = append(h, byte(kind))
	return binary.BigEndian.AppendUint32(h, id)
}

// TestBrokenStreams: a stream that ends inside a frame, declares a 4 GiB
// payload and stops, or is random bytes. ServeConn returns promptly (with
// io.ErrUnexpectedEOF when the stream ends inside a frame), kills the
// session that was running, allocates nothing for the declared size and
// leaks nothing.
func TestBrokenStreams(t *testing.T) {
	garbage := make([]byte, 64<<10)
	rand.Read(garbage)
	cases := []struct {
		name string
		tail []byte
		want error // nil: any error or none
	}{
		{"truncated header", header(17, agentproto.KindOpen, 2)[:5], io.ErrUnexpectedEOF},
		{"truncated payload", append(header(100, agentproto.KindOpen, 2), `{"argv":["tr`...), io.ErrUnexpectedEOF},
		{"4 GiB payload declared, 1000 bytes sent", append(header(0xfffffff0, agentproto.KindStdin, 1), make([]byte, 1000)...), io.ErrUnexpectedEOF},
		{"64 KiB of random bytes", garbage, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			agentEnd, peer := socketPair(t)
			done := make(chan error, 1)
			go func() { done <- hostileServer(t).ServeConn(context.Background(), agentEnd) }()
			p := &rawPeer{t: t, rw: peer, r: agentproto.NewReader(peer, 0)}
			p.open(1, agentproto.OpenRequest{Argv: []string{"sleep", "1000"}, Stdin: true})
			sleeper := childNamed(t, "sleep")
			if _, err := peer.Write(tc.tail); err != nil {
				t.Fatal(err)
			}
			peer.CloseWrite()
			go io.Copy(io.Discard, peer) // whatever the agent still answers
			select {
			case err := <-done:
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("ServeConn returned %v, want %v", err, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ServeConn did not return after the stream ended")
			}
			peer.Close()
			if !waitFor(5*time.Second, func() bool { return !alive(sleeper) }) {
				t.Errorf("the session's process %d outlived its stream", sleeper)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := int64(after.TotalAlloc) - int64(before.TotalAlloc); grew > 64<<20 {
				t.Errorf("the agent allocated %d bytes for this stream", grew)
			}
		})
	}
}

// TestSessionLimit: past MaxSessions an OPEN gets an ERROR naming the
// limit, the open sessions are unaffected, and a slot freed by a session's
// end is usable again.
func TestSessionLimit(t *testing.T) {
	noLeaks(t)
	srv := hostileServer(t)
	agentEnd, peer := socketPair(t)
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(context.Background(), agentEnd) }()
	t.Cleanup(func() {
		peer.Close()
		<-done
	})
	p := &rawPeer{t: t, rw: peer, r: agentproto.NewReader(peer, 0)}
	for id := uint32(1); id <= uint32(srv.MaxSessions); id++ {
		p.open(id, agentproto.OpenRequest{Argv: []string{"cat"}, Stdin: true})
	}
	p.open(99, agentproto.OpenRequest{Argv: []string{"true"}})
	if e := p.collect(99)[99]; e.last.Kind != agentproto.KindError || !strings.Contains(string(e.last.Payload), "too many sessions") {
		t.Fatalf("session over the limit: %v %q, want ERROR about too many sessions", e.last.Kind, e.last.Payload)
	}
	p.send(agentproto.KindStdinEOF, 1, nil)
	if e := p.collect(1)[1]; e.last.Kind != agentproto.KindExit {
		t.Fatalf("session 1: %v %q", e.last.Kind, e.last.Payload)
	}
	p.open(100, agentproto.OpenRequest{Argv: []string{"echo", "slot free again"}})
	if e := p.collect(100)[100]; e.last.Kind != agentproto.KindExit || e.stdout.String() != "slot free again\n" {
		t.Fatalf("session in the freed slot: %v %q stdout %q", e.last.Kind, e.last.Payload, e.stdout.String())
	}
	for id := uint32(2); id <= uint32(srv.MaxSessions); id++ {
		p.send(agentproto.KindStdin, id, []byte(fmt.Sprintf("still here %d", id)))
		p.send(agentproto.KindStdinEOF, id, nil)
	}
	for id := uint32(2); id <= uint32(srv.MaxSessions); id++ {
		e := p.collect(id)[id]
		if want := fmt.Sprintf("still here %d", id); e.last.Kind != agentproto.KindExit || e.stdout.String() != want {
			t.Errorf("session %d: %v stdout %q, want EXIT and %q", id, e.last.Kind, e.stdout.String(), want)
		}
	}
}

// TestClientStopsReading: a client opens a session that writes without end
// (yes) and another whose command never ends but has a timeout, then never
// reads. Its stream backs up; the agent's memory does not grow (the
// process blocks on its pipe instead), the timeout still kills its process,
// and other clients of the same agent are served meanwhile. Once the
// client hangs up everything is released. (Sessions on the stalled
// connection itself share its one stream and wait with it.)
func TestClientStopsReading(t *testing.T) {
	noLeaks(t)
	sock := listen(t, hostileServer(t))
	stalled := dial(t, sock)
	p := &rawPeer{t: t, rw: stalled}
	p.open(1, agentproto.OpenRequest{Argv: []string{"yes", "flood"}})
	p.open(2, agentproto.OpenRequest{Argv: []string{"sleep", "1000"}, TimeoutMS: 500})
	yes := childNamed(t, "yes")
	sleeper := childNamed(t, "sleep")

	// Let the stream fill up, then watch the heap while it stays stuck.
	time.Sleep(500 * time.Millisecond)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	h0 := heap()

	// Other clients are served while the first is stuck.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := agentclient.New(dial(t, sock))
			defer c.Close()
			for j := 0; j < 3; j++ {
				var out bytes.Buffer
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				res, err := c.Exec(ctx, agentclient.Request{Argv: []string{"echo", fmt.Sprint(i, j)}, Stdout: &out})
				cancel()
				if err != nil || res.ExitCode != 0 || out.String() != fmt.Sprintln(i, j) {
					errs <- fmt.Errorf("client %d exec %d: %+v %v %q", i, j, res, err, out.String())
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if !waitFor(10*time.Second, func() bool { return !alive(sleeper) }) {
		t.Errorf("the timed-out process %d still runs though its client does not read", sleeper)
	}
	time.Sleep(time.Second)
	if h1 := heap(); h1 > h0+8<<20 {
		t.Errorf("agent heap grew from %d to %d bytes while a client did not read", h0, h1)
	}
	if st, ok := readProc(yes); !ok || st.state == "R" {
		// Blocked on its full pipe it sleeps (S); running means its output
		// is being buffered somewhere.
		t.Logf("yes is in state %q", st.state)
	}
	stalled.Close()
	if !waitFor(10*time.Second, func() bool { return !alive(yes) }) {
		t.Errorf("the flooding process %d outlived its client's connection", yes)
	}
}

// TestManyClientsAtOnce: several connections, each with several sessions
// moving data both ways at once, all get exactly their own bytes back.
func TestManyClientsAtOnce(t *testing.T) {
	noLeaks(t)
	srv := hostileServer(t)
	srv.MaxSessions = 16
	sock := listen(t, srv)
	const conns, perConn = 6, 6
	var wg sync.WaitGroup
	errs := make(chan error, conns*perConn)
	for i := 0; i < conns; i++ {
		c := agentclient.New(dial(t, sock))
		t.Cleanup(func() { c.Close() })
		for j := 0; j < perConn; j++ {
			wg.Add(1)
			go func(i, j int) {
				defer wg.Done()
				in := bytes.Repeat([]byte(fmt.Sprintf("conn %d session %d\n", i, j)), 3000)
				var out bytes.Buffer
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				res, err := c.Exec(ctx, agentclient.Request{Argv: []string{"cat"}, Stdin: bytes.NewReader(in), Stdout: &out})
				if err != nil || res.ExitCode != 0 || !bytes.Equal(out.Bytes(), in) {
					errs <- fmt.Errorf("conn %d session %d: %+v %v, %d bytes back of %d", i, j, res, err, out.Len(), len(in))
				}
			}(i, j)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestNeverEndingCommands: a command that never ends is killed at its
// timeout with its whole process group, including a background child that
// keeps running after its parent shell is gone, while another session on
// the same connection completes; output flooding until the timeout is
// cut off the same way.
func TestNeverEndingCommands(t *testing.T) {
	noLeaks(t)
	sock := listen(t, hostileServer(t))
	c := agentclient.New(dial(t, sock))
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(1)
	var other agentclient.Result
	var otherErr error
	go func() {
		defer wg.Done()
		time.Sleep(100 * time.Millisecond)
		other, otherErr = c.Exec(ctx, agentclient.Request{Argv: []string{"true"}})
	}()
	var out bytes.Buffer
	res, err := c.Exec(ctx, agentclient.Request{
		Argv:    []string{"sh", "-c", "sleep 1000 & echo $!; exec sleep 1001"},
		Timeout: 700 * time.Millisecond, Stdout: &out,
	})
	wg.Wait()
	if err != nil || !res.TimedOut || res.Signal != int(syscall.SIGKILL) {
		t.Fatalf("never-ending command: %+v %v, want timed out by SIGKILL", res, err)
	}
	if otherErr != nil || other.ExitCode != 0 {
		t.Errorf("session beside it: %+v %v", other, otherErr)
	}
	bg, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("background pid: %q", out.String())
	}
	if !waitFor(5*time.Second, func() bool { return !alive(bg) }) {
		t.Errorf("background process %d of the timed-out command still runs", bg)
	}

	var n countingWriter
	res, err = c.Exec(ctx, agentclient.Request{Argv: []string{"yes"}, Timeout: 500 * time.Millisecond, Stdout: &n})
	if err != nil || !res.TimedOut {
		t.Fatalf("flooding command: %+v %v, want timed out", res, err)
	}
	if n.n == 0 {
		t.Error("no output reached the client before the timeout")
	}
	t.Logf("flooding command sent %d bytes before its timeout", n.n)
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// TestBackgroundProcessAfterExit: a command that exits at once but leaves a
// background process holding its output open. The session ends (EXIT 0)
// after the output grace period instead of waiting for the background
// process, and that process does not outlive the session.
func TestBackgroundProcessAfterExit(t *testing.T) {
	noLeaks(t)
	sock := listen(t, hostileServer(t))
	c := agentclient.New(dial(t, sock))
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	res, err := c.Exec(ctx, agentclient.Request{Argv: []string{"sh", "-c", "sleep 1000 & echo $!"}, Stdout: &out})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%+v %v", res, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("session took %v to end", d)
	}
	bg, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("background pid: %q", out.String())
	}
	if !waitFor(5*time.Second, func() bool { return !alive(bg) }) {
		syscall.Kill(bg, syscall.SIGKILL)
		t.Errorf("background process %d outlived its session", bg)
	}
}
