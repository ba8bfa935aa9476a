package postgres

// MaxConns is maxConns, for the tests of package postgres_test.
const MaxConns = maxConns
