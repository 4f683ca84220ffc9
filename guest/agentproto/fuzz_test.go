package agentproto

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzReader feeds arbitrary streams to the decoder with a small limit:
// it must never panic, never return a payload over the limit or a frame
// that fails Check, and every frame it returns must re-encode to the bytes
// it came from. Run: go test ./guest/agentproto -run=^$ -fuzz=FuzzReader -fuzztime=30s
func FuzzReader(f *testing.F) {
	f.Add(Append(nil, Frame{Kind: KindOpen, Session: 1, Payload: []byte(`{"argv":["true"]}`)}))
	f.Add(append(Append(nil, Frame{Kind: KindStdin, Session: 2, Payload: []byte("hi")}), Append(nil, Frame{Kind: KindStdinEOF, Session: 2})...))
	f.Add([]byte{0, 0, 1, 0, 2, 0, 0, 0, 3}) // oversized, truncated
	f.Add([]byte{0, 0, 0, 0, 0x42, 0, 0, 0, 1})
	const limit = 64
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := NewReader(bytes.NewReader(stream), limit)
		consumed := 0
		for range 1000 {
			fr, err := r.Next()
			var fe *FrameError
			if errors.As(err, &fe) {
				continue
			}
			if err != nil {
				return
			}
			if len(fr.Payload) > limit {
				t.Fatalf("payload of %d bytes over the limit %d", len(fr.Payload), limit)
			}
			if err := Check(fr); err != nil {
				t.Fatalf("returned a frame that fails Check: %v", err)
			}
			enc := Append(nil, fr)
			if i := bytes.Index(stream[consumed:], enc); i < 0 {
				t.Fatalf("frame %v/%d does not re-encode to bytes of the stream", fr.Kind, fr.Session)
			} else {
				consumed += i + len(enc)
			}
		}
	})
}
