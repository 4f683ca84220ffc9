// Package initstatus formats and parses the one line init-oci prints on the
// console when the entrypoint ends or init-oci gives up, right before it
// powers the VM off. Boot tests read a console log with Find.
//
// The lines are exactly:
//
//	init-oci: exit status=N     the entrypoint exited with code N (0..255)
//	init-oci: exit signal=N     a signal (Linux number N) killed the entrypoint
//	init-oci: error: MESSAGE    init-oci failed before or while running it
package initstatus

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Prefix starts every line init-oci prints.
const Prefix = "init-oci: "

// Status is how the guest run ended.
type Status struct {
	// Code is the exit code when Signal is 0 and Err is "".
	Code int
	// Signal is the number of the signal that killed the entrypoint.
	Signal int
	// Err is init-oci's own failure; Code and Signal are then 0.
	Err string
}

// Exited is the status of an entrypoint that exited with code.
func Exited(code int) Status { return Status{Code: code} }

// Signaled is the status of an entrypoint killed by sig.
func Signaled(sig int) Status { return Status{Signal: sig} }

// Failed is the status when init-oci itself failed.
func Failed(err error) Status {
	msg := strings.Join(strings.Fields(err.Error()), " ") // one line
	if msg == "" {
		msg = "unknown error"
	}
	return Status{Err: msg}
}

// String is the console line, without a newline.
func (s Status) String() string {
	switch {
	case s.Err != "":
		return Prefix + "error: " + s.Err
	case s.Signal != 0:
		return Prefix + "exit signal=" + strconv.Itoa(s.Signal)
	}
	return Prefix + "exit status=" + strconv.Itoa(s.Code)
}

// Parse reads one console line (a trailing "\r" from the tty is ignored).
func Parse(line string) (Status, bool) {
	line = strings.TrimRight(line, "\r\n")
	rest, ok := strings.CutPrefix(line, Prefix)
	if !ok {
		return Status{}, false
	}
	if msg, ok := strings.CutPrefix(rest, "error: "); ok && msg != "" {
		return Status{Err: msg}, true
	}
	num := func(s string, lo, hi int) (int, bool) {
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi || strconv.Itoa(n) != s {
			return 0, false
		}
		return n, true
	}
	if v, ok := strings.CutPrefix(rest, "exit status="); ok {
		n, ok := num(v, 0, 255)
		return Status{Code: n}, ok
	}
	if v, ok := strings.CutPrefix(rest, "exit signal="); ok {
		n, ok := num(v, 1, 64)
		return Status{Signal: n}, ok
	}
	return Status{}, false
}

// Find returns the last status line in a console log. Lines are split on
// "\n"; init-oci starts its line with a newline of its own, so it never
// shares a line with the entrypoint's last output.
func Find(console []byte) (Status, bool) {
	var last Status
	found := false
	sc := bufio.NewScanner(bytes.NewReader(console))
	sc.Buffer(make([]byte, 0, 64<<10), len(console)+1)
	for sc.Scan() {
		if st, ok := Parse(sc.Text()); ok {
			last, found = st, true
		}
	}
	return last, found
}

// Line is the bytes init-oci writes: a newline, the status line, a
// newline.
func (s Status) Line() []byte { return []byte(fmt.Sprintf("\n%s\n", s)) }
