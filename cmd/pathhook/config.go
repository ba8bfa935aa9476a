package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/pathhook/pathhook/netguard"
)

// config is what serve runs with, from flags and environment variables.
type config struct {
	addr             string
	db               string
	node             string
	resultsDir       string
	platform         string
	allowHTTP        bool
	secureCookies    bool
	allowNetworks    []netip.Prefix
	retrySchedule    []time.Duration
	deliveryTimeout  time.Duration
	workers          int
	perWebhook       int
	autoDisableAfter time.Duration
	retention        time.Duration
	logFormat        string
	rateLimit        float64
	adminKey         string
	secretKey        string
	fromEnv          map[string]string // flag name to the environment variable that set it
}

// envFlag ties a flag to the environment variable that sets it when the
// command line does not.
type envFlag struct {
	name, env string
}

// parseFlags parses args into fs, then fills each flag the command line left
// unset from its environment variable: flags win over the environment.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, envs []envFlag) error {
	_, err := parseFlagsFrom(fs, args, getenv, envs)
	return err
}

// parseFlagsFrom is parseFlags that also returns which flags their
// environment variables set, by name.
func parseFlagsFrom(fs *flag.FlagSet, args []string, getenv func(string) string, envs []envFlag) (map[string]string, error) {
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fromEnv := map[string]string{}
	for _, e := range envs {
		v := getenv(e.env)
		if set[e.name] || v == "" {
			continue
		}
		if err := fs.Set(e.name, v); err != nil {
			return nil, fmt.Errorf("%s=%q: %v%s", e.env, v, err, wanted(fs.Lookup(e.name)))
		}
		fromEnv[e.name] = e.env
	}
	return fromEnv, nil
}

// wanted says what form a flag's value takes, for an error about a value
// that does not parse: the flag package says only "parse error".
func wanted(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case time.Duration:
		return " (want a Go duration such as 15s or 2h)"
	case int:
		return " (want a whole number)"
	case float64:
		return " (want a number)"
	}
	return ""
}

// boolValue is a boolean flag that takes only true, false, 1 and 0.
type boolValue struct{ p *bool }

func (b boolValue) String() string {
	if b.p == nil {
		return "false"
	}
	return fmt.Sprint(*b.p)
}

func (b boolValue) Set(s string) error {
	switch s {
	case "true", "1":
		*b.p = true
	case "false", "0":
		*b.p = false
	default:
		return errors.New("must be true, false, 1 or 0")
	}
	return nil
}

// IsBoolFlag lets --allow-http stand alone on the command line.
func (b boolValue) IsBoolFlag() bool { return true }

// funcValue is a flag whose value parse checks and stores.
type funcValue struct {
	value string
	parse func(string) error
}

func (f *funcValue) String() string { return f.value }

func (f *funcValue) Set(s string) error {
	if err := f.parse(s); err != nil {
		return err
	}
	f.value = s
	return nil
}

var (
	platformName = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	nodeName     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
)

// parseServeConfig reads serve's flags and environment.
func parseServeConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("pathhook serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&c.db, "db", "pathhook.db", "a SQLite file path, or a postgres:// URL")
	fs.StringVar(&c.node, "node", "", "this node's name in leases, one per running process on a database; a node started again under its name takes back at once the work it held (default: host name and listen port)")
	fs.StringVar(&c.resultsDir, "results-dir", "", "where each attempt's result is kept until it is recorded, so that a process killed meanwhile does not send the delivery again; each node needs its own (default: the SQLite file's path with -results; on PostgreSQL, pathhook/results/NODE in the user's cache directory)")
	fs.StringVar(&c.platform, "platform", "Falkor", "platform name, in header names: letters, digits and -")
	fs.Var(boolValue{&c.allowHTTP}, "allow-http", "accept http:// webhook URLs (development)")
	fs.Var(boolValue{&c.secureCookies}, "secure-cookies", "mark the admin UI's session cookie Secure on every request, for a proxy that ends TLS without saying so (X-Forwarded-Proto)")
	fs.Var(&funcValue{parse: func(s string) (err error) {
		c.allowNetworks, err = netguard.ParseAllowList(s)
		return err
	}}, "allow-networks", "comma-separated CIDRs exempt from the private-address block")
	schedule := "5s,5m,30m,2h,5h,10h,10h"
	fs.Var(&funcValue{value: schedule, parse: func(s string) (err error) {
		c.retrySchedule, err = parseSchedule(s)
		return err
	}}, "retry-schedule", "delays before retries 1..n (Go durations)")
	c.retrySchedule, _ = parseSchedule(schedule)
	fs.DurationVar(&c.deliveryTimeout, "delivery-timeout", 15*time.Second, "one attempt's whole time limit")
	fs.IntVar(&c.workers, "workers", 64, "concurrent delivery attempts in all")
	fs.IntVar(&c.perWebhook, "per-webhook", 8, "concurrent delivery attempts per webhook")
	fs.DurationVar(&c.autoDisableAfter, "auto-disable-after", 5*24*time.Hour, "disable a webhook that has failed without a success for this long")
	fs.DurationVar(&c.retention, "retention", 30*24*time.Hour, "delete ended deliveries older than this")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: text or json")
	fs.Float64Var(&c.rateLimit, "rate-limit", 1000, "API requests per second per key, with bursts of twice that; 0 turns limiting off")
	fromEnv, err := parseFlagsFrom(fs, args, getenv, []envFlag{
		{"addr", "PATHHOOK_ADDR"}, {"db", "PATHHOOK_DB"}, {"node", "PATHHOOK_NODE"}, {"results-dir", "PATHHOOK_RESULTS_DIR"}, {"platform", "PATHHOOK_PLATFORM"},
		{"allow-http", "PATHHOOK_ALLOW_HTTP"}, {"allow-networks", "PATHHOOK_ALLOW_NETWORKS"}, {"secure-cookies", "PATHHOOK_SECURE_COOKIES"},
		{"retry-schedule", "PATHHOOK_RETRY_SCHEDULE"}, {"delivery-timeout", "PATHHOOK_DELIVERY_TIMEOUT"},
		{"workers", "PATHHOOK_WORKERS"}, {"per-webhook", "PATHHOOK_PER_WEBHOOK"},
		{"auto-disable-after", "PATHHOOK_AUTO_DISABLE_AFTER"}, {"retention", "PATHHOOK_RETENTION"},
		{"log-format", "PATHHOOK_LOG_FORMAT"}, {"rate-limit", "PATHHOOK_RATE_LIMIT"},
	})
	if err != nil {
		return nil, err
	}
	c.fromEnv = fromEnv
	c.adminKey, c.secretKey = getenv("PATHHOOK_ADMIN_KEY"), getenv("PATHHOOK_SECRET_KEY")
	return c, c.check()
}

// setting names a flag as the operator gave it: by its environment
// variable if that is where its value came from.
func (c *config) setting(name string) string {
	if env, ok := c.fromEnv[name]; ok {
		return env
	}
	return "--" + name
}

// check reports the first setting that cannot work.
func (c *config) check() error {
	switch {
	case c.node != "" && !nodeName.MatchString(c.node):
		return fmt.Errorf("%s %q: must be 1 to 128 letters, digits and . _ : -, beginning with a letter or digit", c.setting("node"), c.node)
	case !platformName.MatchString(c.platform):
		return fmt.Errorf("%s %q: must be 1 to 64 letters, digits and -", c.setting("platform"), c.platform)
	case c.deliveryTimeout <= 0:
		return fmt.Errorf("%s: must be positive", c.setting("delivery-timeout"))
	case c.workers < 1:
		return fmt.Errorf("%s: must be at least 1", c.setting("workers"))
	case c.perWebhook < 1:
		return fmt.Errorf("%s: must be at least 1", c.setting("per-webhook"))
	case c.autoDisableAfter <= 0:
		return fmt.Errorf("%s: must be positive", c.setting("auto-disable-after"))
	case c.retention <= 0:
		return fmt.Errorf("%s: must be positive", c.setting("retention"))
	case c.rateLimit < 0:
		return fmt.Errorf("%s: must not be negative", c.setting("rate-limit"))
	case c.logFormat != "text" && c.logFormat != "json":
		return fmt.Errorf("%s %q: must be text or json", c.setting("log-format"), c.logFormat)
	case c.adminKey != "" && len(c.adminKey) < 24:
		return errors.New("PATHHOOK_ADMIN_KEY: must be at least 24 characters")
	}
	return nil
}

// parseSchedule reads a comma-separated list of positive Go durations.
func parseSchedule(s string) ([]time.Duration, error) {
	var ds []time.Duration
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" && s == "" {
			break // no retries
		}
		d, err := time.ParseDuration(part)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("delay %d (%q) is not a positive Go duration such as 5s or 2h", i+1, part)
		}
		ds = append(ds, d)
	}
	return ds, nil
}
