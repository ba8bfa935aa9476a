package main

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeConfigNamesTheBadSetting holds that serve refuses a setting
// that cannot work with an error that names it, from a flag or from the
// environment.
func TestServeConfigNamesTheBadSetting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--node", "a node"}, nil, `--node "a node": must be 1 to 128 letters, digits and . _ : -`},
		{[]string{"--node", ".."}, nil, `--node "..": must be`},
		{nil, map[string]string{"PATHHOOK_NODE": strings.Repeat("n", 129)}, `PATHHOOK_NODE "nnn`},
		{[]string{"--platform", "Falkor Labs"}, nil, `--platform "Falkor Labs"`},
		{[]string{"--workers", "0"}, nil, "--workers: must be at least 1"},
		{[]string{"--retry-schedule", "5s,soon"}, nil, `delay 2 ("soon") is not a positive Go duration`},
		{nil, map[string]string{"PATHHOOK_LOG_FORMAT": "xml"}, `PATHHOOK_LOG_FORMAT "xml": must be text or json`},
		{[]string{"--log-format", "xml"}, nil, `--log-format "xml": must be text or json`},
		{nil, map[string]string{"PATHHOOK_SECURE_COOKIES": "sure"}, `PATHHOOK_SECURE_COOKIES="sure"`},
		{nil, map[string]string{"PATHHOOK_DELIVERY_TIMEOUT": "15"}, `PATHHOOK_DELIVERY_TIMEOUT="15": parse error (want a Go duration such as 15s or 2h)`},
		{nil, map[string]string{"PATHHOOK_WORKERS": "abc"}, `PATHHOOK_WORKERS="abc": parse error (want a whole number)`},
		{nil, map[string]string{"PATHHOOK_RATE_LIMIT": "fast"}, `PATHHOOK_RATE_LIMIT="fast": parse error (want a number)`},
	} {
		_, err := parseServeConfig(tc.args, testEnv(tc.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want an error with %q", tc.args, tc.env, err, tc.want)
		}
	}
	c, err := parseServeConfig([]string{"--node", "host-1.example:8080"}, testEnv(nil), io.Discard)
	if err != nil || c.node != "host-1.example:8080" {
		t.Errorf("a good --node: %+v, %v", c, err)
	}
	c, err = parseServeConfig(nil, testEnv(map[string]string{"PATHHOOK_SECURE_COOKIES": "true"}), io.Discard)
	if err != nil || !c.secureCookies {
		t.Errorf("PATHHOOK_SECURE_COOKIES=true: %+v, %v", c, err)
	}
}

// TestJournalDir holds where results wait to be recorded: --results-dir,
// else beside a SQLite file, else for a PostgreSQL node in the user's
// cache directory under its name. Not parallel: it sets the environment.
func TestJournalDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/var/cache/u")
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	pg := "postgres://pathhook@db/pathhook"
	for _, tc := range []struct {
		c    config
		want string
	}{
		{config{db: "/srv/pathhook.db"}, "/srv/pathhook.db-results"},
		{config{db: "/srv/pathhook.db", resultsDir: "/srv/results"}, "/srv/results"},
		{config{db: pg}, filepath.Join(cache, "pathhook", "results", "host-1:8080")},
		{config{db: pg, resultsDir: "/srv/results"}, "/srv/results"},
	} {
		if got := journalDir(&tc.c, "host-1:8080", log); got != tc.want {
			t.Errorf("journalDir(%+v) = %q, want %q", tc.c, got, tc.want)
		}
	}
}

// TestDefaultNode: a node is its host and listen port, in characters that
// --node accepts.
func TestDefaultNode(t *testing.T) {
	t.Parallel()
	got := defaultNode(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080})
	if !strings.HasSuffix(got, ":8080") || !nodeName.MatchString(got) {
		t.Errorf("defaultNode = %q, want the host name and :8080, a valid --node", got)
	}
}
