package agentclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/supermachine/supermachine_kernel/guest/agentproto"
)

// fakeAgent answers OPEN frames with a scripted reply chosen by argv[0],
// so the client's handling of what a real agent never sends is tested.
// The real agent is tested against this client in guest/internal/agent.
func fakeAgent(t *testing.T, conn net.Conn) {
	t.Helper()
	r := agentproto.NewReader(conn, 0)
	send := func(kind agentproto.Kind, id uint32, p []byte) {
		if _, err := conn.Write(agentproto.Append(nil, agentproto.Frame{Kind: kind, Session: id, Payload: p})); err != nil {
			t.Errorf("fake agent write: %v", err)
		}
	}
	go func() {
		for {
			f, err := r.Next()
			if err != nil {
				return
			}
			if f.Kind != agentproto.KindOpen {
				continue
			}
			req, err := agentproto.ParseOpen(f.Payload)
			if err != nil {
				send(agentproto.KindError, f.Session, []byte(err.Error()))
				continue
			}
			switch req.Argv[0] {
			case "ok":
				send(agentproto.KindStdout, f.Session, []byte("out"))
				send(agentproto.KindStderr, f.Session, []byte("err"))
				send(agentproto.KindStdout, 999, []byte("for nobody")) // dropped
				send(agentproto.KindExit, f.Session, []byte(`{"exit_code":5}`))
			case "bad-exit":
				send(agentproto.KindExit, f.Session, []byte(`{"exit_code":"five"}`))
			case "exit-range":
				send(agentproto.KindExit, f.Session, []byte(`{"exit_code":300}`))
			case "client-kind":
				send(agentproto.KindOpen, f.Session, []byte(`{}`))
			case "over-ack":
				send(agentproto.KindStdinAck, f.Session, agentproto.U32(agentproto.StdinWindow))
			case "short-ack":
				send(agentproto.KindStdinAck, f.Session, []byte{1})
			case "oversized":
				hdr := agentproto.Append(nil, agentproto.Frame{Kind: agentproto.KindStdout, Session: f.Session})
				big := make([]byte, agentproto.MaxPayload+1)
				copy(hdr[:4], agentproto.U32(uint32(len(big))))
				conn.Write(append(hdr, big...))
			case "remote-error":
				send(agentproto.KindError, f.Session, []byte("exec \"x\": not found"))
			case "hang":
				// never answers
			case "hangup":
				conn.Close()
				return
			}
		}
	}()
}

func newFake(t *testing.T) *Client {
	a, b := net.Pipe()
	fakeAgent(t, a)
	c := New(b)
	t.Cleanup(func() { c.Close(); a.Close() })
	return c
}

func TestExecAgainstFakeAgent(t *testing.T) {
	tests := []struct {
		argv    string
		want    Result
		wantErr string
		remote  bool
	}{
		{argv: "ok", want: Result{ExitCode: 5}},
		{argv: "bad-exit", wantErr: "EXIT payload"},
		{argv: "exit-range", wantErr: "exit_code 300 out of range"},
		{argv: "client-kind", wantErr: "which only clients send"},
		{argv: "over-ack", wantErr: "acknowledged more stdin"},
		{argv: "short-ack", wantErr: "must be 4 bytes"},
		{argv: "oversized", wantErr: "exceeds the limit"},
		{argv: "remote-error", wantErr: "not found", remote: true},
	}
	c := newFake(t)
	for _, tt := range tests {
		t.Run(tt.argv, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			// A long session runs across the bad one and must be unaffected.
			long := make(chan error, 1)
			go func() {
				_, err := c.Exec(ctx, Request{Argv: []string{"hang"}})
				long <- err
			}()
			got, err := c.Exec(ctx, Request{Argv: []string{tt.argv}, Stdout: &out, Stderr: &errOut})
			if tt.wantErr != "" {
				var re *RemoteError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.As(err, &re) != tt.remote {
					t.Fatalf("err = %v, want %q (remote %v)", err, tt.wantErr, tt.remote)
				}
			} else {
				if err != nil || got != tt.want || out.String() != "out" || errOut.String() != "err" {
					t.Fatalf("got %+v, %v, stdout %q, stderr %q", got, err, out.String(), errOut.String())
				}
			}
			select {
			case err := <-long:
				t.Fatalf("the other session ended: %v", err)
			default:
			}
			cancel()
			if err := <-long; !errors.Is(err, context.Canceled) {
				t.Errorf("other session: %v, want context.Canceled", err)
			}
		})
	}
}

func TestStreamLossFailsPendingCalls(t *testing.T) {
	c := newFake(t)
	pending := make(chan error, 1)
	go func() {
		_, err := c.Exec(context.Background(), Request{Argv: []string{"hang"}})
		pending <- err
	}()
	time.Sleep(50 * time.Millisecond)
	_, err := c.Exec(context.Background(), Request{Argv: []string{"hangup"}})
	for _, err := range []error{err, <-pending} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("err = %v, want ErrClosed", err)
		}
	}
}

func TestExecRejectsBadRequests(t *testing.T) {
	c := newFake(t)
	for _, req := range []Request{{}, {Argv: []string{""}}, {Argv: []string{"x"}, Env: []string{"NOEQ"}}, {Argv: []string{strings.Repeat("a", agentproto.MaxPayload)}}} {
		if _, err := c.Exec(context.Background(), req); err == nil {
			t.Errorf("Exec(%+v) succeeded", req.Env)
		}
	}
}

func TestOutputWriterError(t *testing.T) {
	c := newFake(t)
	res, err := c.Exec(context.Background(), Request{Argv: []string{"ok"}, Stdout: failWriter{}})
	if err == nil || !strings.Contains(err.Error(), "writing output") || res.ExitCode != 5 {
		t.Errorf("got %+v, %v; want the result and a write error", res, err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

func TestDial(t *testing.T) {
	sock := t.TempDir() + "/a.sock"
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		conn, err := l.Accept()
		if err == nil {
			fakeAgent(t, conn)
		}
	}()
	c, err := Dial(context.Background(), "unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if res, err := c.Exec(context.Background(), Request{Argv: []string{"ok"}}); err != nil || res.ExitCode != 5 {
		t.Errorf("Exec over Dial: %+v, %v", res, err)
	}
	if _, err := Dial(context.Background(), "unix", sock+".missing"); err == nil || !strings.Contains(err.Error(), "a.sock.missing") {
		t.Errorf("Dial to a missing socket: %v", err)
	}
}
