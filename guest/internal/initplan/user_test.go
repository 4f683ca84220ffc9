package initplan

import (
	"testing"
)

const passwd = `root:x:0:0:root:/root:/bin/sh
# comment
+::::::
app:x:1000:1001:App:/home/app:/bin/sh
nohome:x:1002:1002::::
`

const group = `root:x:0:
wheel:x:10:root,app
app:x:1001:
staff:x:50:app
broken:x:notanumber:app
`

func TestResolveUser(t *testing.T) {
	tests := []struct {
		spec    string
		passwd  string
		want    Credential
		wantErr string
	}{
		{spec: "", passwd: passwd, want: Credential{UID: 0, GID: 0, Groups: []uint32{10}, Home: "/root"}},
		{spec: "", passwd: "", want: Credential{Home: "/"}},
		{spec: "app", passwd: passwd, want: Credential{UID: 1000, GID: 1001, Groups: []uint32{10, 50}, Home: "/home/app"}},
		{spec: "1000", passwd: passwd, want: Credential{UID: 1000, GID: 1001, Groups: []uint32{10, 50}, Home: "/home/app"}},
		{spec: "app:staff", passwd: passwd, want: Credential{UID: 1000, GID: 50, Groups: []uint32{10}, Home: "/home/app"}},
		{spec: "app:7", passwd: passwd, want: Credential{UID: 1000, GID: 7, Groups: []uint32{10, 50}, Home: "/home/app"}},
		{spec: "4242", passwd: passwd, want: Credential{UID: 4242, GID: 0, Home: "/"}},
		{spec: "4242:4343", passwd: "", want: Credential{UID: 4242, GID: 4343, Home: "/"}},
		{spec: "nohome", passwd: passwd, want: Credential{UID: 1002, GID: 1002, Home: "/"}},
		{spec: "nobody", passwd: passwd, wantErr: `no user "nobody"`},
		{spec: "app:nogroup", passwd: passwd, wantErr: `no group "nogroup"`},
		{spec: "99999999999", passwd: passwd, wantErr: "out of range"},
		{spec: "1:99999999999", passwd: passwd, wantErr: "out of range"},
		{spec: ":1", passwd: passwd, wantErr: "empty user"},
		{spec: "1:", passwd: passwd, wantErr: "empty group"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ResolveUser(tt.spec, []byte(tt.passwd), []byte(group))
			checkResult(t, got, err, tt.want, tt.wantErr)
		})
	}
}
