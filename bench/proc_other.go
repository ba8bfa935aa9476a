//go:build !linux

package bench

import (
	"syscall"
	"time"
)

// childAttr is nil where a child cannot be tied to its parent's death.
func childAttr() *syscall.SysProcAttr { return nil }

// selfCPU is not measured here.
func selfCPU() time.Duration { return 0 }
