//go:build linux

package pid1

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The supervision loop waits for any child, which would steal the
// children of other tests; each case runs in a fresh copy of the test
// binary that is a child subreaper, so orphans come to it as to PID 1.
const helperEnv = "PID1_TEST_HELPER"

type outcome struct {
	Exited, Code, Signal int
	Err                  string
	Reaped               []int // exit codes of reaped orphans
}

var cases = map[string]struct {
	argv []string
	sig  syscall.Signal // sent to the supervisor after 300ms
}{
	"exit":    {argv: []string{"sh", "-c", "exit 3"}},
	"signal":  {argv: []string{"sh", "-c", "kill -KILL $$"}},
	"orphans": {argv: []string{"sh", "-c", `(sh -c "exit 7" &); (sh -c "sleep 0.1; exit 8" &); sleep 0.5; exit 4`}},
	"forward": {argv: []string{"sh", "-c", `trap "exit 42" TERM; while :; do sleep 0.05; done`}, sig: syscall.SIGTERM},
	"missing": {argv: []string{"/no/such/entrypoint"}},
}

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		helper(name)
		return
	}
	os.Exit(m.Run())
}

func helper(name string) {
	c := cases[name]
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	sigs := make(chan os.Signal, 1)
	if c.sig != 0 {
		go func() { time.Sleep(300 * time.Millisecond); sigs <- c.sig }()
	}
	var out outcome
	ws, err := Supervise(func() (int, error) {
		path, err := exec.LookPath(c.argv[0])
		if err != nil {
			path = c.argv[0]
		}
		return syscall.ForkExec(path, c.argv, &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
	}, sigs, func(r Reaped) { out.Reaped = append(out.Reaped, r.Status.ExitStatus()) })
	if err != nil {
		out.Err = err.Error()
	} else if ws.Signaled() {
		out.Signal = int(ws.Signal())
	} else {
		out.Exited, out.Code = 1, ws.ExitStatus()
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

func TestSupervise(t *testing.T) {
	tests := []struct {
		name    string
		want    outcome
		wantErr bool
	}{
		{"exit", outcome{Exited: 1, Code: 3}, false},
		{"signal", outcome{Signal: 9}, false},
		{"orphans", outcome{Exited: 1, Code: 4, Reaped: []int{7, 8}}, false},
		{"forward", outcome{Exited: 1, Code: 42}, false},
		{"missing", outcome{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), helperEnv+"="+tt.name)
			cmd.Stderr = os.Stderr
			b, err := cmd.Output()
			if err != nil {
				t.Fatalf("helper: %v", err)
			}
			var got outcome
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("helper output %q: %v", b, err)
			}
			if tt.wantErr {
				if got.Err == "" {
					t.Errorf("got %+v, want an error", got)
				}
				return
			}
			if got.Err != "" || got.Exited != tt.want.Exited || got.Code != tt.want.Code || got.Signal != tt.want.Signal {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if tt.want.Reaped != nil && !sameCodes(got.Reaped, tt.want.Reaped) {
				t.Errorf("reaped orphans with codes %v, want %v (in any order)", got.Reaped, tt.want.Reaped)
			}
		})
	}
}

func sameCodes(a, b []int) bool {
	count := map[int]int{}
	for _, x := range a {
		count[x]++
	}
	for _, x := range b {
		count[x]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}
