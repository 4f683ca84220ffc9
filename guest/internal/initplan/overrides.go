package initplan

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Kernel command-line words init-oci reads. The kernel hands unknown
// KEY=VALUE words (without a dot in KEY) to PID 1 as environment variables.
const (
	KeyEntrypoint = "SM_ENTRYPOINT" // replaces Entrypoint and drops the image's Cmd
	KeyCmd        = "SM_CMD"        // replaces Cmd
	KeyWorkdir    = "SM_WORKDIR"    // replaces WorkingDir
	KeyUser       = "SM_USER"       // replaces User
	KeyConfig     = "SM_CONFIG"     // path of the image config on the root disk
	KeyRootfs     = "SM_ROOTFS"     // path of the image tree on the root disk
	KeyAgent      = "SM_AGENT"      // off | vsock | vsock:PORT | /dev/NAME
)

// Defaults for the root-disk layout and the agent.
const (
	DefaultConfigPath = "/image/config.json"
	DefaultRootfs     = "/image/rootfs"
	AgentDiskPath     = "/supermachine-agent"
	DefaultAgentPort  = 1024
)

// kernelEnv is what the kernel puts in PID 1's environment by itself; it
// does not come from the command line, so it is not passed on.
var kernelEnv = map[string]bool{"HOME=/": true, "TERM=linux": true}

// AgentMode says how supermachine-agent is started.
type AgentMode struct {
	// Off disables the agent.
	Off bool
	// Device, when set, is a byte-stream device (a virtconsole such as
	// /dev/hvc1) the agent serves on; otherwise it listens on vsock Port.
	Device string
	Port   uint32
}

// Args returns the agent's command-line flags for m.
func (m AgentMode) Args() []string {
	if m.Device != "" {
		return []string{"-stream", m.Device}
	}
	return []string{"-vsock-port", strconv.FormatUint(uint64(m.Port), 10)}
}

// Overrides is what PID 1's environment asks of init-oci.
type Overrides struct {
	// Entrypoint and Cmd are nil when not overridden (an empty, non-nil
	// slice clears the field).
	Entrypoint, Cmd []string
	// WorkingDir and User are nil when not overridden.
	WorkingDir, User *string
	// ConfigPath and Rootfs locate the image on the root disk.
	ConfigPath, Rootfs string
	// Agent is the agent's transport.
	Agent AgentMode
	// Env holds the pass-through KEY=VALUE words, for the entrypoint.
	Env []string
}

// ParseOverrides reads PID 1's environment. SM_* keys are init-oci's own
// and an unknown one is an error, so a typo is not silently ignored. Every
// other variable is passed to the entrypoint, except HOME=/ and TERM=linux,
// which the kernel sets by itself.
func ParseOverrides(environ []string) (*Overrides, error) {
	ov := &Overrides{
		ConfigPath: DefaultConfigPath,
		Rootfs:     DefaultRootfs,
		Agent:      AgentMode{Port: DefaultAgentPort},
	}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if !strings.HasPrefix(k, "SM_") {
			if !kernelEnv[kv] {
				ov.Env = append(ov.Env, kv)
			}
			continue
		}
		var err error
		switch k {
		case KeyEntrypoint:
			ov.Entrypoint, err = ParseArgv(v)
		case KeyCmd:
			ov.Cmd, err = ParseArgv(v)
		case KeyWorkdir:
			if !path.IsAbs(v) {
				err = fmt.Errorf("%q is not an absolute path", v)
			}
			ov.WorkingDir = &v
		case KeyUser:
			ov.User = &v
		case KeyConfig:
			ov.ConfigPath, err = diskPath(v)
		case KeyRootfs:
			ov.Rootfs, err = diskPath(v)
			if err == nil && strings.ContainsAny(v, ",:\\") {
				err = fmt.Errorf("%q: overlayfs cannot take a lower directory with ',', ':' or '\\'", v)
			}
		case KeyAgent:
			ov.Agent, err = ParseAgentMode(v)
		default:
			err = fmt.Errorf("unknown init-oci setting (known: %s)", strings.Join(knownKeys(), ", "))
		}
		if err != nil {
			return nil, fmt.Errorf("kernel command line %s=%s: %v", k, v, err)
		}
	}
	return ov, nil
}

func knownKeys() []string {
	k := []string{KeyEntrypoint, KeyCmd, KeyWorkdir, KeyUser, KeyConfig, KeyRootfs, KeyAgent}
	sort.Strings(k)
	return k
}

func diskPath(v string) (string, error) {
	if !path.IsAbs(v) {
		return "", fmt.Errorf("%q is not an absolute path", v)
	}
	return path.Clean(v), nil
}

// ParseArgv reads a command from one kernel command-line value: a JSON
// array of strings when it starts with '[' (the only way to pass an
// argument holding a space: the kernel keeps spaces inside double quotes),
// else words separated by white space. An empty value is an empty command.
func ParseArgv(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "[") {
		return append([]string{}, strings.Fields(v)...), nil
	}
	var argv []string
	if err := json.Unmarshal([]byte(v), &argv); err != nil {
		return nil, fmt.Errorf("not a JSON array of strings: %v", err)
	}
	if argv == nil {
		argv = []string{}
	}
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("argument %d contains a NUL byte", i)
		}
	}
	return argv, nil
}

// ParseAgentMode reads an SM_AGENT value: "off", "vsock" (default port),
// "vsock:PORT", or the absolute path of a device under /dev.
func ParseAgentMode(v string) (AgentMode, error) {
	switch {
	case v == "off":
		return AgentMode{Off: true}, nil
	case v == "vsock":
		return AgentMode{Port: DefaultAgentPort}, nil
	case strings.HasPrefix(v, "vsock:"):
		p, err := strconv.ParseUint(strings.TrimPrefix(v, "vsock:"), 10, 32)
		if err != nil || p == 0 || p == 0xffffffff {
			return AgentMode{}, fmt.Errorf("bad vsock port %q (want 1..4294967294)", strings.TrimPrefix(v, "vsock:"))
		}
		return AgentMode{Port: uint32(p)}, nil
	case strings.HasPrefix(v, "/dev/") && path.Clean(v) == v:
		return AgentMode{Device: v}, nil
	}
	return AgentMode{}, fmt.Errorf("want off, vsock, vsock:PORT or a /dev/ path")
}
