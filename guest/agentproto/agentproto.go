// Package agentproto is the wire format spoken between supermachine-agent
// (inside the guest) and its host-side clients (package agentclient).
//
// A connection is a byte stream carrying frames. Every frame is a 9-byte
// header (payload length u32, kind u8, session u32, all big-endian) followed
// by the payload. Sessions are multiplexed over one stream by their id; see
// docs/agent-protocol.md for the full specification.
package agentproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// HeaderSize is the size in bytes of a frame header.
const HeaderSize = 9

// MaxPayload is the largest payload a peer accepts by default. A frame that
// declares a larger payload is skipped and ends its session with an error.
const MaxPayload = 1 << 20

// ChunkSize is the size of the data chunks (stdin, stdout, stderr) peers
// send. It is well under MaxPayload so data frames never approach the limit.
const ChunkSize = 32 << 10

// StdinWindow is the number of stdin bytes a client may have sent on one
// session without an acknowledgement (KindStdinAck) from the agent. It bounds
// the agent's memory per session without stalling the shared stream.
const StdinWindow = 1 << 20

// MaxSessions is the default limit on sessions open at once on one
// connection.
const MaxSessions = 128

// Kind identifies what a frame carries.
type Kind uint8

// Client-to-agent kinds.
const (
	// KindOpen starts a session: payload is an OpenRequest as JSON.
	KindOpen Kind = 0x01
	// KindStdin carries bytes for the process's standard input.
	KindStdin Kind = 0x02
	// KindStdinEOF closes the process's standard input; empty payload.
	KindStdinEOF Kind = 0x03
	// KindSignal sends a signal to the session's process group; payload is
	// the Linux signal number as u32.
	KindSignal Kind = 0x04
)

// Agent-to-client kinds.
const (
	// KindStdout carries bytes the process wrote to standard output.
	KindStdout Kind = 0x81
	// KindStderr carries bytes the process wrote to standard error.
	KindStderr Kind = 0x82
	// KindExit ends a session: payload is an ExitStatus as JSON.
	KindExit Kind = 0x83
	// KindError ends a session with an error: payload is a UTF-8 message.
	KindError Kind = 0x84
	// KindStdinAck acknowledges stdin bytes written to the process; payload
	// is the byte count as u32.
	KindStdinAck Kind = 0x85
)

// String names the kind as in docs/agent-protocol.md.
func (k Kind) String() string {
	switch k {
	case KindOpen:
		return "OPEN"
	case KindStdin:
		return "STDIN"
	case KindStdinEOF:
		return "STDIN_EOF"
	case KindSignal:
		return "SIGNAL"
	case KindStdout:
		return "STDOUT"
	case KindStderr:
		return "STDERR"
	case KindExit:
		return "EXIT"
	case KindError:
		return "ERROR"
	case KindStdinAck:
		return "STDIN_ACK"
	}
	return fmt.Sprintf("kind(0x%02x)", uint8(k))
}

// FromClient reports whether k is a kind only clients send.
func (k Kind) FromClient() bool { return k >= KindOpen && k <= KindSignal }

// FromAgent reports whether k is a kind only the agent sends.
func (k Kind) FromAgent() bool { return k >= KindStdout && k <= KindStdinAck }

// Frame is one decoded frame.
type Frame struct {
	Kind    Kind
	Session uint32
	Payload []byte
}

// FrameError reports a frame that was read completely (the stream is still
// in step) but is invalid. It names the session the frame was for, so the
// receiver can end that session alone and keep serving the others.
type FrameError struct {
	Session uint32
	Kind    Kind
	Reason  string
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("agentproto: bad %v frame for session %d: %s", e.Kind, e.Session, e.Reason)
}

// Reader decodes frames from a byte stream.
type Reader struct {
	r   *bufio.Reader
	max int
	hdr [HeaderSize]byte
}

// NewReader returns a Reader that rejects payloads larger than maxPayload
// (MaxPayload when maxPayload <= 0).
func NewReader(r io.Reader, maxPayload int) *Reader {
	if maxPayload <= 0 {
		maxPayload = MaxPayload
	}
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), max: maxPayload}
}

// Next returns the next frame. A *FrameError means the frame was skipped
// and the stream is still usable; any other error (io.EOF at a frame
// boundary, io.ErrUnexpectedEOF inside a frame, or the transport's error)
// means the stream is finished.
func (r *Reader) Next() (Frame, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		return Frame{}, err
	}
	n := binary.BigEndian.Uint32(r.hdr[0:4])
	f := Frame{Kind: Kind(r.hdr[4]), Session: binary.BigEndian.Uint32(r.hdr[5:9])}
	if uint64(n) > uint64(r.max) {
		// Skip the payload so the next header is read in step.
		if _, err := io.CopyN(io.Discard, r.r, int64(n)); err != nil {
			return Frame{}, unexpected(err)
		}
		return Frame{}, &FrameError{Session: f.Session, Kind: f.Kind,
			Reason: fmt.Sprintf("payload of %d bytes exceeds the limit of %d", n, r.max)}
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(r.r, f.Payload); err != nil {
		return Frame{}, unexpected(err)
	}
	if err := Check(f); err != nil {
		return Frame{}, err
	}
	return f, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Check validates what can be validated without knowing the sender: the
// session id, the kind and fixed payload sizes. It returns a *FrameError.
func Check(f Frame) error {
	bad := func(format string, args ...any) error {
		return &FrameError{Session: f.Session, Kind: f.Kind, Reason: fmt.Sprintf(format, args...)}
	}
	if f.Session == 0 {
		return bad("session 0 is reserved")
	}
	if !f.Kind.FromClient() && !f.Kind.FromAgent() {
		return bad("unknown kind")
	}
	switch f.Kind {
	case KindStdinEOF:
		if len(f.Payload) != 0 {
			return bad("payload must be empty, got %d bytes", len(f.Payload))
		}
	case KindSignal, KindStdinAck:
		if len(f.Payload) != 4 {
			return bad("payload must be 4 bytes, got %d", len(f.Payload))
		}
	case KindOpen, KindExit:
		if len(f.Payload) == 0 {
			return bad("empty JSON payload")
		}
	}
	return nil
}

// Append appends the encoding of f to buf and returns the result.
func Append(buf []byte, f Frame) []byte {
	var hdr [HeaderSize]byte
	binary.BigEndian.PutUint32(hdr[0:4], uint32(len(f.Payload)))
	hdr[4] = byte(f.Kind)
	binary.BigEndian.PutUint32(hdr[5:9], f.Session)
	buf = append(buf, hdr[:]...)
	return append(buf, f.Payload...)
}

// WriteFrame writes f with a single Write call, so writers that serialise
// their calls with a mutex never interleave frames. It refuses payloads over
// MaxPayload.
func WriteFrame(w io.Writer, f Frame) error {
	if len(f.Payload) > MaxPayload {
		return fmt.Errorf("agentproto: %v payload of %d bytes exceeds the limit of %d", f.Kind, len(f.Payload), MaxPayload)
	}
	_, err := w.Write(Append(make([]byte, 0, HeaderSize+len(f.Payload)), f))
	return err
}

// U32 encodes v as a 4-byte payload (KindSignal, KindStdinAck).
func U32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// ParseU32 decodes a 4-byte payload; Check has already verified the size.
func ParseU32(p []byte) uint32 { return binary.BigEndian.Uint32(p) }

// OpenRequest is the payload of KindOpen.
type OpenRequest struct {
	// Argv is the program and its arguments; Argv[0] is looked up in the
	// PATH of the resulting environment when it holds no slash.
	Argv []string `json:"argv"`
	// Env entries (KEY=VALUE) are added to the agent's own environment,
	// replacing entries with the same key.
	Env []string `json:"env,omitempty"`
	// Dir is the working directory; empty means the agent's.
	Dir string `json:"dir,omitempty"`
	// TimeoutMS kills the process group with SIGKILL after that many
	// milliseconds; 0 means no timeout.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
	// Stdin says the client will send KindStdin frames; when false the
	// process reads from /dev/null.
	Stdin bool `json:"stdin,omitempty"`
}

// Validate reports the first problem with r.
func (r *OpenRequest) Validate() error {
	if len(r.Argv) == 0 || r.Argv[0] == "" {
		return errors.New("argv is empty")
	}
	for i, a := range r.Argv {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("argv[%d] contains a NUL byte", i)
		}
	}
	for i, e := range r.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" {
			return fmt.Errorf("env[%d] %q is not KEY=VALUE", i, e)
		}
		if strings.IndexByte(e, 0) >= 0 {
			return fmt.Errorf("env[%d] contains a NUL byte", i)
		}
	}
	if strings.IndexByte(r.Dir, 0) >= 0 {
		return errors.New("dir contains a NUL byte")
	}
	if r.TimeoutMS < 0 {
		return fmt.Errorf("timeout_ms %d is negative", r.TimeoutMS)
	}
	return nil
}

// ParseOpen decodes and validates a KindOpen payload. Unknown fields are
// rejected so a client relying on a feature this agent lacks hears so.
func ParseOpen(p []byte) (*OpenRequest, error) {
	var r OpenRequest
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("OPEN payload: %w", err)
	}
	if dec.More() {
		return nil, errors.New("OPEN payload: trailing data after the JSON object")
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("OPEN payload: %w", err)
	}
	return &r, nil
}

// ExitStatus is the payload of KindExit.
type ExitStatus struct {
	// ExitCode is the process's exit code, or -1 when a signal killed it.
	ExitCode int `json:"exit_code"`
	// Signal is the Linux number of the signal that killed the process.
	Signal int `json:"signal,omitempty"`
	// SignalName is the signal's name, e.g. "SIGKILL".
	SignalName string `json:"signal_name,omitempty"`
	// TimedOut says the agent killed the process because the request's
	// timeout expired.
	TimedOut bool `json:"timed_out,omitempty"`
}

// ParseExit decodes and checks a KindExit payload.
func ParseExit(p []byte) (*ExitStatus, error) {
	var s ExitStatus
	if err := json.Unmarshal(p, &s); err != nil {
		return nil, fmt.Errorf("EXIT payload: %w", err)
	}
	switch {
	case s.Signal < 0 || s.Signal > 64:
		return nil, fmt.Errorf("EXIT payload: signal %d out of range", s.Signal)
	case s.Signal == 0 && (s.ExitCode < 0 || s.ExitCode > 255):
		return nil, fmt.Errorf("EXIT payload: exit_code %d out of range", s.ExitCode)
	case s.Signal != 0 && s.ExitCode != -1:
		return nil, fmt.Errorf("EXIT payload: exit_code %d with signal %d (want -1)", s.ExitCode, s.Signal)
	}
	return &s, nil
}
