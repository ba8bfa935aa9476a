// Package filelock takes exclusive locks on files, which the operating
// system releases when the process ends, even by SIGKILL.
package filelock

import (
	"errors"
	"os"
)

// ErrHeld is TryLock's error when another process (or another open file
// of this one) holds the lock.
var ErrHeld = errors.New("the lock is held by another process")

// TryLock takes the exclusive lock of the file at path, creating it with
// mode 0600 if need be, without waiting. Closing the file releases it.
func TryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
