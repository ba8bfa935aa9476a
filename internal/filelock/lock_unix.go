//go:build unix

package filelock

import (
	"errors"
	"os"
	"syscall"
)

// lock takes f's lock with flock(2), which a process holds until it
// closes the file or ends.
func lock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrHeld
	}
	return err
}
