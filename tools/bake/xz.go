package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"

	"github.com/supermachine/supermachine_kernel/internal/format"
	"github.com/supermachine/supermachine_kernel/internal/unpack"
)

// What makes every .xz. xz-utils' multi-threaded encoder cuts the input into
// independent 4 MiB blocks and records each block's sizes in its header, so a
// decoder can work on blocks in parallel; with a 4 MiB dictionary the Go
// decoder needs ~18 MiB instead of ~89 MiB, for ~1-2% in size. LZMA2 only: no
// BCJ filter, which github.com/ulikunitz/xz cannot decode. The thread count
// does not change the output (checked on every run: see compressChecked).
const (
	xzTool       = "xz-utils"
	xzVersion    = "5.4.1" // Debian 12's; other versions may compress differently
	xzSettings   = "-T2 --block-size=4MiB --lzma2=preset=9,dict=4MiB --check=crc64"
	xzBlockSize  = 4 << 20
	xzDictSize   = 4 << 20
	xzAltThreads = "-T4"
)

var xzVersionRE = regexp.MustCompile(`^xz \(XZ Utils\) ([0-9][0-9.a-z]*)\n`)

// localXZVersion returns the version of the xz on PATH, e.g. "5.4.1".
func localXZVersion() (string, error) {
	out, err := exec.Command("xz", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("running xz --version (apt-get install xz-utils): %w", err)
	}
	m := xzVersionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("xz --version printed %q, not xz-utils", firstLine(out))
	}
	return string(m[1]), nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

// xzEnv is the environment without XZ_OPT and XZ_DEFAULTS, which would
// silently change the output.
func xzEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "XZ_OPT=") && !strings.HasPrefix(kv, "XZ_DEFAULTS=") {
			env = append(env, kv)
		}
	}
	return env
}

// runXZ compresses raw with xz-utils and the given settings.
func runXZ(name string, raw []byte, settings string) ([]byte, error) {
	args := append(strings.Fields(settings), "--compress", "--stdout", "--quiet")
	cmd := exec.Command("xz", args...)
	cmd.Env = xzEnv()
	cmd.Stdin = bytes.NewReader(raw)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: xz %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// compressChecked compresses raw with the pinned settings and checks the
// result: the same bytes with another thread count, independent LZMA2-only
// blocks of the pinned size and dictionary, and a decode through
// internal/unpack giving back raw exactly.
func compressChecked(name string, raw []byte) ([]byte, error) {
	xzb, err := runXZ(name, raw, xzSettings)
	if err != nil {
		return nil, err
	}
	alt, err := runXZ(name, raw, strings.Replace(xzSettings, "-T2", xzAltThreads, 1))
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(xzb, alt) {
		return nil, fmt.Errorf("%s: xz output differs between -T2 and %s: the compressor is not deterministic here, refusing", name, xzAltThreads)
	}
	if err := checkPayloadXZ(name+".xz", xzb, raw); err != nil {
		return nil, err
	}
	return xzb, nil
}

// checkPayloadXZ checks that xzb is made of independent LZMA2 blocks of the
// pinned block and dictionary size and decodes to exactly raw.
func checkPayloadXZ(name string, xzb, raw []byte) error {
	info, err := format.CheckXZ(name, xzb)
	if err != nil {
		return err
	}
	for i, b := range info.Blocks {
		if b.DictSize != xzDictSize {
			return fmt.Errorf("%s: block %d has a %d-byte dictionary, want %d", name, i, b.DictSize, xzDictSize)
		}
		if last := i == len(info.Blocks)-1; b.UncompressedSize > xzBlockSize || (!last && b.UncompressedSize != xzBlockSize) {
			return fmt.Errorf("%s: block %d holds %d bytes, want %d-byte blocks", name, i, b.UncompressedSize, xzBlockSize)
		}
	}
	sum := sha256.Sum256(raw)
	if _, err := unpack.Bytes(xzb, name, unpack.Want{Size: int64(len(raw)), SHA256: hex.EncodeToString(sum[:])}); err != nil {
		return fmt.Errorf("decoding what xz wrote: %w", err)
	}
	return nil
}
