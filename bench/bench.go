// Package bench measures pathhook end to end, as `pathhook bench` runs it:
// it starts a receiver on 127.0.0.1 and the real server as child processes
// on a fresh database, sets up webhooks through the public API, drives
// enrolments through the API and counts what the receiver gets.
//
// Beside pathhook it measures two ceilings with the same load generator,
// the same requests and the same concurrency: the single-hop raw ceiling
// (the load generator posting straight to the receiver) and the bare relay
// ceiling (a plain net/http server that signs each body and forwards it
// synchronously to the receiver: the two HTTP hops any webhook sender pays
// for, without a database, a queue or any logic).
//
// With slow webhooks it also measures fairness: what webhooks whose
// endpoint takes seconds to answer cost the healthy ones (see fairness.go).
package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is what a run does. Zero fields take the defaults of
// `pathhook bench`.
type Config struct {
	// Events is how many API calls (enrolments, one event and one delivery
	// each) the run makes; Webhooks how many pathways, each with its
	// enrolments webhook enabled, they go round; Concurrency how many
	// keep-alive client connections make them.
	Events      int `json:"events"`
	Webhooks    int `json:"webhooks"`
	Concurrency int `json:"concurrency"`
	// Rate is the offered rate in calls per second; 0 is as fast as
	// possible.
	Rate float64 `json:"rate"`
	// ReceiverLatency is how long the receiver takes over each request;
	// ReceiverFail the share of requests (0..1) it answers 500.
	ReceiverLatency time.Duration `json:"receiver_latency_ns"`
	ReceiverFail    float64       `json:"receiver_fail"`
	// DB is a SQLite file that does not exist yet, or a postgres:// URL
	// of a server on which the run creates (and afterwards drops) its own
	// database; empty means a SQLite file in a new temporary directory.
	DB string `json:"-"`
	// Nodes is how many server processes share the database (PostgreSQL
	// only); the API calls are spread across them.
	Nodes int `json:"nodes"`
	// Kill is how many times a server is killed with SIGKILL during the
	// run, at even intervals of accepted calls, and started again.
	Kill int `json:"kill"`
	// ServerBinary is the pathhook executable, run as `<ServerBinary> serve`.
	ServerBinary string `json:"-"`
	// ServerFlags are added to serve's command line, after the bench's own
	// flags, which they override.
	ServerFlags []string `json:"server_flags,omitempty"`
	// RetrySchedule is serve's --retry-schedule: short by default, so that
	// a run with receiver failures ends in seconds.
	RetrySchedule string `json:"retry_schedule"`
	// Backlog makes the receiver hold every request unanswered until all
	// calls have been accepted, so that the deliveries pile up, and then
	// answer: it measures the server's memory with that backlog and how
	// fast it drains.
	Backlog bool `json:"backlog"`
	// SlowWebhooks, if above 0, makes a fairness run: after the run above,
	// whose webhooks are the healthy ones, a second phase makes the same
	// calls to them again with calls to SlowWebhooks more webhooks among
	// them, whose endpoint (a second receiver) takes SlowLatency to answer
	// each request. SlowShare is the share of the second phase's calls
	// that go to the slow webhooks; 0 means as many per slow webhook as
	// per healthy one.
	SlowWebhooks int           `json:"slow_webhooks"`
	SlowLatency  time.Duration `json:"slow_latency_ns"`
	SlowShare    float64       `json:"slow_share"`
	// NoCeilings skips the raw and relay ceilings.
	NoCeilings bool `json:"no_ceilings"`
	// Wait bounds the time from the last accepted call to the end of the
	// run, waiting for deliveries.
	Wait time.Duration `json:"wait_ns"`
	// Env is the environment of the server processes (default
	// os.Environ()); the bench adds PATHHOOK_ADMIN_KEY and
	// PATHHOOK_SECRET_KEY.
	Env []string `json:"-"`
	// Progress, if set, shows progress; Terminal redraws it in place.
	Progress io.Writer `json:"-"`
	Terminal bool      `json:"-"`
}

// Defaults of Config.
const (
	DefaultEvents        = 20000
	DefaultWebhooks      = 50
	DefaultConcurrency   = 64
	DefaultRetrySchedule = "1s,2s,4s,8s,15s,30s"
	DefaultWait          = 3 * time.Minute
	DefaultSlowLatency   = 5 * time.Second
)

// maxCeilingRequests bounds the ceilings of a long run: they measure a
// rate, which a few seconds show.
const maxCeilingRequests = 50000

func (c *Config) setDefaults() {
	c.Events = cmpInt(c.Events, DefaultEvents)
	c.Webhooks = cmpInt(c.Webhooks, DefaultWebhooks)
	c.Concurrency = cmpInt(c.Concurrency, DefaultConcurrency)
	c.Nodes = cmpInt(c.Nodes, 1)
	c.RetrySchedule = cmpOr(c.RetrySchedule, DefaultRetrySchedule)
	if c.Wait == 0 {
		c.Wait = DefaultWait
	}
	if c.SlowWebhooks > 0 {
		if c.SlowLatency == 0 {
			c.SlowLatency = DefaultSlowLatency
		}
		if c.SlowShare == 0 {
			c.SlowShare = float64(c.SlowWebhooks) / float64(c.Webhooks+c.SlowWebhooks)
		}
	}
	if c.Env == nil {
		c.Env = os.Environ()
	}
}

func cmpInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// check reports the first setting that cannot work.
func (c *Config) check() error {
	switch {
	case c.Events < 1:
		return errors.New("--events: must be at least 1")
	case c.Webhooks < 1:
		return errors.New("--webhooks: must be at least 1")
	case c.Concurrency < 1:
		return errors.New("--concurrency: must be at least 1")
	case c.Rate < 0:
		return errors.New("--rate: must not be negative")
	case c.ReceiverLatency < 0:
		return errors.New("--receiver-latency: must not be negative")
	case c.ReceiverFail < 0 || c.ReceiverFail > 1:
		return errors.New("--receiver-fail: must be between 0 and 1")
	case c.ReceiverFail == 1 && !c.Backlog:
		return errors.New("--receiver-fail 1: nothing would ever arrive; use --backlog for a receiver that is down")
	case c.Nodes < 1:
		return errors.New("--nodes: must be at least 1")
	case c.Nodes > 1 && !isPostgres(c.DB):
		return errors.New("--nodes: several nodes need a PostgreSQL --db")
	case c.Kill < 0:
		return errors.New("--kill: must not be negative")
	case c.Backlog && c.Kill > 0:
		return errors.New("--backlog and --kill: choose one")
	case c.ServerBinary == "":
		return errors.New("no server binary")
	case c.Wait < 0:
		return errors.New("--wait: must not be negative")
	case c.SlowWebhooks < 0:
		return errors.New("--slow-webhooks: must not be negative")
	case c.SlowWebhooks == 0 && (c.SlowLatency != 0 || c.SlowShare != 0):
		return errors.New("--slow-latency and --slow-share: need --slow-webhooks")
	case c.SlowLatency < 0:
		return errors.New("--slow-latency: must not be negative")
	case c.SlowShare < 0 || c.SlowShare >= 1:
		return errors.New("--slow-share: must be at least 0 and below 1")
	case c.SlowWebhooks > 0 && (c.Kill > 0 || c.Backlog):
		return errors.New("--slow-webhooks with --kill or --backlog: choose one")
	}
	return nil
}

// bench is one run under way.
type bench struct {
	c      Config
	epoch  time.Time
	secret string // every webhook's
	db     *database
	rc     *receiver
	nodes  []*node
	api    *api

	results string   // the PostgreSQL nodes' results directories are in it
	paths   []string // each pathway's enrolments path
	hooks   []string // each pathway's enrolments webhook id

	// The slow webhooks of a fairness run, and their endpoint.
	slow      *receiver
	slowPaths []string
	slowHooks []string
}

// Run makes one run and returns what it measured. It stops the servers
// and removes the database it created before it returns.
func Run(ctx context.Context, c Config) (*Result, error) {
	c.setDefaults()
	if err := c.check(); err != nil {
		return nil, err
	}
	machine := Machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version(), LoadAverage: loadAverage()}
	b := &bench{c: c, epoch: time.Now(), secret: "whsec-bench-" + randomHex(16)}
	defer b.close()
	if err := b.prepare(ctx); err != nil {
		return nil, err
	}
	r := &Result{Config: c, Database: "sqlite", Machine: machine, ServerArgs: b.nodes[0].args}
	if b.db.postgres {
		r.Database = "postgres"
	}
	if !c.NoCeilings {
		r.Raw, r.Relay = b.ceilings(ctx)
	}
	warmed := 0
	if c.SlowWebhooks > 0 {
		var err error
		if warmed, err = b.warmUp(ctx); err != nil {
			return nil, err
		}
	}
	if err := b.drive(ctx, r); err != nil {
		return nil, err
	}
	if c.SlowWebhooks > 0 {
		if err := b.besideSlow(ctx, r); err != nil {
			return nil, err
		}
		r.Fairness.WarmUpCalls = warmed
	}
	if r.Relay != nil && r.Relay.PerSecond > 0 {
		r.RelayRatio = float64(int(r.Pathhook.PerSecond/r.Relay.PerSecond*1000)) / 1000
	}
	return r, ctx.Err()
}

// prepare starts the receiver and the servers on a fresh database and sets
// the webhooks up.
func (b *bench) prepare(ctx context.Context) error {
	var err error
	if b.db, err = freshDatabase(ctx, b.c.DB); err != nil {
		return err
	}
	if b.rc, err = newReceiver([]byte(b.secret), b.c.ReceiverLatency, b.epoch); err != nil {
		return err
	}
	if b.c.SlowWebhooks > 0 {
		// Its own listener, as a slow receiver elsewhere would be: it
		// shares no connection pool with the healthy one.
		if b.slow, err = newReceiver([]byte(b.secret), b.c.SlowLatency, b.epoch); err != nil {
			return err
		}
	}
	adminKey := "bench-" + randomHex(24)
	var key [32]byte
	rand.Read(key[:])
	env := append(append([]string(nil), b.c.Env...),
		"PATHHOOK_ADMIN_KEY="+adminKey, "PATHHOOK_SECRET_KEY="+base64.StdEncoding.EncodeToString(key[:]))
	args := []string{"--db", b.db.db, "--allow-http", "--allow-networks", "127.0.0.0/8", "--retry-schedule", b.c.RetrySchedule}
	if b.c.Backlog {
		// Attempts held by a receiver that is down must wait, not fail.
		args = append(args, "--delivery-timeout", "2h")
	}
	// The bench is one API key making every call: the per-key rate limit
	// would measure itself, not the server. Older servers have none.
	flags, err := serveFlags(ctx, b.c.ServerBinary, b.c.Env)
	if err == nil && flags["rate-limit"] {
		args = append(args, "--rate-limit", "0")
	}
	args = append(args, b.c.ServerFlags...)
	if b.db.postgres && flags["results-dir"] {
		// Each PostgreSQL node keeps its results in a directory of its
		// own, as the README advises (SQLite keeps them beside the file).
		if b.results, err = os.MkdirTemp("", "pathhook-bench-results-*"); err != nil {
			return err
		}
	}
	for i := range b.c.Nodes {
		args := args
		if b.results != "" {
			args = append(slices.Clip(args), "--results-dir", filepath.Join(b.results, fmt.Sprintf("node-%d", i)))
		}
		n := &node{exe: b.c.ServerBinary, args: args, env: env}
		b.nodes = append(b.nodes, n)
		if err := n.start(); err != nil {
			return err
		}
	}
	b.api = &api{client: newClient(4), base: b.nodes[0].URL, auth: "Bearer " + adminKey}
	pathways, hooks, err := b.api.setup(ctx, "Bench pathway", b.c.Webhooks, b.rc.url+"/hook", b.secret)
	if err != nil {
		return fmt.Errorf("set up webhooks: %w", err)
	}
	b.paths, b.hooks = enrolmentPaths(pathways), hooks
	if b.slow != nil {
		pathways, hooks, err := b.api.setup(ctx, "Slow bench pathway", b.c.SlowWebhooks, b.slow.url+"/hook", b.secret)
		if err != nil {
			return fmt.Errorf("set up slow webhooks: %w", err)
		}
		b.slowPaths, b.slowHooks = enrolmentPaths(pathways), hooks
	}
	return nil
}

// enrolmentPaths returns the API path that enrols a learner in each pathway.
func enrolmentPaths(pathways []string) []string {
	paths := make([]string, len(pathways))
	for i, pw := range pathways {
		paths[i] = "/v1/pathways/" + pw + "/enrolments"
	}
	return paths
}

func (b *bench) close() {
	var wg sync.WaitGroup
	for _, n := range b.nodes {
		wg.Go(func() { n.stop(30 * time.Second) })
	}
	wg.Wait()
	for _, rc := range []*receiver{b.rc, b.slow} {
		if rc != nil {
			rc.close()
		}
	}
	if b.db != nil {
		if err := b.db.drop(); err != nil && b.c.Progress != nil {
			fmt.Fprintf(b.c.Progress, "bench: could not remove the database: %v\n", err)
		}
	}
	if b.results != "" {
		_ = os.RemoveAll(b.results)
	}
}

// body is the JSON body of call i, the same for pathhook and the ceilings.
func body(i int) []byte {
	n := strconv.Itoa(i)
	return []byte(`{"learner":{"id":"` + learnerPrefix + n + `","name":"Learner ` + n + `","email":"learner` + n + `@example.com"}}`)
}

// ceilings measures the raw and the relay ceilings.
func (b *bench) ceilings(ctx context.Context) (raw, relayed *Ceiling) {
	n := min(b.c.Events, maxCeilingRequests)
	rawC := b.ceiling(ctx, "raw", n, b.rc.url)
	rl, err := newRelay([]byte(b.secret), b.rc.url+"/hook/relay", b.c.Concurrency)
	if err != nil {
		return &rawC, nil
	}
	defer rl.close()
	relayC := b.ceiling(ctx, "relay", n, rl.url)
	return &rawC, &relayC
}

// ceiling measures n of the run's requests sent to base instead of pathhook.
func (b *bench) ceiling(ctx context.Context, label string, n int, base string) Ceiling {
	client := newClient(b.c.Concurrency)
	defer client.CloseIdleConnections()
	l := newLoad(client, n, b.c.Concurrency, 0, b.epoch)
	l.url = func(i, _ int) string { return base + b.paths[i%len(b.paths)] }
	l.body = body
	t := newTally(n)
	p := showProgress(b.c.Progress, b.c.Terminal, label, n, func() int { return int(l.started.Load()) }, t.progress, nil)
	defer p.done()
	return ceiling(ctx, b.rc, l, t)
}

// loadAverage returns the load averages of /proc/loadavg, or "".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
