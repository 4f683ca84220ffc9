package unpack

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/ulikunitz/xz"
)

// Decode decodes the xz data in src (srcSize bytes, named srcName in errors)
// into dst, checking every block's check, the exact size and the sha256 in
// want. dst receives output as it is verified block by block; the sha256 and
// a short output are only known at the end, so callers that must not expose
// unverified bytes use File or Bytes.
func Decode(dst io.Writer, src io.ReaderAt, srcSize int64, srcName string, want Want) error {
	v := newVerifier(dst, srcName, want)
	if err := decodeSequential(v, src, srcSize, srcName); err != nil {
		return err
	}
	return v.finish()
}

// Bytes decodes src and returns the verified output.
func Bytes(src []byte, srcName string, want Want) ([]byte, error) {
	var buf bytes.Buffer
	if want.Size > 0 {
		buf.Grow(int(want.Size))
	}
	if err := Decode(&buf, bytes.NewReader(src), int64(len(src)), srcName, want); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeSequential is the reference path: ulikunitz's stream reader over a
// buffered reader (unbuffered, it issues one read per compressed byte).
func decodeSequential(dst io.Writer, src io.ReaderAt, srcSize int64, name string) error {
	r, err := xz.NewReader(bufio.NewReaderSize(io.NewSectionReader(src, 0, srcSize), 1<<16))
	if err != nil {
		return classify(name, err)
	}
	buf := make([]byte, 1<<16)
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return classify(name, rerr)
		}
	}
}

// classify turns a decoder error into an *Error.
func classify(name string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &Error{File: name, Kind: Truncated, Err: err}
	}
	return &Error{File: name, Kind: Corrupt, Err: err}
}
