// Package report is the contract between the guest probe (the test image's
// entrypoint, internal/probe) and the host-side boot tests: the console
// lines the probe prints, the JSON report it prints them with, and the
// deterministic byte pattern used to check large outputs.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
)

// Console markers. Each starts a line of its own on the guest console.
const (
	// Greeting is the first thing the probe prints in "main" mode.
	Greeting = "hello from the supermachine guest"
	// ReportPrefix starts the line holding the JSON Report.
	ReportPrefix = "probe-report: "
	// AgentReady is printed in "serve" mode: the entrypoint runs, so
	// init-oci has started the agent and the host may dial it.
	AgentReady = "probe: agent-ready"
	// StopFile is where "probe stop CODE" writes CODE for "probe serve".
	StopFile = "/run/probe-stop"
)

// Statfs is the part of statfs(2) the overlay checks use.
type Statfs struct {
	Type   int64  `json:"type"`
	Bsize  int64  `json:"bsize"`
	Blocks uint64 `json:"blocks"`
	Bfree  uint64 `json:"bfree"`
	Err    string `json:"err,omitempty"`
}

// Report is what the probe finds out about its environment in "main" mode.
// Fields holding an error string are empty when the step worked.
type Report struct {
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
	Cwd  string   `json:"cwd"`
	UID  int      `json:"uid"`
	PID  int      `json:"pid"`

	// RootMount is the mountinfo line of "/" (mount point "/").
	RootMount string `json:"root_mount"`
	// RootBefore and RootAfter are statfs("/") around writing WriteSize
	// bytes to WrotePath; TmpStatfs is statfs of a fresh tmpfs (/tmp) for
	// comparison: an overlay reports its upper layer's statfs.
	RootBefore Statfs `json:"root_before"`
	RootAfter  Statfs `json:"root_after"`
	TmpStatfs  Statfs `json:"tmp_statfs"`
	WrotePath  string `json:"wrote_path"`
	WriteSize  int64  `json:"write_size"`
	WriteErr   string `json:"write_err,omitempty"`
	// ImageFile is a file of the image; the probe overwrites it with
	// ImageFileNew and reads it back (ImageFileMerged).
	ImageFile       string `json:"image_file"`
	ImageFileNew    string `json:"image_file_new"`
	ImageFileMerged string `json:"image_file_merged"`
	// LowerDevice was mounted read-only at LowerMount to look at the image
	// layer itself after the writes: LowerImageFile is ImageFile's content
	// there, LowerHasWrote whether WrotePath exists there.
	LowerDevice    string `json:"lower_device"`
	LowerMount     string `json:"lower_mount"`
	LowerErr       string `json:"lower_err,omitempty"`
	LowerImageFile string `json:"lower_image_file"`
	LowerHasWrote  bool   `json:"lower_has_wrote"`

	// Protocols is the first column of /proc/net/protocols.
	Protocols    []string `json:"protocols"`
	ProtocolsErr string   `json:"protocols_err,omitempty"`

	// ExitCode is the code the probe exits with after printing the report.
	ExitCode int `json:"exit_code"`
}

// Line returns the console line for r, with its newline.
func (r *Report) Line() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append(append([]byte("\n"+ReportPrefix), b...), '\n'), nil
}

// Find returns the last report in a console log. The error says what is
// missing or malformed.
func Find(console []byte) (*Report, error) {
	var last []byte
	sc := bufio.NewScanner(bytes.NewReader(console))
	sc.Buffer(make([]byte, 0, 64<<10), len(console)+1)
	for sc.Scan() {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		if rest, ok := bytes.CutPrefix(line, []byte(ReportPrefix)); ok {
			last = append([]byte(nil), rest...)
		}
	}
	if last == nil {
		return nil, fmt.Errorf("no %q line on the console", ReportPrefix)
	}
	var r Report
	if err := json.Unmarshal(last, &r); err != nil {
		return nil, fmt.Errorf("malformed %q line: %v", ReportPrefix, err)
	}
	return &r, nil
}

// Pattern returns n bytes of a fixed, non-repeating-looking sequence
// (a xorshift stream), so a dropped, duplicated or reordered chunk of a
// large output cannot go unnoticed.
func Pattern(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
