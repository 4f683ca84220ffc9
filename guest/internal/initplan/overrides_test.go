package initplan

import (
	"reflect"
	"testing"
)

func TestParseOverrides(t *testing.T) {
	defaults := func() *Overrides {
		return &Overrides{ConfigPath: DefaultConfigPath, Rootfs: DefaultRootfs, Agent: AgentMode{Port: DefaultAgentPort}}
	}
	with := func(f func(o *Overrides)) *Overrides { o := defaults(); f(o); return o }
	tests := []struct {
		name    string
		env     []string
		want    *Overrides
		wantErr string
	}{
		{name: "kernel defaults only", env: []string{"HOME=/", "TERM=linux"}, want: defaults()},
		{
			name: "pass-through variables, kernel's HOME/TERM dropped unless changed",
			env:  []string{"HOME=/", "TERM=vt100", "FOO=bar", "EMPTY="},
			want: with(func(o *Overrides) { o.Env = []string{"TERM=vt100", "FOO=bar", "EMPTY="} }),
		},
		{
			name: "words and JSON",
			env:  []string{"SM_ENTRYPOINT=/bin/sh -c", `SM_CMD=["echo","a b"]`},
			want: with(func(o *Overrides) { o.Entrypoint = []string{"/bin/sh", "-c"}; o.Cmd = []string{"echo", "a b"} }),
		},
		{
			name: "empty values clear",
			env:  []string{"SM_ENTRYPOINT=", "SM_CMD=[]"},
			want: with(func(o *Overrides) { o.Entrypoint = []string{}; o.Cmd = []string{} }),
		},
		{
			name: "paths, user, workdir, agent device",
			env:  []string{"SM_CONFIG=/img2/config.json", "SM_ROOTFS=/img2/tree/", "SM_USER=1000:100", "SM_WORKDIR=/srv", "SM_AGENT=/dev/hvc1"},
			want: with(func(o *Overrides) {
				o.ConfigPath, o.Rootfs, o.User, o.WorkingDir = "/img2/config.json", "/img2/tree", sp("1000:100"), sp("/srv")
				o.Agent = AgentMode{Device: "/dev/hvc1"}
			}),
		},
		{name: "agent off", env: []string{"SM_AGENT=off"}, want: with(func(o *Overrides) { o.Agent = AgentMode{Off: true} })},
		{name: "agent port", env: []string{"SM_AGENT=vsock:5000"}, want: with(func(o *Overrides) { o.Agent = AgentMode{Port: 5000} })},
		{name: "unknown SM_ key", env: []string{"SM_ENTRYPIONT=/x"}, wantErr: "SM_ENTRYPIONT=/x: unknown init-oci setting"},
		{name: "bad JSON", env: []string{`SM_CMD=["a",1]`}, wantErr: "not a JSON array of strings"},
		{name: "relative config", env: []string{"SM_CONFIG=config.json"}, wantErr: "not an absolute path"},
		{name: "relative workdir", env: []string{"SM_WORKDIR=srv"}, wantErr: "not an absolute path"},
		{name: "rootfs with comma", env: []string{"SM_ROOTFS=/a,b"}, wantErr: "overlayfs"},
		{name: "bad agent", env: []string{"SM_AGENT=tcp:1"}, wantErr: "want off, vsock"},
		{name: "bad port", env: []string{"SM_AGENT=vsock:0"}, wantErr: "bad vsock port"},
		{name: "agent path outside /dev", env: []string{"SM_AGENT=/tmp/sock"}, wantErr: "want off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOverrides(tt.env)
			checkResult(t, got, err, tt.want, tt.wantErr, "kernel command line")
		})
	}
}

func TestAgentModeArgs(t *testing.T) {
	tests := []struct {
		m    AgentMode
		want []string
	}{
		{AgentMode{Port: 1024}, []string{"-vsock-port", "1024"}},
		{AgentMode{Device: "/dev/hvc1"}, []string{"-stream", "/dev/hvc1"}},
	}
	for _, tt := range tests {
		if got := tt.m.Args(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%+v: %q, want %q", tt.m, got, tt.want)
		}
	}
}
