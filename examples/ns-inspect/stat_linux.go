package main

import (
	"os"
	"syscall"
)

// statIno is the inode number of a /proc/self/ns/* link target: the namespace's id.
func statIno(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
