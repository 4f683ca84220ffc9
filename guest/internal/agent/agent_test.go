//go:build unix

package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/supermachine/supermachine_kernel/agentclient"
	"github.com/supermachine/supermachine_kernel/guest/agentproto"
)

// transport starts a real agent server and returns a client connected to
// it over one kind of stream.
type transport struct {
	name  string
	start func(t *testing.T, srv *Server) io.ReadWriteCloser
}

var transports = []transport{
	{"unix-socket", func(t *testing.T, srv *Server) io.ReadWriteCloser {
		c, err := net.Dial("unix", listen(t, srv))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}},
	{"net-pipe", func(t *testing.T, srv *Server) io.ReadWriteCloser {
		a, b := net.Pipe()
		serveConn(t, srv, a)
		return b
	}},
	{"socketpair", func(t *testing.T, srv *Server) io.ReadWriteCloser {
		agentEnd, peer := socketPair(t)
		serveConn(t, srv, agentEnd)
		return peer
	}},
}

// listen serves srv on a unix socket until the test ends and returns the
// socket's path; Serve must then return context.Canceled, promptly.
func listen(t *testing.T, srv *Server) string {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Serve returned %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after its context was cancelled")
		}
	})
	return sock
}

// socketPair returns the agent's end and the peer's end of a unix stream,
// both close-on-exec (or the commands run would hold it open). ForkLock
// keeps a command started meanwhile from inheriting them before the flag
// is set, as the net package does where SOCK_CLOEXEC is missing.
func socketPair(t *testing.T) (net.Conn, *net.UnixConn) {
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	var cs [2]net.Conn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), fmt.Sprintf("socketpair-%d", i))
		cs[i], err = net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return cs[0], cs[1].(*net.UnixConn)
}

func serveConn(t *testing.T, srv *Server, rw io.ReadWriteCloser) {
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(context.Background(), rw) }()
	t.Cleanup(func() {
		rw.Close()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrClosedPipe) {
				t.Errorf("ServeConn: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("ServeConn did not return after the stream closed")
		}
	})
}

func newServer(t *testing.T) *Server {
	return &Server{Logf: t.Logf}
}

func forEachTransport(t *testing.T, f func(t *testing.T, c *agentclient.Client)) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			c := agentclient.New(tr.start(t, newServer(t)))
			t.Cleanup(func() { c.Close() })
			f(t, c)
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestExec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name           string
		req            agentclient.Request
		stdin          []byte // a fresh reader per run: subtests run in parallel
		want           agentclient.Result
		stdout, stderr string
	}{
		{
			name:   "exit code and both streams",
			req:    agentclient.Request{Argv: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}},
			want:   agentclient.Result{ExitCode: 3},
			stdout: "out\n", stderr: "err\n",
		},
		{
			name: "success",
			req:  agentclient.Request{Argv: []string{"true"}},
			want: agentclient.Result{ExitCode: 0},
		},
		{
			name:   "env and dir",
			req:    agentclient.Request{Argv: []string{"sh", "-c", `printf '%s %s' "$SM_TEST" "$(pwd)"`}, Env: []string{"SM_TEST=v=1"}, Dir: dir},
			want:   agentclient.Result{ExitCode: 0},
			stdout: "v=1 " + dir,
		},
		{
			name:   "PATH of the request is searched",
			req:    agentclient.Request{Argv: []string{"sh", "-c", "echo $0"}, Env: []string{"PATH=/bin:/usr/bin"}},
			want:   agentclient.Result{ExitCode: 0},
			stdout: "sh\n",
		},
		{
			name: "killed by a signal",
			req:  agentclient.Request{Argv: []string{"sh", "-c", "kill -TERM $$"}},
			want: agentclient.Result{ExitCode: -1, Signal: 15, SignalName: "SIGTERM"},
		},
		{
			name: "timeout kills the process group",
			req:  agentclient.Request{Argv: []string{"sh", "-c", "sleep 30 & sleep 30"}, Timeout: 200 * time.Millisecond},
			want: agentclient.Result{ExitCode: -1, Signal: 9, SignalName: "SIGKILL", TimedOut: true},
		},
		{
			name:   "stdin",
			req:    agentclient.Request{Argv: []string{"tr", "a-z", "A-Z"}},
			stdin:  []byte("hello\n"),
			want:   agentclient.Result{ExitCode: 0},
			stdout: "HELLO\n",
		},
		{
			name:  "process ignores its stdin",
			req:   agentclient.Request{Argv: []string{"true"}},
			stdin: make([]byte, 3*agentproto.StdinWindow),
			want:  agentclient.Result{ExitCode: 0},
		},
		{
			name: "no stdin reads /dev/null",
			req:  agentclient.Request{Argv: []string{"wc", "-c"}},
			want: agentclient.Result{ExitCode: 0}, stdout: "0\n",
		},
	}
	forEachTransport(t, func(t *testing.T, c *agentclient.Client) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				req := tt.req
				req.Stdout, req.Stderr = &stdout, &stderr
				if tt.stdin != nil {
					req.Stdin = bytes.NewReader(tt.stdin)
				}
				start := time.Now()
				got, err := c.Exec(ctxT(t), req)
				if err != nil {
					t.Fatalf("Exec: %v", err)
				}
				if got != tt.want {
					t.Errorf("result = %+v, want %+v", got, tt.want)
				}
				if stdout.String() != tt.stdout || stderr.String() != tt.stderr {
					t.Errorf("stdout %q stderr %q, want %q and %q", stdout.String(), stderr.String(), tt.stdout, tt.stderr)
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("took %v", d)
				}
			})
		}
	})
}

func TestExecLargeStdinRoundTrip(t *testing.T) {
	t.Parallel()
	data := make([]byte, 5*agentproto.StdinWindow+12345) // several windows
	rand.Read(data)
	forEachTransport(t, func(t *testing.T, c *agentclient.Client) {
		var out bytes.Buffer
		res, err := c.Exec(ctxT(t), agentclient.Request{Argv: []string{"cat"}, Stdin: bytes.NewReader(data), Stdout: &out})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("Exec: %+v, %v", res, err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Errorf("cat returned %d bytes, want the %d sent", out.Len(), len(data))
		}
	})
}

func TestExecErrors(t *testing.T) {
	t.Parallel()
	forEachTransport(t, func(t *testing.T, c *agentclient.Client) {
		_, err := c.Exec(ctxT(t), agentclient.Request{Argv: []string{"no-such-program-sm"}})
		var re *agentclient.RemoteError
		if !errors.As(err, &re) || !strings.Contains(re.Message, "not found") {
			t.Errorf("missing program: err = %v, want a RemoteError saying not found", err)
		}
		_, err = c.Exec(ctxT(t), agentclient.Request{Argv: []string{"true"}, Dir: "/no/such/dir"})
		if !errors.As(err, &re) || !strings.Contains(re.Message, "no such file") {
			t.Errorf("missing dir: err = %v, want a RemoteError", err)
		}
		_, err = c.Exec(ctxT(t), agentclient.Request{Argv: []string{"true"}, Env: []string{"NOEQUALS"}})
		if err == nil || !strings.Contains(err.Error(), "not KEY=VALUE") {
			t.Errorf("bad env: err = %v", err)
		}
		// The connection still serves after those errors.
		if res, err := c.Exec(ctxT(t), agentclient.Request{Argv: []string{"true"}}); err != nil || res.ExitCode != 0 {
			t.Errorf("after errors: %+v, %v", res, err)
		}
	})
}

func TestExecContextCancel(t *testing.T) {
	t.Parallel()
	forEachTransport(t, func(t *testing.T, c *agentclient.Client) {
		marker := filepath.Join(t.TempDir(), "survived")
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := c.Exec(ctx, agentclient.Request{Argv: []string{"sh", "-c", "sleep 0.6; touch " + marker}})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		if res, err := c.Exec(ctxT(t), agentclient.Request{Argv: []string{"sleep", "0.8"}}); err != nil || res.ExitCode != 0 {
			t.Fatalf("after cancel: %+v, %v", res, err)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Error("the cancelled process was not killed")
		}
	})
}

func TestConcurrentSessions(t *testing.T) {
	t.Parallel()
	const n = 40
	forEachTransport(t, func(t *testing.T, c *agentclient.Client) {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := bytes.Repeat([]byte(fmt.Sprintf("session %d\n", i)), 1000+i*500)
				var out, errOut bytes.Buffer
				res, err := c.Exec(ctxT(t), agentclient.Request{
					Argv:  []string{"sh", "-c", "cat; echo done $N >&2; exit $N"},
					Env:   []string{fmt.Sprintf("N=%d", i)},
					Stdin: bytes.NewReader(in), Stdout: &out, Stderr: &errOut,
				})
				switch {
				case err != nil:
					errs <- fmt.Errorf("session %d: %v", i, err)
				case res.ExitCode != i:
					errs <- fmt.Errorf("session %d: exit %d", i, res.ExitCode)
				case !bytes.Equal(out.Bytes(), in):
					errs <- fmt.Errorf("session %d: stdout of %d bytes, want %d", i, out.Len(), len(in))
				case errOut.String() != fmt.Sprintf("done %d\n", i):
					errs <- fmt.Errorf("session %d: stderr %q", i, errOut.String())
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func TestClientClose(t *testing.T) {
	t.Parallel()
	forEachTransport(t, func(t *testing.T, c *agentclient.Client) {
		done := make(chan error, 1)
		go func() {
			_, err := c.Exec(context.Background(), agentclient.Request{Argv: []string{"sleep", "30"}})
			done <- err
		}()
		time.Sleep(200 * time.Millisecond)
		c.Close()
		select {
		case err := <-done:
			if !errors.Is(err, agentclient.ErrClosed) {
				t.Errorf("pending Exec: %v, want ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("pending Exec did not return after Close")
		}
		if _, err := c.Exec(context.Background(), agentclient.Request{Argv: []string{"true"}}); !errors.Is(err, agentclient.ErrClosed) {
			t.Errorf("Exec after Close: %v", err)
		}
	})
}

// rawPeer speaks frames directly, to send what agentclient never would.
// Like a real client it reads all the time (from its first send on), so an
// agent writing to it never blocks its writes; a rawPeer without r never
// reads, to stall a stream on purpose.
type rawPeer struct {
	t    *testing.T
	rw   io.ReadWriteCloser
	r    *agentproto.Reader
	seen map[uint32]*ending

	once    sync.Once
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []agentproto.Frame
	readErr error
}

func (p *rawPeer) startReading() {
	p.once.Do(func() {
		p.cond = sync.NewCond(&p.mu)
		if p.r == nil {
			return
		}
		go func() {
			for {
				f, err := p.r.Next()
				p.mu.Lock()
				if err != nil {
					p.readErr = err
				} else {
					p.queue = append(p.queue, f)
				}
				p.cond.Broadcast()
				p.mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	})
}

// next returns the next frame the agent sent, waiting up to 20 seconds.
func (p *rawPeer) next() (agentproto.Frame, error) {
	p.startReading()
	timedOut := false
	timer := time.AfterFunc(20*time.Second, func() {
		p.mu.Lock()
		timedOut = true
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) == 0 && p.readErr == nil && !timedOut {
		p.cond.Wait()
	}
	if len(p.queue) > 0 {
		f := p.queue[0]
		p.queue = p.queue[1:]
		return f, nil
	}
	if timedOut {
		return agentproto.Frame{}, errors.New("no frame from the agent for 20s")
	}
	return agentproto.Frame{}, p.readErr
}

func (p *rawPeer) send(kind agentproto.Kind, id uint32, payload []byte) {
	p.t.Helper()
	p.startReading()
	if _, err := p.rw.Write(agentproto.Append(nil, agentproto.Frame{Kind: kind, Session: id, Payload: payload})); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

func (p *rawPeer) open(id uint32, req agentproto.OpenRequest) {
	b, _ := json.Marshal(req)
	p.send(agentproto.KindOpen, id, b)
}

// collect reads frames until every session in ids ended, returning what
// each got: its stdout and its final frame.
func (p *rawPeer) collect(ids ...uint32) map[uint32]*ending {
	p.t.Helper()
	if p.seen == nil {
		p.seen = map[uint32]*ending{}
	}
	out := map[uint32]*ending{}
	left := 0
	for _, id := range ids {
		if p.seen[id] == nil {
			p.seen[id] = &ending{}
		}
		out[id] = p.seen[id]
		if out[id].last.Kind == 0 {
			left++
		}
	}
	for left > 0 {
		f, err := p.next()
		if err != nil {
			p.t.Fatalf("reading frames: %v", err)
		}
		e := p.seen[f.Session]
		if e == nil {
			e = &ending{}
			p.seen[f.Session] = e
		}
		switch f.Kind {
		case agentproto.KindStdout:
			e.stdout.Write(f.Payload)
		case agentproto.KindExit, agentproto.KindError:
			if e.last.Kind != 0 {
				p.t.Fatalf("session %d ended twice", f.Session)
			}
			e.last = f
			if out[f.Session] != nil {
				left--
			}
		}
	}
	return out
}

type ending struct {
	stdout bytes.Buffer
	last   agentproto.Frame
}

func TestMalformedFramesEndOnlyTheirSession(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			rw := tr.start(t, newServer(t))
			p := &rawPeer{t: t, rw: rw, r: agentproto.NewReader(rw, 0)}
			// Session 1 runs across every bad frame below and must finish.
			p.open(1, agentproto.OpenRequest{Argv: []string{"cat"}, Stdin: true})
			p.send(agentproto.KindStdin, 1, []byte("before "))

			bad := []struct {
				id      uint32
				send    func(id uint32)
				wantErr string
			}{
				{10, func(id uint32) { p.send(agentproto.KindOpen, id, []byte("{not json")) }, "OPEN payload"},
				{11, func(id uint32) { p.send(agentproto.KindOpen, id, []byte(`{"argv":[]}`)) }, "argv is empty"},
				{12, func(id uint32) { p.send(agentproto.KindOpen, id, []byte(`{"argv":["true"],"tty":true}`)) }, "unknown field"},
				{13, func(id uint32) { p.send(0x7f, id, nil) }, "unknown kind"},
				{14, func(id uint32) { p.send(agentproto.KindStdout, id, []byte("x")) }, "sent by the agent"},
				{15, func(id uint32) { p.send(agentproto.KindSignal, id, []byte{1}) }, "4 bytes"},
				{16, func(id uint32) {
					// Oversized: the header declares more than MaxPayload;
					// the agent must skip exactly that many bytes.
					big := make([]byte, agentproto.MaxPayload+1)
					for i := range big {
						big[i] = 0xff // would be garbage headers if misread
					}
					p.send(agentproto.KindStdin, id, big)
				}, "exceeds the limit"},
				{17, func(id uint32) {
					// A client ignoring the window: the process does not
					// read, so the third chunk overflows the agent's queue.
					p.open(id, agentproto.OpenRequest{Argv: []string{"sleep", "30"}, Stdin: true})
					for range 3 {
						p.send(agentproto.KindStdin, id, make([]byte, agentproto.StdinWindow*6/10))
					}
				}, "window exceeded"},
				{18, func(id uint32) {
					p.open(id, agentproto.OpenRequest{Argv: []string{"sleep", "30"}})
					p.open(id, agentproto.OpenRequest{Argv: []string{"true"}})
				}, "already open"},
			}
			for _, b := range bad {
				b.send(b.id)
				got := p.collect(b.id)[b.id]
				if got.last.Kind != agentproto.KindError || !strings.Contains(string(got.last.Payload), b.wantErr) {
					t.Errorf("session %d: ended with %v %q, want ERROR containing %q", b.id, got.last.Kind, got.last.Payload, b.wantErr)
				}
			}
			// Session 1 is still being served; a new session works too.
			p.send(agentproto.KindStdin, 1, []byte("after"))
			p.send(agentproto.KindStdinEOF, 1, nil)
			p.open(2, agentproto.OpenRequest{Argv: []string{"echo", "two"}})
			got := p.collect(1, 2)
			for id, want := range map[uint32]string{1: "before after", 2: "two\n"} {
				e := got[id]
				if e.last.Kind != agentproto.KindExit || e.stdout.String() != want {
					t.Errorf("session %d: %v %q stdout %q, want EXIT and %q", id, e.last.Kind, e.last.Payload, e.stdout.String(), want)
				}
			}
		})
	}
}

func TestStreamEndKillsSessions(t *testing.T) {
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "survived")
	a, b := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- newServer(t).ServeConn(context.Background(), a) }()
	p := &rawPeer{t: t, rw: b, r: agentproto.NewReader(b, 0)}
	p.open(1, agentproto.OpenRequest{Argv: []string{"sh", "-c", "sleep 0.5; touch " + marker}})
	time.Sleep(100 * time.Millisecond)
	b.Close()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("ServeConn: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeConn did not return")
	}
	time.Sleep(700 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Error("a session's process outlived its stream")
	}
}
