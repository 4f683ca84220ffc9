package agentclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/supermachine/supermachine_kernel/guest/agentproto"
)

// FuzzClientStream plays an arbitrary byte stream as the agent's side of a
// connection while one Exec (with stdin) is pending. Whatever the stream
// holds, the client must not panic, and the Exec must return on its own once
// the stream has ended: with a result, a *RemoteError or a broken-stream
// error, never by running into its context's deadline. It never receives
// more output than the stream carried. Seeds live in
// testdata/fuzz/FuzzClientStream; run it with
//
//	go test -run '^$' -fuzz FuzzClientStream -fuzztime 30s ./agentclient
func FuzzClientStream(f *testing.F) {
	frame := func(kind agentproto.Kind, id uint32, p string) []byte {
		return agentproto.Append(nil, agentproto.Frame{Kind: kind, Session: id, Payload: []byte(p)})
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add(cat(frame(agentproto.KindStdout, 1, "out"), frame(agentproto.KindExit, 1, `{"exit_code":0}`)))
	f.Add(cat(frame(agentproto.KindStdinAck, 1, "\x00\x00\x00\x05"), frame(agentproto.KindExit, 1, `{"exit_code":-1,"signal":9,"signal_name":"SIGKILL","timed_out":true}`)))
	f.Add(frame(agentproto.KindError, 1, "exec \"x\": not found"))
	f.Add(cat(frame(agentproto.KindStdinAck, 1, "\x00\x10\x00\x00"), frame(agentproto.KindStderr, 1, "e")))
	f.Add(frame(agentproto.KindExit, 1, `{"exit_code":300}`))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x81, 0, 0, 0, 1, 'x'})
	f.Add(frame(agentproto.KindOpen, 1, `{"argv":["x"]}`)[:11])
	f.Fuzz(func(t *testing.T, stream []byte) {
		agentEnd, clientEnd := net.Pipe()
		c := New(clientEnd)
		go func() {
			// The agent's side: swallow what the client sends, play the
			// stream, hang up.
			go io.Copy(io.Discard, agentEnd)
			agentEnd.Write(stream)
			agentEnd.Close()
		}()
		defer func() {
			c.Close()
			agentEnd.Close()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var stdout, stderr bytes.Buffer
		_, err := c.Exec(ctx, Request{
			Argv:   []string{"fuzz"},
			Stdin:  bytes.NewReader(make([]byte, 100)),
			Stdout: &stdout, Stderr: &stderr,
		})
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("Exec still waiting 20 s after the stream ended")
		}
		if n := stdout.Len() + stderr.Len(); n > len(stream) {
			t.Fatalf("%d bytes of output from a %d-byte stream", n, len(stream))
		}
	})
}
