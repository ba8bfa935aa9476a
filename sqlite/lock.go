package sqlite

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// LockServer takes the lock that makes one server process the only one
// delivering from the database at path, so that it may take over every
// lease at start. Other commands (apikey) do not take it. The lock is held
// until unlock is called or the process ends, even by SIGKILL.
func LockServer(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("sqlite: another pathhook serve is already running on %s; use PostgreSQL to run several nodes", path)
		}
		return nil, fmt.Errorf("sqlite: lock %s: %w", path, err)
	}
	return f.Close, nil
}
