package report

import (
	"bytes"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	good, err := (&Report{Argv: []string{"probe", "main"}, Cwd: "/work", ExitCode: 3}).Line()
	if err != nil {
		t.Fatal(err)
	}
	crlf := bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n"))
	for _, tc := range []struct {
		name    string
		console string
		cwd     string
		err     string
	}{
		{"plain", "boot noise\n" + string(good) + "init-oci: exit status=3\n", "/work", ""},
		{"tty-crlf", string(crlf), "/work", ""},
		{"last-wins", ReportPrefix + `{"cwd":"/first"}` + "\n" + ReportPrefix + `{"cwd":"/second"}` + "\n", "/second", ""},
		{"missing", "hello\ninit-oci: exit status=0\n", "", "no \"probe-report: \" line"},
		{"empty", "", "", "no \"probe-report: \" line"},
		{"malformed", ReportPrefix + `{"cwd":` + "\n", "", "malformed"},
		{"not-at-line-start", "x " + ReportPrefix + `{"cwd":"/"}` + "\n", "", "no \"probe-report: \" line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Find([]byte(tc.console))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Find: got %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Cwd != tc.cwd {
				t.Errorf("Cwd = %q, want %q", r.Cwd, tc.cwd)
			}
		})
	}
}

func TestPattern(t *testing.T) {
	for _, tc := range []struct {
		n    int
		seed uint32
	}{{0, 1}, {1, 1}, {4096, 99}, {1 << 20, 7}} {
		a, b := Pattern(tc.n, tc.seed), Pattern(tc.n, tc.seed)
		if len(a) != tc.n || !bytes.Equal(a, b) {
			t.Errorf("Pattern(%d, %d): length %d, deterministic %v", tc.n, tc.seed, len(a), bytes.Equal(a, b))
		}
	}
	// A shifted copy must not match: a dropped chunk cannot hide.
	p := Pattern(1<<16, 99)
	for _, shift := range []int{1, 4096, 32768} {
		if bytes.Equal(p[shift:], p[:len(p)-shift]) {
			t.Errorf("Pattern repeats with period %d", shift)
		}
	}
	if bytes.Equal(Pattern(64, 1), Pattern(64, 3)) {
		t.Error("different seeds give the same pattern")
	}
}
