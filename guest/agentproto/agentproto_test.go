package agentproto

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func frameBytes(frames ...Frame) []byte {
	var b []byte
	for _, f := range frames {
		b = Append(b, f)
	}
	return b
}

func TestReaderRoundTrip(t *testing.T) {
	in := []Frame{
		{Kind: KindOpen, Session: 1, Payload: []byte(`{"argv":["true"]}`)},
		{Kind: KindStdin, Session: 1, Payload: []byte{}},
		{Kind: KindStdin, Session: 0xffffffff, Payload: bytes.Repeat([]byte{0xff}, MaxPayload)},
		{Kind: KindStdinEOF, Session: 1, Payload: []byte{}},
		{Kind: KindSignal, Session: 2, Payload: U32(15)},
		{Kind: KindStdinAck, Session: 2, Payload: U32(MaxPayload)},
		{Kind: KindError, Session: 3, Payload: []byte("boom")},
	}
	r := NewReader(bytes.NewReader(frameBytes(in...)), 0)
	for i, want := range in {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got.Kind != want.Kind || got.Session != want.Session || !bytes.Equal(got.Payload, want.Payload) {
			t.Errorf("frame %d: got %v/%d/%d bytes, want %v/%d/%d bytes", i, got.Kind, got.Session, len(got.Payload), want.Kind, want.Session, len(want.Payload))
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}

func TestReaderErrors(t *testing.T) {
	good := Frame{Kind: KindStdin, Session: 9, Payload: []byte("next")}
	raw := func(n uint32, kind byte, session uint32, payload []byte) []byte {
		b := U32(n)
		b = append(b, kind)
		b = append(b, U32(session)...)
		return append(b, payload...)
	}
	tests := []struct {
		name      string
		stream    []byte
		max       int
		wantFrame string // substring of the FrameError, "" for a stream error
		wantErr   error
		inStep    bool // the good frame after it must still decode
	}{
		{name: "oversized is skipped", stream: raw(11, byte(KindStdin), 4, make([]byte, 11)), max: 10, wantFrame: "payload of 11 bytes exceeds the limit of 10", inStep: true},
		{name: "oversized at 4 GiB declared, truncated", stream: raw(0xffffffff, byte(KindStdin), 4, make([]byte, 100)), max: 10, wantErr: io.ErrUnexpectedEOF},
		{name: "unknown kind", stream: raw(0, 0x42, 4, nil), wantFrame: "unknown kind", inStep: true},
		{name: "session 0", stream: raw(0, byte(KindStdin), 0, nil), wantFrame: "session 0 is reserved", inStep: true},
		{name: "EOF with payload", stream: raw(1, byte(KindStdinEOF), 4, []byte{1}), wantFrame: "must be empty", inStep: true},
		{name: "short signal", stream: raw(2, byte(KindSignal), 4, []byte{0, 9}), wantFrame: "must be 4 bytes", inStep: true},
		{name: "empty open", stream: raw(0, byte(KindOpen), 4, nil), wantFrame: "empty JSON", inStep: true},
		{name: "truncated header", stream: []byte{0, 0, 0}, wantErr: io.ErrUnexpectedEOF},
		{name: "truncated payload", stream: raw(5, byte(KindStdin), 4, []byte("ab")), wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := tt.stream
			if tt.inStep {
				stream = append(append([]byte{}, stream...), frameBytes(good)...)
			}
			r := NewReader(bytes.NewReader(stream), tt.max)
			_, err := r.Next()
			var fe *FrameError
			if tt.wantFrame != "" {
				if !errors.As(err, &fe) || !strings.Contains(fe.Error(), tt.wantFrame) || fe.Session != 4 && tt.name != "session 0" {
					t.Fatalf("err = %v, want a FrameError for session 4 containing %q", err, tt.wantFrame)
				}
			} else if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.inStep {
				f, err := r.Next()
				if err != nil || f.Session != good.Session || string(f.Payload) != "next" {
					t.Errorf("frame after the bad one: %+v, %v", f, err)
				}
			}
		})
	}
}

func TestWriteFrameRefusesOversized(t *testing.T) {
	var b bytes.Buffer
	if err := WriteFrame(&b, Frame{Kind: KindStdout, Session: 1, Payload: make([]byte, MaxPayload+1)}); err == nil || b.Len() != 0 {
		t.Errorf("err = %v, %d bytes written; want an error and nothing written", err, b.Len())
	}
}

func TestParseOpen(t *testing.T) {
	tests := []struct {
		payload string
		wantErr string
	}{
		{`{"argv":["sh","-c","true"],"env":["A=1"],"dir":"/","timeout_ms":5,"stdin":true}`, ""},
		{`{"argv":[]}`, "argv is empty"},
		{`{"argv":[""]}`, "argv is empty"},
		{`{"argv":["a\u0000"]}`, "NUL"},
		{`{"argv":["a"],"env":["X"]}`, "not KEY=VALUE"},
		{`{"argv":["a"],"env":["=x"]}`, "not KEY=VALUE"},
		{`{"argv":["a"],"timeout_ms":-1}`, "negative"},
		{`{"argv":["a"],"pty":true}`, "unknown field"},
		{`{"argv":["a"]} {}`, "trailing data"},
		{`[`, "OPEN payload"},
	}
	for _, tt := range tests {
		_, err := ParseOpen([]byte(tt.payload))
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("ParseOpen(%s) = %v, want %q", tt.payload, err, tt.wantErr)
		}
	}
}

func TestParseExit(t *testing.T) {
	tests := []struct {
		payload string
		want    ExitStatus
		wantErr bool
	}{
		{`{"exit_code":3}`, ExitStatus{ExitCode: 3}, false},
		{`{"exit_code":-1,"signal":9,"signal_name":"SIGKILL","timed_out":true}`, ExitStatus{ExitCode: -1, Signal: 9, SignalName: "SIGKILL", TimedOut: true}, false},
		{`{"exit_code":256}`, ExitStatus{}, true},
		{`{"exit_code":0,"signal":9}`, ExitStatus{}, true},
		{`{"exit_code":-1,"signal":99}`, ExitStatus{}, true},
		{`nope`, ExitStatus{}, true},
	}
	for _, tt := range tests {
		got, err := ParseExit([]byte(tt.payload))
		if (err != nil) != tt.wantErr || err == nil && *got != tt.want {
			t.Errorf("ParseExit(%s) = %+v, %v", tt.payload, got, err)
		}
	}
}
