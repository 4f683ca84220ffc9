package unpack

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// File decodes src into dest. It writes a temporary file in dest's directory,
// verifies size and sha256 while writing, flushes it to disk, sets
// want.Mode (default 0644) with chmod, and only then renames it over dest.
// On any failure dest is untouched and the temporary file is removed. The
// parent directory must exist. Concurrent calls for one dest are safe: each
// writes its own temporary file and the last rename wins, with identical
// content.
func File(dest string, src io.ReaderAt, srcSize int64, srcName string, want Want) error {
	return writeAtomic(dest, srcName, want.mode(), func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 64<<10)
		if err := Decode(bw, src, srcSize, srcName, want); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return newErr(srcName, IO, "write %s: %w", dest, err)
		}
		return nil
	})
}

// Copy atomically writes data, which the caller has already decoded and
// verified, to dest with want.Mode (default 0644), in the same way as File.
// It checks want.Size and want.SHA256 when they are set; callers holding
// bytes verified earlier in the process pass SHA256 "" to skip rehashing.
// Errors name dest.
func Copy(dest string, data []byte, want Want) error {
	if want.Size > 0 && int64(len(data)) != want.Size {
		return newErr(dest, SizeMismatch, "got %d bytes, want %d", len(data), want.Size)
	}
	if want.SHA256 != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != want.SHA256 {
			return newErr(dest, ChecksumMismatch, "got %s, want %s", got, want.SHA256)
		}
	}
	return writeAtomic(dest, dest, want.mode(), func(w io.Writer) error {
		if _, err := w.Write(data); err != nil {
			return newErr(dest, IO, "write %s: %w", dest, err)
		}
		return nil
	})
}

// writeAtomic runs fill on a fresh temporary file beside dest and renames it
// into place once fill succeeded and the file is on disk with mode perm.
func writeAtomic(dest, name string, perm os.FileMode, fill func(io.Writer) error) (err error) {
	if fi, statErr := os.Stat(dest); statErr == nil && fi.IsDir() {
		return newErr(name, IO, "destination %s is a directory", dest)
	}
	dir, base := filepath.Split(dest)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return newErr(name, IO, "create temporary file for %s: %w", dest, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return err
	}
	// Chmod on the open file: CreateTemp made it 0600, and the umask must
	// not influence the result.
	if err = f.Chmod(perm); err != nil {
		return newErr(name, IO, "chmod %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return newErr(name, IO, "sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return newErr(name, IO, "close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, dest); err != nil {
		return newErr(name, IO, "rename into place: %w", err)
	}
	return nil
}

// verifier passes output through to w while counting, hashing and enforcing
// the size limit, so nothing larger than declared is ever written.
type verifier struct {
	w     io.Writer
	name  string
	want  Want
	limit int64
	n     int64
	h     hashWriter
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func newVerifier(w io.Writer, name string, want Want) *verifier {
	v := &verifier{w: w, name: name, want: want, limit: want.limit()}
	if want.SHA256 != "" {
		v.h = sha256.New()
	}
	return v
}

func (v *verifier) Write(p []byte) (int, error) {
	if int64(len(p)) > v.limit-v.n {
		if v.want.Size > 0 {
			return 0, newErr(v.name, TooLarge, "output exceeds the declared %d bytes", v.limit)
		}
		return 0, newErr(v.name, TooLarge, "output exceeds the limit of %d bytes", v.limit)
	}
	if v.h != nil {
		v.h.Write(p)
	}
	n, err := v.w.Write(p)
	v.n += int64(n)
	if err != nil {
		return n, &Error{File: v.name, Kind: IO, Err: err}
	}
	return n, nil
}

// finish checks the totals once the stream has ended.
func (v *verifier) finish() error {
	if v.want.Size > 0 && v.n != v.want.Size {
		return newErr(v.name, SizeMismatch, "got %d bytes, want %d", v.n, v.want.Size)
	}
	if v.h != nil {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.SHA256 {
			return newErr(v.name, ChecksumMismatch, "got %s, want %s", got, v.want.SHA256)
		}
	}
	return nil
}

// errorf is fmt.Errorf, kept short for the decoder's many checks.
var errorf = fmt.Errorf
