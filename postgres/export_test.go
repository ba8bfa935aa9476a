package postgres

import "time"

// MaxConns is maxConns, for the tests of package postgres_test.
const MaxConns = maxConns

// SetNodeCheck sets how often node locks check their connection, for
// locks taken after it; tests that call it must not run in parallel.
func SetNodeCheck(d time.Duration) { nodeCheck = d }

// Check makes l check its connection now, and returns once it has begun.
func (l *NodeLock) Check() { l.check <- struct{}{} }

// Groups is groups, for the tests of package postgres_test.
const Groups = groups
