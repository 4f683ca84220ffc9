package initstatus

import (
	"errors"
	"testing"
)

func TestFormatParse(t *testing.T) {
	tests := []struct {
		st   Status
		line string
	}{
		{Exited(0), "init-oci: exit status=0"},
		{Exited(3), "init-oci: exit status=3"},
		{Exited(255), "init-oci: exit status=255"},
		{Signaled(9), "init-oci: exit signal=9"},
		{Failed(errors.New("reading the image config: open /image/config.json: no such file or directory")),
			"init-oci: error: reading the image config: open /image/config.json: no such file or directory"},
		{Failed(errors.New("two\nlines\t here")), "init-oci: error: two lines here"},
	}
	for _, tt := range tests {
		if got := tt.st.String(); got != tt.line {
			t.Errorf("String() = %q, want %q", got, tt.line)
		}
		for _, in := range []string{tt.line, tt.line + "\r", tt.line + "\r\n"} {
			if got, ok := Parse(in); !ok || got != tt.st {
				t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, ok, tt.st)
			}
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, line := range []string{
		"", "init-oci: exit status=", "init-oci: exit status=256", "init-oci: exit status=-1",
		"init-oci: exit status=03", "init-oci: exit status=3 extra", "init-oci: exit signal=0",
		"init-oci: exit signal=65", "init-oci: error: ", "init-oci: warning: x", "xinit-oci: exit status=3",
		" init-oci: exit status=3",
	} {
		if st, ok := Parse(line); ok {
			t.Errorf("Parse(%q) = %+v, want no match", line, st)
		}
	}
}

func TestFind(t *testing.T) {
	tests := []struct {
		name    string
		console string
		want    Status
		found   bool
	}{
		{"after output without newline", "booting\r\nhello" + string(Exited(3).Line()), Exited(3), true},
		{"tty line endings", "x\r\n\r\ninit-oci: exit signal=15\r\n", Signaled(15), true},
		{"warning then error", "init-oci: warning: no agent\n" + string(Failed(errors.New("boom")).Line()), Status{Err: "boom"}, true},
		{"none", "kernel panic\n", Status{}, false},
		{"the last one wins", "init-oci: exit status=1\ninit-oci: exit status=2\n", Exited(2), true},
	}
	for _, tt := range tests {
		got, ok := Find([]byte(tt.console))
		if ok != tt.found || got != tt.want {
			t.Errorf("%s: Find = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.found)
		}
	}
}
