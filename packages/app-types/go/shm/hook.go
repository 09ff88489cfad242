package shm

// This file alone names the module's import path inside package shm: the other files of the package are shared,
// unchanged, with the unit.nginx.org/go module (../unit), whose copy of this file imports its own hook package.

import (
	"warden.dev/warden/internal/hook"
)

func init() {
	hook.ReuseStreams = markReuseStreams
}
