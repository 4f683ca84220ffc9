package assets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/supermachine/supermachine_kernel/internal/manifest"
)

func TestManifestJSONMatchesEmbedded(t *testing.T) {
	m, err := manifest.Parse(ManifestJSON())
	if err != nil {
		t.Fatalf("embedded %s: %v", ManifestFile, err)
	}
	if !reflect.DeepEqual(m, manifest.Embedded) {
		t.Fatalf("embedded %s differs from manifest.Embedded; run %s", ManifestFile, manifest.RegenerateCommand)
	}
}

func TestPayloadsMatchManifest(t *testing.T) {
	for _, a := range manifest.Embedded.Assets {
		t.Run(a.Name, func(t *testing.T) {
			b, err := XZ(a.Name)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if int64(len(b)) != a.XZ.Size || hex.EncodeToString(sum[:]) != a.XZ.SHA256 {
				t.Fatalf("%s: %d bytes sha256 %x; manifest says %d bytes sha256 %s",
					a.XZFile, len(b), sum, a.XZ.Size, a.XZ.SHA256)
			}
			r, err := OpenXZ(a.Name)
			if err != nil {
				t.Fatal(err)
			}
			if r.Size() != a.XZ.Size {
				t.Fatalf("OpenXZ size %d, want %d", r.Size(), a.XZ.Size)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("OpenXZ reads different bytes than XZ (err %v)", err)
			}
			// The xz magic: a payload that is not xz would be caught by the
			// decoder later, but say so here plainly.
			if !bytes.HasPrefix(b, []byte("\xfd7zXZ\x00")) {
				t.Fatalf("%s does not start with the xz magic", a.XZFile)
			}
		})
	}
}

func TestUnknownName(t *testing.T) {
	for _, name := range []string{"", "kernel.xz", "bogus"} {
		if _, err := XZ(name); err == nil || !strings.Contains(err.Error(), "no asset named") {
			t.Errorf("XZ(%q): got %v, want a no-asset error", name, err)
		}
		if _, err := OpenXZ(name); err == nil {
			t.Errorf("OpenXZ(%q): no error", name)
		}
	}
}
