package initplan

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseImageConfig(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    *ImageConfig
		wantErr string
	}{
		{
			name: "full",
			doc: `{"architecture":"arm64","os":"linux","config":{"Entrypoint":["/bin/app"],"Cmd":["--flag"],
				"Env":["PATH=/bin","A=b=c"],"WorkingDir":"/srv","User":"1000:1000","ExposedPorts":{"80/tcp":{}}},
				"rootfs":{"type":"layers","diff_ids":[]}}`,
			want: &ImageConfig{Architecture: "arm64", OS: "linux", Entrypoint: []string{"/bin/app"}, Cmd: []string{"--flag"},
				Env: []string{"PATH=/bin", "A=b=c"}, WorkingDir: "/srv", User: "1000:1000"},
		},
		{name: "nulls", doc: `{"config":{"Entrypoint":null,"Cmd":["sh"]}}`, want: &ImageConfig{Cmd: []string{"sh"}}},
		{name: "empty file", doc: " \n", wantErr: "empty file"},
		{name: "not json", doc: `{"config": {"Cmd": ["sh",]}}`, wantErr: "line 1 column"},
		{name: "error position on line 3", doc: "{\n\"config\": {\n\"Cmd\": 7}}", wantErr: "line 3"},
		{name: "no config", doc: `{"architecture":"arm64"}`, wantErr: `no "config" object`},
		{name: "null config", doc: `{"config":null}`, wantErr: `no "config" object`},
		{name: "Cmd a string", doc: `{"config":{"Cmd":"sh -c true"}}`, wantErr: `config.Cmd`},
		{name: "bad env", doc: `{"config":{"Env":["NOVALUE"]}}`, wantErr: `Env[0] "NOVALUE" is not KEY=VALUE`},
		{name: "NUL in argv", doc: `{"config":{"Cmd":["a\u0000b"]}}`, wantErr: "NUL"},
		{name: "top-level array", doc: `[1]`, wantErr: "not a valid OCI image config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseImageConfig("/image/config.json", []byte(tt.doc))
			checkResult(t, got, err, tt.want, tt.wantErr, "/image/config.json")
		})
	}
}

func TestCheckPlatform(t *testing.T) {
	tests := []struct {
		arch, os string
		ok       bool
	}{
		{"arm64", "linux", true}, {"", "", true}, {"amd64", "linux", false}, {"arm64", "windows", false},
	}
	for _, tt := range tests {
		err := (&ImageConfig{Architecture: tt.arch, OS: tt.os}).CheckPlatform("c.json", "arm64")
		if (err == nil) != tt.ok {
			t.Errorf("%s/%s: err = %v", tt.os, tt.arch, err)
		}
	}
}

func sp(s string) *string { return &s }

func TestResolve(t *testing.T) {
	img := &ImageConfig{Entrypoint: []string{"/entry"}, Cmd: []string{"a", "b"}, Env: []string{"PATH=/img", "X=1"}, WorkingDir: "/w", User: "app"}
	tests := []struct {
		name    string
		cfg     *ImageConfig
		ov      Overrides
		want    *Process
		wantErr string
	}{
		{
			name: "Entrypoint then Cmd",
			cfg:  img,
			want: &Process{Argv: []string{"/entry", "a", "b"}, Env: []string{"PATH=/img", "X=1"}, Dir: "/w", User: "app"},
		},
		{
			name: "Cmd only",
			cfg:  &ImageConfig{Cmd: []string{"sh", "-c", "true"}},
			want: &Process{Argv: []string{"sh", "-c", "true"}, Env: []string{"PATH=" + "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, Dir: "/"},
		},
		{
			name: "Cmd override keeps Entrypoint",
			cfg:  img, ov: Overrides{Cmd: []string{"c"}},
			want: &Process{Argv: []string{"/entry", "c"}, Env: img.Env, Dir: "/w", User: "app"},
		},
		{
			name: "Entrypoint override drops the image Cmd",
			cfg:  img, ov: Overrides{Entrypoint: []string{"/other"}},
			want: &Process{Argv: []string{"/other"}, Env: img.Env, Dir: "/w", User: "app"},
		},
		{
			name: "both overridden",
			cfg:  img, ov: Overrides{Entrypoint: []string{"/other"}, Cmd: []string{"x"}},
			want: &Process{Argv: []string{"/other", "x"}, Env: img.Env, Dir: "/w", User: "app"},
		},
		{
			name: "empty Entrypoint override runs Cmd override alone",
			cfg:  img, ov: Overrides{Entrypoint: []string{}, Cmd: []string{"ls"}},
			want: &Process{Argv: []string{"ls"}, Env: img.Env, Dir: "/w", User: "app"},
		},
		{
			name: "env overrides replace in place and append",
			cfg:  img, ov: Overrides{Env: []string{"X=2", "Y=3"}, WorkingDir: sp("/o/../p"), User: sp("0:0")},
			want: &Process{Argv: []string{"/entry", "a", "b"}, Env: []string{"PATH=/img", "X=2", "Y=3"}, Dir: "/p", User: "0:0"},
		},
		{name: "nothing to run", cfg: &ImageConfig{}, wantErr: "no command to run"},
		{name: "empty Cmd override and no Entrypoint", cfg: &ImageConfig{Cmd: []string{"sh"}}, ov: Overrides{Cmd: []string{}}, wantErr: "no command to run"},
		{name: "relative WorkingDir", cfg: &ImageConfig{Cmd: []string{"sh"}, WorkingDir: "app"}, wantErr: "not absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.cfg, &tt.ov)
			checkResult(t, got, err, tt.want, tt.wantErr)
		})
	}
}

// checkResult compares a call's result with its table row: when wantErr is
// set, err must contain it and every string in names (what the message must
// name, such as the file); otherwise err must be nil and got must equal
// want.
func checkResult[T any](t *testing.T, got T, err error, want T, wantErr string, names ...string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want one containing %q", err, wantErr)
		}
		for _, n := range names {
			if !strings.Contains(err.Error(), n) {
				t.Fatalf("err = %v, want one naming %q", err, n)
			}
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}
