//go:build unix

// Package agent is the supermachine-agent server: it runs exec requests
// received as agentproto frames and streams their output back. Any number
// of sessions share one connection; an invalid frame ends only the session
// it names. The main package only opens the transport (vsock, a virtconsole,
// a unix socket) and calls Serve or ServeConn.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/supermachine/supermachine_kernel/guest/agentproto"
	"github.com/supermachine/supermachine_kernel/guest/internal/pathenv"
)

// Server runs exec sessions. The zero value is ready to use.
type Server struct {
	// BaseEnv is the environment requests' Env is merged into; nil means
	// the agent's own (os.Environ()).
	BaseEnv []string
	// MaxPayload bounds incoming frames; 0 means agentproto.MaxPayload.
	MaxPayload int
	// MaxSessions bounds sessions open at once per connection; 0 means
	// agentproto.MaxSessions.
	MaxSessions int
	// OutputGrace is how long a session waits, after its process exited,
	// for background processes that inherited stdout/stderr to close them;
	// 0 means one second.
	OutputGrace time.Duration
	// Logf receives one line per notable event; nil discards them.
	Logf func(format string, args ...any)
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// Serve accepts connections from l and serves each with ServeConn until l
// fails or ctx is done.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("agent: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.ServeConn(ctx, c); err != nil {
				s.logf("connection %v: %v", c.RemoteAddr(), err)
			}
		}()
	}
}

// ServeConn serves the sessions multiplexed over rw until the stream ends
// or ctx is done, then kills the processes still running and closes rw. A
// clean end of stream returns nil.
func (s *Server) ServeConn(ctx context.Context, rw io.ReadWriteCloser) error {
	c := &conn{srv: s, rw: rw, sessions: make(map[uint32]*session)}
	stop := context.AfterFunc(ctx, func() { rw.Close() })
	defer stop()
	r := agentproto.NewReader(rw, s.MaxPayload)
	var err error
	for {
		var f agentproto.Frame
		f, err = r.Next()
		var fe *agentproto.FrameError
		if errors.As(err, &fe) {
			c.fail(fe.Session, fe.Error())
			continue
		}
		if err != nil {
			break
		}
		c.dispatch(f)
	}
	rw.Close()
	c.closeAll()
	c.wg.Wait()
	if errors.Is(err, io.EOF) || ctx.Err() != nil {
		return nil
	}
	return err
}

type conn struct {
	srv *Server
	rw  io.ReadWriteCloser
	wg  sync.WaitGroup

	wmu    sync.Mutex // serialises frames; guards session.finished
	wbroke bool       // a write failed: the stream is gone

	mu       sync.Mutex
	sessions map[uint32]*session
}

// write sends f unless s (when non-nil) already finished. It reports
// whether the frame went out.
func (c *conn) write(s *session, f agentproto.Frame) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if s != nil && s.finished {
		return false
	}
	return c.writeLocked(f)
}

func (c *conn) writeLocked(f agentproto.Frame) bool {
	if c.wbroke {
		return false
	}
	if err := agentproto.WriteFrame(c.rw, f); err != nil {
		c.wbroke = true
		c.srv.logf("write %v frame: %v", f.Kind, err)
		c.rw.Close() // also ends the read loop
		return false
	}
	return true
}

// finish sends the frame that ends s (EXIT or ERROR) unless s already
// ended, and reports whether it did.
func (c *conn) finish(s *session, f agentproto.Frame) bool {
	c.wmu.Lock()
	if s.finished {
		c.wmu.Unlock()
		return false
	}
	s.finished = true
	// Free the id and the slot before the client can see the end: it may
	// reuse both as soon as the frame arrives.
	c.mu.Lock()
	if c.sessions[s.id] == s {
		delete(c.sessions, s.id)
	}
	c.mu.Unlock()
	c.writeLocked(f)
	c.wmu.Unlock()
	s.stdin.shut()
	return true
}

// fail ends session id with an ERROR frame carrying msg and kills its
// process, if any. Frames for sessions that are not open still get the
// ERROR, so the client learns what happened.
func (c *conn) fail(id uint32, msg string) {
	c.srv.logf("session %d: %s", id, msg)
	errFrame := agentproto.Frame{Kind: agentproto.KindError, Session: id, Payload: []byte(msg)}
	c.mu.Lock()
	s := c.sessions[id]
	c.mu.Unlock()
	if s == nil {
		c.write(nil, errFrame)
		return
	}
	if c.finish(s, errFrame) {
		s.kill(syscall.SIGKILL)
	}
}

func (c *conn) dispatch(f agentproto.Frame) {
	if !f.Kind.FromClient() {
		c.fail(f.Session, fmt.Sprintf("%v frames are sent by the agent, not to it", f.Kind))
		return
	}
	c.mu.Lock()
	s := c.sessions[f.Session]
	c.mu.Unlock()
	switch f.Kind {
	case agentproto.KindOpen:
		if s != nil {
			c.fail(f.Session, "OPEN for a session that is already open")
			return
		}
		c.open(f.Session, f.Payload)
	case agentproto.KindStdin:
		// Frames for sessions that ended are dropped: the client may not
		// have seen the end yet.
		if s == nil {
			return
		}
		if !s.req.Stdin {
			c.fail(f.Session, "STDIN on a session opened without stdin")
			return
		}
		if err := s.stdin.push(f.Payload); err != nil {
			c.fail(f.Session, err.Error())
		}
	case agentproto.KindStdinEOF:
		if s != nil {
			s.stdin.eof()
		}
	case agentproto.KindSignal:
		if s == nil {
			return
		}
		sig := agentproto.ParseU32(f.Payload)
		if sig == 0 || sig > 64 {
			c.fail(f.Session, fmt.Sprintf("SIGNAL %d is not a signal number", sig))
			return
		}
		s.kill(syscall.Signal(sig))
	}
}

func (c *conn) open(id uint32, payload []byte) {
	req, err := agentproto.ParseOpen(payload)
	if err != nil {
		c.fail(id, err.Error())
		return
	}
	max := c.srv.MaxSessions
	if max <= 0 {
		max = agentproto.MaxSessions
	}
	s := &session{id: id, c: c, req: req}
	s.stdin.init()
	c.mu.Lock()
	if len(c.sessions) >= max {
		c.mu.Unlock()
		c.fail(id, fmt.Sprintf("too many sessions on this connection (limit %d)", max))
		return
	}
	c.sessions[id] = s
	c.mu.Unlock()
	if err := s.start(); err != nil {
		c.fail(id, err.Error())
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		s.wait()
	}()
}

// closeAll kills every session when the stream ended.
func (c *conn) closeAll() {
	c.mu.Lock()
	all := make([]*session, 0, len(c.sessions))
	for _, s := range c.sessions {
		all = append(all, s)
	}
	c.mu.Unlock()
	for _, s := range all {
		c.wmu.Lock()
		s.finished = true
		c.wmu.Unlock()
		s.stdin.shut()
		s.kill(syscall.SIGKILL)
	}
}

type session struct {
	id  uint32
	c   *conn
	req *agentproto.OpenRequest

	finished bool // guarded by c.wmu

	cmd      *exec.Cmd
	pmu      sync.Mutex
	pid      int // process group to signal; 0 before start or after reaping
	timedOut bool
	timer    *time.Timer
	stdin    stdinQueue
	stdinW   io.WriteCloser
	pumpDone chan struct{}
}

func (s *session) start() error {
	srv := s.c.srv
	base := srv.BaseEnv
	if base == nil {
		base = os.Environ()
	}
	env := pathenv.Merge(base, s.req.Env)
	path, err := pathenv.LookPath("", s.req.Argv[0], env)
	if err != nil {
		return fmt.Errorf("exec %q: %v", s.req.Argv[0], err)
	}
	cmd := exec.Command(path)
	cmd.Args = s.req.Argv
	cmd.Env = env
	cmd.Dir = s.req.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout = &frameWriter{s: s, kind: agentproto.KindStdout}
	cmd.Stderr = &frameWriter{s: s, kind: agentproto.KindStderr}
	cmd.WaitDelay = srv.OutputGrace
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = time.Second
	}
	if s.req.Stdin {
		if s.stdinW, err = cmd.StdinPipe(); err != nil {
			return fmt.Errorf("exec %q: stdin pipe: %v", s.req.Argv[0], err)
		}
	}
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %q: %v", s.req.Argv[0], err)
	}
	s.cmd = cmd
	s.pid = cmd.Process.Pid
	if s.req.TimeoutMS > 0 {
		s.timer = time.AfterFunc(time.Duration(s.req.TimeoutMS)*time.Millisecond, func() {
			s.pmu.Lock()
			if s.pid != 0 {
				s.timedOut = true
			}
			s.pmu.Unlock()
			s.kill(syscall.SIGKILL)
		})
	}
	if s.stdinW != nil {
		s.pumpDone = make(chan struct{})
		go s.pumpStdin()
	}
	return nil
}

// kill signals the session's process group; it is a no-op once the
// process has been reaped, so a recycled pid is never hit.
func (s *session) kill(sig syscall.Signal) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if s.pid > 0 {
		_ = syscall.Kill(-s.pid, sig)
	}
}

func (s *session) wait() {
	err := s.cmd.Wait()
	// The session owns its process group: what the command left running
	// there (background jobs) ends with it rather than leaking. The group
	// id stays reserved while any member lives, so this cannot hit a
	// stranger.
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	s.pmu.Lock()
	s.pid = 0
	timedOut := s.timedOut
	s.pmu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
	}
	s.stdin.shut()
	if s.pumpDone != nil {
		<-s.pumpDone
	}
	st, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		s.c.finish(s, agentproto.Frame{Kind: agentproto.KindError, Session: s.id,
			Payload: []byte(fmt.Sprintf("wait: %v", err))})
		return
	}
	if err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			s.c.srv.logf("session %d: wait: %v", s.id, err)
		}
	}
	es := ExitStatusOf(st)
	es.TimedOut = timedOut
	payload, _ := json.Marshal(es)
	s.c.finish(s, agentproto.Frame{Kind: agentproto.KindExit, Session: s.id, Payload: payload})
}

// ExitStatusOf converts a wait status into the EXIT payload.
func ExitStatusOf(st syscall.WaitStatus) agentproto.ExitStatus {
	if st.Signaled() {
		return agentproto.ExitStatus{ExitCode: -1, Signal: int(st.Signal()), SignalName: unix.SignalName(st.Signal())}
	}
	return agentproto.ExitStatus{ExitCode: st.ExitStatus()}
}

// pumpStdin copies queued stdin frames into the process and acknowledges
// each, so the client may send more. Once the process stops reading, the
// rest is acknowledged and dropped.
func (s *session) pumpStdin() {
	defer close(s.pumpDone)
	defer s.stdinW.Close()
	broken := false
	for {
		b, ok := s.stdin.pop()
		if !ok {
			return
		}
		if !broken {
			if _, err := s.stdinW.Write(b); err != nil {
				broken = true
			}
		}
		s.c.write(s, agentproto.Frame{Kind: agentproto.KindStdinAck, Session: s.id, Payload: agentproto.U32(uint32(len(b)))})
	}
}

type frameWriter struct {
	s    *session
	kind agentproto.Kind
}

func (w *frameWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		chunk := p[:min(len(p), agentproto.ChunkSize)]
		p = p[len(chunk):]
		if !w.s.c.write(w.s, agentproto.Frame{Kind: w.kind, Session: w.s.id, Payload: chunk}) {
			// The session ended or the stream is gone; keep draining so
			// the process is not stopped by a full pipe before it is
			// killed.
			return n, nil
		}
	}
	return n, nil
}

// stdinQueue holds stdin bytes received but not yet written to the
// process. The client's window (agentproto.StdinWindow) bounds it.
type stdinQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	bufs   [][]byte
	n      int
	closed bool // STDIN_EOF seen
	dead   bool // session over: drop everything
}

func (q *stdinQueue) init() { q.cond = sync.NewCond(&q.mu) }

func (q *stdinQueue) push(b []byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead {
		return nil
	}
	if q.closed {
		return errors.New("STDIN after STDIN_EOF")
	}
	if q.n+len(b) > agentproto.StdinWindow {
		return fmt.Errorf("stdin window exceeded: %d bytes unacknowledged, limit %d", q.n+len(b), agentproto.StdinWindow)
	}
	if len(b) == 0 {
		return nil
	}
	q.bufs = append(q.bufs, b)
	q.n += len(b)
	q.cond.Signal()
	return nil
}

// pop blocks for the next chunk; ok is false at EOF or when the session is
// over.
func (q *stdinQueue) pop() (b []byte, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.bufs) == 0 && !q.closed && !q.dead {
		q.cond.Wait()
	}
	if q.dead || len(q.bufs) == 0 {
		return nil, false
	}
	b = q.bufs[0]
	q.bufs[0] = nil
	q.bufs = q.bufs[1:]
	q.n -= len(b)
	return b, true
}

func (q *stdinQueue) eof() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

func (q *stdinQueue) shut() {
	q.mu.Lock()
	q.dead = true
	q.bufs = nil
	q.cond.Broadcast()
	q.mu.Unlock()
}
