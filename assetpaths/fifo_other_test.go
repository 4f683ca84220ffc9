//go:build !unix

package assetpaths

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs on this system") }
