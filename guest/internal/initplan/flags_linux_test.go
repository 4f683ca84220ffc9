package initplan

import (
	"testing"

	"golang.org/x/sys/unix"
)

// The plan's flags are passed to mount(2) unchanged.
func TestMountFlagsAreTheKernels(t *testing.T) {
	for _, f := range []struct {
		ours MountFlags
		unix uintptr
	}{
		{MSRdonly, unix.MS_RDONLY}, {MSNosuid, unix.MS_NOSUID}, {MSNodev, unix.MS_NODEV},
		{MSNoexec, unix.MS_NOEXEC}, {MSBind, unix.MS_BIND}, {MSMove, unix.MS_MOVE},
	} {
		if uintptr(f.ours) != f.unix {
			t.Errorf("flag 0x%x, kernel value 0x%x", f.ours, f.unix)
		}
	}
}
