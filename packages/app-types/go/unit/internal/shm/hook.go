package shm

// This module's version of ../../../shm/hook.go (the other files of this package are links to package shm's).

import (
	"unit.nginx.org/go/internal/hook"
)

func init() {
	hook.ReuseStreams = markReuseStreams
}
