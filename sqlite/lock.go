package sqlite

import (
	"errors"
	"fmt"

	"github.com/pathhook/pathhook/internal/filelock"
)

// LockServer takes the lock that makes one server process the only one
// delivering from the database at path, so that it may take over every
// lease at start. Other commands (apikey) do not take it. The lock is held
// until unlock is called or the process ends, even by SIGKILL.
func LockServer(path string) (unlock func() error, err error) {
	f, err := filelock.TryLock(path + ".lock")
	if errors.Is(err, filelock.ErrHeld) {
		return nil, fmt.Errorf("sqlite: another pathhook serve is already running on %s; use PostgreSQL to run several nodes", path)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock %s: %w", path, err)
	}
	return f.Close, nil
}
