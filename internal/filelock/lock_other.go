//go:build !unix && !windows

package filelock

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// lock fails: this system has no file lock that pathhook knows how to take.
func lock(*os.File) error {
	return fmt.Errorf("file locks on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
