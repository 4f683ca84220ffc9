package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSummarise(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{
			name: "Bazel 7 log: concatenated pretty-printed objects",
			in: `{
  "commandArgs": ["bazel-out/unxz", "--out", "x"],
  "environmentVariables": [{"name": "PATH", "value": "/bin"}, {"name": "GOOS", "value": "linux"}],
  "listedOutputs": ["bazel-out/k8-fastbuild/bin/payloads/kernel"],
  "mnemonic": "Unxz",
  "runner": "processwrapper-sandbox"
}
{
  "mnemonic": "GoCompilePkg",
  "runner": "remote cache hit"
}{"mnemonic": "GoLink", "runner": "disk cache hit", "remoteCacheHit": false}
{"mnemonic": "Unxz", "runner": "remote", "remoteCacheHit": true, "listedOutputs": []}
`,
			want: "Unxz\tprocesswrapper-sandbox\t-\tGOOS,PATH\tbazel-out/k8-fastbuild/bin/payloads/kernel\n" +
				"GoCompilePkg\tremote cache hit\tremote-hit\t-\t-\n" +
				"GoLink\tdisk cache hit\t-\t-\t-\n" +
				"Unxz\tremote\tremote-hit\t-\t-\n",
		},
		{name: "empty file", in: "", wantErr: "log.json: no spawns"},
		{name: "not JSON", in: "INFO: 3 processes", wantErr: "log.json: spawn 1: not a JSON execution log"},
		{name: "JSON but not spawns", in: `{"mnemonic": "Unxz"} {"foo": 1}`, wantErr: "log.json: spawn 2 has no mnemonic"},
		{name: "cut short", in: `{"mnemonic": "Unxz"} {"mnemonic": "Go`, wantErr: "log.json: spawn 2: not a JSON execution log"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := summarise(&out, strings.NewReader(tc.in), "log.json")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tc.want)
			}
		})
	}
}
