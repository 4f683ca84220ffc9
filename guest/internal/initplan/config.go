// Package initplan holds every decision init-oci makes, as plain functions
// host-side tests call: reading the OCI image config, applying the kernel
// command-line overrides, resolving the user, and the list of mounts that
// turns the read-only root disk into the container's root. The init-oci
// main package only carries them out with system calls.
package initplan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/supermachine/supermachine_kernel/guest/internal/pathenv"
)

// ImageConfig is the part of an OCI image configuration
// (application/vnd.oci.image.config.v1+json) that init-oci uses.
type ImageConfig struct {
	Architecture string
	OS           string
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	User         string
}

// ParseImageConfig decodes an OCI image config document. name is the file
// it came from, for error messages. The "config" object is required; its
// fields init-oci does not use (ExposedPorts, Labels, ...) are ignored.
func ParseImageConfig(name string, data []byte) (*ImageConfig, error) {
	type fields struct {
		Entrypoint []string `json:"Entrypoint"`
		Cmd        []string `json:"Cmd"`
		Env        []string `json:"Env"`
		WorkingDir string   `json:"WorkingDir"`
		User       string   `json:"User"`
	}
	var doc struct {
		Architecture string  `json:"architecture"`
		OS           string  `json:"os"`
		Config       *fields `json:"config"`
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s: empty file, want an OCI image config JSON object", name)
	}
	// One pass over the whole document, so error offsets are the file's.
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: not a valid OCI image config: %v", name, jsonErr(data, err))
	}
	if doc.Config == nil {
		return nil, fmt.Errorf(`%s: no "config" object (want {"config": {"Entrypoint": [...], "Cmd": [...], ...}})`, name)
	}
	c := doc.Config
	for i, e := range c.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return nil, fmt.Errorf("%s: config.Env[%d] %q is not KEY=VALUE", name, i, e)
		}
	}
	for field, list := range map[string][]string{"Entrypoint": c.Entrypoint, "Cmd": c.Cmd, "Env": c.Env} {
		for i, s := range list {
			if strings.IndexByte(s, 0) >= 0 {
				return nil, fmt.Errorf("%s: config.%s[%d] contains a NUL byte", name, field, i)
			}
		}
	}
	return &ImageConfig{
		Architecture: doc.Architecture, OS: doc.OS,
		Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env,
		WorkingDir: c.WorkingDir, User: c.User,
	}, nil
}

// jsonErr adds the line and column to JSON syntax errors.
func jsonErr(data []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Errorf("line %d column %d: %v", line, col, err)
}

// CheckPlatform rejects an image built for another OS or architecture
// (GOARCH spelling, as OCI uses). Empty fields are accepted.
func (c *ImageConfig) CheckPlatform(name, goarch string) error {
	if c.OS != "" && c.OS != "linux" {
		return fmt.Errorf("%s: image is for os %q, this VM runs linux", name, c.OS)
	}
	if c.Architecture != "" && c.Architecture != goarch {
		return fmt.Errorf("%s: image is for architecture %q, this VM is %s", name, c.Architecture, goarch)
	}
	return nil
}

// Process is what init-oci runs as the entrypoint.
type Process struct {
	// Argv is the command; Argv[0] is still to be looked up in PATH.
	Argv []string
	// Env is the complete environment.
	Env []string
	// Dir is the absolute working directory.
	Dir string
	// User is the unresolved user spec ("", "uid", "name:group", ...).
	User string
}

// Resolve combines the image config and the overrides the way Docker
// does: the command is Entrypoint followed by Cmd; an Entrypoint override
// also drops the image's Cmd; a Cmd override replaces Cmd only. The
// environment is the image's Env, with PATH defaulted, then the
// pass-through variables from the kernel command line.
func Resolve(cfg *ImageConfig, ov *Overrides) (*Process, error) {
	entry, cmd := cfg.Entrypoint, cfg.Cmd
	if ov.Entrypoint != nil {
		entry, cmd = ov.Entrypoint, nil
	}
	if ov.Cmd != nil {
		cmd = ov.Cmd
	}
	argv := append(append([]string{}, entry...), cmd...)
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("no command to run: the image config has no Entrypoint or Cmd, and no " +
			KeyEntrypoint + "= or " + KeyCmd + "= was given on the kernel command line")
	}
	env := pathenv.Merge(cfg.Env, nil)
	if _, ok := pathenv.Get(env, "PATH"); !ok {
		env = append(env, "PATH="+pathenv.DefaultPath)
	}
	env = pathenv.Merge(env, ov.Env)
	dir := cfg.WorkingDir
	if ov.WorkingDir != nil {
		dir = *ov.WorkingDir
	}
	if dir == "" {
		dir = "/"
	}
	if !path.IsAbs(dir) {
		return nil, fmt.Errorf("working directory %q is not absolute", dir)
	}
	user := cfg.User
	if ov.User != nil {
		user = *ov.User
	}
	return &Process{Argv: argv, Env: env, Dir: path.Clean(dir), User: user}, nil
}
