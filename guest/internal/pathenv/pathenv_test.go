package pathenv

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestMerge(t *testing.T) {
	tests := []struct {
		base, over, want []string
	}{
		{[]string{"A=1", "B=2"}, []string{"B=3", "C=4"}, []string{"A=1", "B=3", "C=4"}},
		{[]string{"A=1", "A=2"}, nil, []string{"A=2"}},
		{nil, []string{"NOEQ", "=x", "E="}, []string{"E="}},
		{[]string{"K=a=b"}, []string{"K=c=d"}, []string{"K=c=d"}},
	}
	for _, tt := range tests {
		if got := Merge(tt.base, tt.over); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Merge(%q, %q) = %q, want %q", tt.base, tt.over, got, tt.want)
		}
	}
}

func TestLookPath(t *testing.T) {
	root := t.TempDir()
	mk := func(p string, mode os.FileMode) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, nil, mode); err != nil {
			t.Fatal(err)
		}
	}
	mk("bin/tool", 0o755)
	mk("noexec/tool", 0o644)
	mk("usr/bin/other", 0o755)
	if err := os.MkdirAll(filepath.Join(root, "dirs/tool"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file    string
		env     []string
		want    string
		wantErr error
	}{
		{"tool", []string{"PATH=/noexec:/dirs:/bin"}, "/bin/tool", nil},
		{"other", nil, "/usr/bin/other", nil}, // DefaultPath
		{"./rel", []string{"PATH=/bin"}, "./rel", nil},
		{"/abs/x", nil, "/abs/x", nil},
		{"missing", []string{"PATH=/bin"}, "", ErrNotFound},
		{"tool", []string{"PATH=/noexec"}, "", nil}, // not executable: an error, not ErrNotFound
	}
	for _, tt := range tests {
		got, err := LookPath(root, tt.file, tt.env)
		switch {
		case tt.want != "":
			if err != nil || got != tt.want {
				t.Errorf("LookPath(%q, %q) = %q, %v; want %q", tt.file, tt.env, got, err, tt.want)
			}
		case tt.wantErr != nil:
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("LookPath(%q, %q) err = %v, want %v", tt.file, tt.env, err, tt.wantErr)
			}
		default:
			if err == nil || errors.Is(err, ErrNotFound) {
				t.Errorf("LookPath(%q, %q) err = %v, want a permission error", tt.file, tt.env, err)
			}
		}
	}
}
