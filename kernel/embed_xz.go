package kernel

// The go build / go test path: the .xz payloads come from package assets
// and are decoded on first use, once per process per asset. Under Bazel this
// file is replaced by embed_bazel.go (from embed_bazel.go.in), which defines
// the same functions over already decoded bytes.

import (
	"sync"

	"github.com/supermachine/supermachine_kernel/assets"
)

// embedKind says how the bytes got into the binary (reported by the CLI).
const embedKind = "xz payloads embedded with go:embed, decoded once per process on first use"

type decoded struct {
	once sync.Once
	data []byte
	err  error
}

var payloads = map[*asset]*decoded{
	kernelAsset:            {},
	initOCIAsset:           {},
	supermachineAgentAsset: {},
}

// rawBytes returns the verified decoded bytes of a, decoding at most once.
// A failure is remembered: the embedded payload cannot get better.
func rawBytes(a *asset) ([]byte, error) {
	p := payloads[a]
	p.once.Do(func() {
		file, err := assets.XZFile(a.name)
		if err != nil {
			p.err = err
			return
		}
		src, err := assets.OpenXZ(a.name)
		if err != nil {
			p.err = err
			return
		}
		p.data, p.err = decodeXZ(a, src, src.Size(), "assets/"+file)
	})
	return p.data, p.err
}
