// Package agentclient is the host-side client of supermachine-agent, the
// exec service inside a supermachine guest. It speaks the protocol in
// docs/agent-protocol.md over any byte stream: a vsock or unix socket, or a
// virtconsole chardev exposed as a unix socket. One Client multiplexes any
// number of concurrent Exec calls over its stream.
package agentclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/supermachine/supermachine_kernel/guest/agentproto"
)

// Request describes one command to run in the guest.
type Request struct {
	// Argv is the program and its arguments. A program name without a
	// slash is looked up in the PATH of the resulting environment.
	Argv []string
	// Env holds KEY=VALUE entries added to the agent's environment (the
	// image's), replacing entries with the same key.
	Env []string
	// Dir is the working directory; empty means the agent's ("/").
	Dir string
	// Stdin, when non-nil, is copied to the process's standard input, which
	// is closed at EOF. When nil the process reads from /dev/null. As with
	// os/exec, a Read that blocks forever leaks the copying goroutine.
	Stdin io.Reader
	// Stdout and Stderr receive the process's output; nil discards it.
	// They are called from the connection's single reader goroutine: a
	// writer that blocks stalls every session on the connection.
	Stdout, Stderr io.Writer
	// Timeout, when positive, makes the agent kill the process group with
	// SIGKILL after that long (Result.TimedOut is then set).
	Timeout time.Duration
}

// Result is how a process ended.
type Result struct {
	// ExitCode is the exit code, or -1 when a signal killed the process.
	ExitCode int
	// Signal is the Linux number of the signal that killed the process,
	// 0 if it exited.
	Signal int
	// SignalName is the signal's name, e.g. "SIGKILL".
	SignalName string
	// TimedOut says the process was killed because Request.Timeout expired.
	TimedOut bool
}

// RemoteError is an error the agent reported for a session: the program
// could not be started, or the agent rejected a frame of the session.
type RemoteError struct{ Message string }

func (e *RemoteError) Error() string { return "agent: " + e.Message }

// ErrClosed is returned by Exec once the connection is closed or broken;
// errors from a broken stream wrap it.
var ErrClosed = errors.New("agentclient: connection closed")

// Client multiplexes Exec calls over one stream. Its methods are safe for
// concurrent use.
type Client struct {
	rw io.ReadWriteCloser

	wmu sync.Mutex // one frame at a time

	mu       sync.Mutex
	calls    map[uint32]*call
	next     uint32
	err      error // set once the stream is finished
	readDone chan struct{}
}

// New starts a client on conn, which it owns from now on (Close closes it).
func New(conn io.ReadWriteCloser) *Client {
	c := &Client{rw: conn, calls: make(map[uint32]*call), readDone: make(chan struct{})}
	go c.readLoop()
	return c
}

// Dial connects to an agent at address on network ("unix" for a unix
// socket or a QEMU chardev socket, "tcp", ...) and returns a client on it.
func Dial(ctx context.Context, network, address string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("agentclient: dial %s %s: %w", network, address, err)
	}
	return New(conn), nil
}

// Close closes the stream; pending Exec calls return an error wrapping
// ErrClosed, and the agent kills their processes.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.err == nil {
		c.err = ErrClosed
	}
	c.mu.Unlock()
	err := c.rw.Close()
	<-c.readDone
	return err
}

type call struct {
	id             uint32
	stdout, stderr io.Writer
	writeErr       error

	cmu    sync.Mutex // guards credit and ended
	cond   *sync.Cond
	credit int
	ended  bool

	done   chan struct{}
	result Result
	err    error
}

// Exec runs req in the guest and waits for it to end. The error is nil
// when the process ran to its end, whatever its exit code or signal; it is a
// *RemoteError when the agent refused or failed the session, ctx.Err() when
// ctx ended first (the process group is then sent SIGKILL), or wraps
// ErrClosed when the stream broke.
func (c *Client) Exec(ctx context.Context, req Request) (Result, error) {
	if len(req.Argv) == 0 {
		return Result{}, errors.New("agentclient: Exec: empty Argv")
	}
	open := agentproto.OpenRequest{Argv: req.Argv, Env: req.Env, Dir: req.Dir, Stdin: req.Stdin != nil}
	if req.Timeout > 0 {
		open.TimeoutMS = max(1, req.Timeout.Milliseconds())
	}
	if err := open.Validate(); err != nil {
		return Result{}, fmt.Errorf("agentclient: Exec: %w", err)
	}
	payload, err := json.Marshal(&open)
	if err != nil {
		return Result{}, fmt.Errorf("agentclient: Exec: %w", err)
	}
	if len(payload) > agentproto.MaxPayload {
		return Result{}, fmt.Errorf("agentclient: Exec: request of %d bytes exceeds the limit of %d", len(payload), agentproto.MaxPayload)
	}
	cl := &call{stdout: req.Stdout, stderr: req.Stderr, credit: agentproto.StdinWindow, done: make(chan struct{})}
	cl.cond = sync.NewCond(&cl.cmu)
	if err := c.register(cl); err != nil {
		return Result{}, err
	}
	if err := c.send(agentproto.Frame{Kind: agentproto.KindOpen, Session: cl.id, Payload: payload}); err != nil {
		c.end(cl, Result{}, err)
		return Result{}, err
	}
	if req.Stdin != nil {
		go c.pumpStdin(cl, req.Stdin)
	}
	select {
	case <-cl.done:
	case <-ctx.Done():
		// Kill the process; the call stays registered until the agent
		// ends the session, so its id is not reused early.
		_ = c.send(agentproto.Frame{Kind: agentproto.KindSignal, Session: cl.id, Payload: agentproto.U32(9)})
		c.mu.Lock()
		cl.stdout, cl.stderr = nil, nil
		c.mu.Unlock()
		return Result{}, ctx.Err()
	}
	if cl.err != nil {
		return Result{}, cl.err
	}
	c.mu.Lock()
	werr := cl.writeErr
	c.mu.Unlock()
	if werr != nil {
		return cl.result, fmt.Errorf("agentclient: writing output of %q: %w", req.Argv[0], werr)
	}
	return cl.result, nil
}

func (c *Client) register(cl *call) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if len(c.calls) >= agentproto.MaxSessions {
		return fmt.Errorf("agentclient: %d sessions already open on this connection (agent limit)", len(c.calls))
	}
	for {
		c.next++
		if c.next == 0 {
			c.next = 1
		}
		if _, used := c.calls[c.next]; !used {
			break
		}
	}
	cl.id = c.next
	c.calls[cl.id] = cl
	return nil
}

// end completes cl once; later calls are no-ops.
func (c *Client) end(cl *call, r Result, err error) {
	c.mu.Lock()
	if c.calls[cl.id] != cl {
		c.mu.Unlock()
		return
	}
	delete(c.calls, cl.id)
	c.mu.Unlock()
	cl.result, cl.err = r, err
	cl.cmu.Lock()
	cl.ended = true
	cl.cond.Broadcast()
	cl.cmu.Unlock()
	close(cl.done)
}

func (c *Client) send(f agentproto.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if err := agentproto.WriteFrame(c.rw, f); err != nil {
		err = fmt.Errorf("%w: write %v frame: %v", ErrClosed, f.Kind, err)
		c.broken(err)
		return err
	}
	return nil
}

// pumpStdin sends r in chunks, never more than the agent's window ahead of
// its acknowledgements, then STDIN_EOF.
func (c *Client) pumpStdin(cl *call, r io.Reader) {
	buf := make([]byte, agentproto.ChunkSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			cl.cmu.Lock()
			for cl.credit < n && !cl.ended {
				cl.cond.Wait()
			}
			ended := cl.ended
			cl.credit -= n
			cl.cmu.Unlock()
			if ended {
				return
			}
			if c.send(agentproto.Frame{Kind: agentproto.KindStdin, Session: cl.id, Payload: append([]byte(nil), buf[:n]...)}) != nil {
				return
			}
		}
		if err != nil {
			// A read error other than EOF also ends stdin: the process
			// sees EOF, as with os/exec.
			cl.cmu.Lock()
			ended := cl.ended
			cl.cmu.Unlock()
			if !ended {
				_ = c.send(agentproto.Frame{Kind: agentproto.KindStdinEOF, Session: cl.id})
			}
			return
		}
	}
}

func (c *Client) readLoop() {
	defer close(c.readDone)
	r := agentproto.NewReader(c.rw, 0)
	for {
		f, err := r.Next()
		var fe *agentproto.FrameError
		if errors.As(err, &fe) {
			c.failCall(fe.Session, fmt.Errorf("agentclient: %w", fe))
			continue
		}
		if err != nil {
			c.mu.Lock()
			closed := c.err != nil
			c.mu.Unlock()
			if !closed {
				err = fmt.Errorf("%w: read: %v", ErrClosed, err)
			} else {
				err = ErrClosed
			}
			c.broken(err)
			return
		}
		c.dispatch(f)
	}
}

func (c *Client) lookup(id uint32) *call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[id]
}

// failCall ends session id with err and tells the agent to kill it.
func (c *Client) failCall(id uint32, err error) {
	cl := c.lookup(id)
	if cl == nil {
		return
	}
	// Sent from another goroutine: the reader must never wait for the
	// write lock, or a peer blocked writing to us could deadlock the stream.
	go func() {
		_ = c.send(agentproto.Frame{Kind: agentproto.KindSignal, Session: id, Payload: agentproto.U32(9)})
	}()
	c.end(cl, Result{}, err)
}

func (c *Client) dispatch(f agentproto.Frame) {
	cl := c.lookup(f.Session)
	if cl == nil {
		return // a session we gave up on (context) or never had
	}
	switch f.Kind {
	case agentproto.KindStdout, agentproto.KindStderr:
		c.mu.Lock()
		w := cl.stdout
		if f.Kind == agentproto.KindStderr {
			w = cl.stderr
		}
		if cl.writeErr != nil {
			w = nil // drop the rest, as os/exec does after a write error
		}
		c.mu.Unlock()
		if w != nil {
			if _, err := w.Write(f.Payload); err != nil {
				c.mu.Lock()
				cl.writeErr = err
				c.mu.Unlock()
			}
		}
	case agentproto.KindStdinAck:
		n := int(agentproto.ParseU32(f.Payload))
		cl.cmu.Lock()
		cl.credit += n
		if cl.credit > agentproto.StdinWindow {
			cl.cmu.Unlock()
			c.failCall(f.Session, fmt.Errorf("agentclient: agent acknowledged more stdin than was sent"))
			return
		}
		cl.cond.Broadcast()
		cl.cmu.Unlock()
	case agentproto.KindExit:
		st, err := agentproto.ParseExit(f.Payload)
		if err != nil {
			c.failCall(f.Session, fmt.Errorf("agentclient: session %d: %w", f.Session, err))
			return
		}
		c.end(cl, Result{ExitCode: st.ExitCode, Signal: st.Signal, SignalName: st.SignalName, TimedOut: st.TimedOut}, nil)
	case agentproto.KindError:
		c.end(cl, Result{}, &RemoteError{Message: string(f.Payload)})
	default:
		c.failCall(f.Session, fmt.Errorf("agentclient: session %d: agent sent a %v frame, which only clients send", f.Session, f.Kind))
	}
}

// broken fails every pending call with err.
func (c *Client) broken(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	err = c.err
	calls := make([]*call, 0, len(c.calls))
	for _, cl := range c.calls {
		calls = append(calls, cl)
	}
	c.mu.Unlock()
	c.rw.Close()
	for _, cl := range calls {
		c.end(cl, Result{}, err)
	}
}
