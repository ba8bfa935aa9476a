package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/delivery"
	"github.com/pathhook/pathhook/httpapi"
	"github.com/pathhook/pathhook/metrics"
	"github.com/pathhook/pathhook/netguard"
	"github.com/pathhook/pathhook/postgres"
	"github.com/pathhook/pathhook/sqlite"
	"github.com/pathhook/pathhook/sqlstore"
	"github.com/pathhook/pathhook/ui"
)

// leaseMargin is how much longer than an attempt can last a node holds the
// deliveries it works on before other nodes may take them over.
const leaseMargin = 30 * time.Second

// gcPercent is the garbage collector's GOGC in serve unless the
// environment sets GOGC. At full speed the server allocates about 23 KB per
// delivery around a small live heap, so with Go's default of 100 it
// collects many times a second; at 200 it spends 5 to 10% less CPU per
// delivery, and a backlog of 1,000,000 deliveries peaks at 133 MiB of RSS
// (docs/performance.md).
const gcPercent = 200

// tuneGC sets gcPercent unless the environment sets GOGC.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// runServe runs the API, the admin UI and the delivery engine until ctx
// ends, then shuts down gracefully: in-flight requests and attempts finish,
// results are recorded, leases of queued work are released.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseServeConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if c.resultsDir != "" {
		// Set on purpose: without it serve would run on, but without its
		// protection against sending again after a crash.
		if err := usableDir(c.resultsDir); err != nil {
			return fmt.Errorf("--results-dir %s: %w", c.resultsDir, err)
		}
	}
	tuneGC(getenv)
	log := newLogger(c.logFormat, stderr)
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	node := cmp.Or(c.node, defaultNode(ln.Addr()))
	lost := make(chan error, 1)
	store, release, err := openServeStore(ctx, c, node, log, func(err error) { lost <- err })
	if err != nil {
		return err
	}
	defer release()

	guard := netguard.New(c.allowNetworks, nil)
	stats := metrics.New(store, time.Now, log)
	engine := delivery.New(delivery.Config{
		Store: store, Owner: node, Platform: c.platform, Control: guard.Control,
		Schedule: c.retrySchedule, Timeout: c.deliveryTimeout, Workers: c.workers, PerWebhook: c.perWebhook,
		Lease: c.deliveryTimeout + leaseMargin, AutoDisableAfter: c.autoDisableAfter, Retention: c.retention,
		Journal: journalDir(c, node, log), TakeBack: isPostgres(c.db), Logger: log, Observer: stats,
	})
	svc := pathhook.NewService(pathhook.Config{
		Store: store, Dispatcher: engine, Lease: engine.LeaseOwner(),
		AllowHTTP: c.allowHTTP, CheckHost: guard.CheckHost,
	})

	if err := bootstrap(ctx, svc, c, ln.Addr().String(), stdout, log); err != nil {
		return err
	}
	srv := &http.Server{Handler: newHandler(c, svc, store, stats, log), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	var wg sync.WaitGroup
	engineDone := make(chan struct{})
	var engineErr error
	wg.Go(func() {
		defer close(engineDone)
		if engineErr = engine.Run(engineCtx); engineErr != nil {
			log.Error("delivery engine stopped", "err", engineErr)
		}
	})
	// Requests wait for the results of a crashed predecessor to be
	// restored, so that none changes a delivery meanwhile.
	select {
	case <-engine.Started():
	case <-engineDone:
		return engineErr // it could not start
	}
	if isPostgres(c.db) {
		// Other nodes announce work they release, and changes of webhooks
		// whose jobs this engine may hold.
		wg.Go(func() {
			_ = postgres.Listen(engineCtx, c.db, func(payload string) {
				if id, ok := strings.CutPrefix(payload, postgres.ChangedPrefix); ok {
					engine.WebhookChanged(id)
					return
				}
				engine.Poke()
			}, engine.WebhooksMayHaveChanged)
		})
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	// A plain line, whatever the log format, that scripts and tests can wait for.
	fmt.Fprintf(stderr, "pathhook listening on http://%s (admin UI at http://%s/)\n", ln.Addr(), ln.Addr())
	log.Info("serving", "addr", ln.Addr().String(), "db", redactDB(c.db), "platform", c.platform, "node", node)

	var lostErr error
	select {
	case err = <-serveErr:
	case lostErr = <-lost:
		log.Error("another process took this node's name: stopping", "node", node, "err", lostErr)
		stopEngine() // at once: the deliveries leased under the name are the other process's now
	case <-ctx.Done():
	}
	if err == nil {
		log.Info("shutting down; a second Ctrl-C or SIGTERM stops at once")
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.deliveryTimeout+5*time.Second)
		err = srv.Shutdown(shutCtx)
		cancel()
		if err != nil {
			// Requests still waiting (on a database that does not
			// answer, say) are cut off: their contexts end, and the
			// store answers those it has not begun at once.
			srv.Close()
		}
	}
	stopEngine()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return cmp.Or(lostErr, err)
}

// defaultNode names a node after its host and the port it listens on: a
// process started again on the same host and port is the same node, and
// takes back at once the work that its predecessor held. Characters that a
// --node may not hold become -.
func defaultNode(addr net.Addr) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "pathhook"
	}
	host = strings.Map(func(r rune) rune {
		if r < 128 && (r == '.' || r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return '-'
	}, host)
	if a, ok := addr.(*net.TCPAddr); ok {
		return host + ":" + strconv.Itoa(a.Port)
	}
	return host
}

// openServeStore opens the store for serve. A SQLite server first takes
// the file's lock: alone on it, it takes over the work that a previous
// process held when it stopped, crashed or was killed, every lease. A
// PostgreSQL node makes sure that no other process runs as node (see
// postgres.LockNode, which calls lost if that changes); its engine takes
// back the leases held under its name (delivery.Config.TakeBack).
func openServeStore(ctx context.Context, c *config, node string, log *slog.Logger, lost func(error)) (*sqlstore.DB, func(), error) {
	if isPostgres(c.db) {
		store, err := openStore(ctx, c.db, c.secretKey, true, log)
		if err != nil {
			return nil, nil, err
		}
		lock, err := lockNode(ctx, c.db, node, log, lost)
		if err != nil {
			store.Close()
			return nil, nil, err
		}
		return store, func() { store.Close(); lock.Unlock() }, nil
	}
	// The file's lock first: a second serve, refused, must not migrate the
	// database under the one that runs.
	unlock, err := sqlite.LockServer(c.db)
	if err != nil {
		return nil, nil, err
	}
	store, err := openStore(ctx, c.db, c.secretKey, true, log)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	release := func() { store.Close(); unlock() }
	n, err := store.ReleaseAllLeases(ctx)
	if err != nil {
		release()
		return nil, nil, err
	}
	if n > 0 {
		log.Info("took over deliveries that a previous process held", "deliveries", n, "node", node)
	}
	return store, release, nil
}

// nodeWait is how long a starting PostgreSQL node waits for its name while
// another process holds it: longer than PostgreSQL takes to notice that a
// dead node's lock connection is gone (see postgres.LockNode).
const nodeWait = 40 * time.Second

// lockNode takes the node's name on the database, waiting up to nodeWait
// for it.
func lockNode(ctx context.Context, db, node string, log *slog.Logger, lost func(error)) (*postgres.NodeLock, error) {
	deadline := time.Now().Add(nodeWait)
	for tries := 0; ; tries++ {
		lock, err := postgres.LockNode(ctx, db, node, lost)
		if !errors.Is(err, postgres.ErrNodeRunning) {
			return lock, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w; give each node its own --node", err)
		}
		if tries == 0 {
			log.Warn("waiting for this node's name: another process holds it, a previous one whose end PostgreSQL has not yet noticed or another node given the same --node",
				"node", node, "wait", nodeWait, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// journalDir is where the engine keeps results until they are recorded:
// --results-dir, or by default beside a SQLite file, which one server holds
// at a time, and for a PostgreSQL node under the user's cache directory,
// named after the node (its journal needs to outlive the process, not the
// machine: it is written without fsync). With no cache directory there is
// none.
// usableDir makes dir if need be and checks that files can be made in it.
func usableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

func journalDir(c *config, node string, log *slog.Logger) string {
	switch {
	case c.resultsDir != "":
		return c.resultsDir
	case !isPostgres(c.db):
		return c.db + "-results"
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		log.Warn("no results directory: a crash sends the deliveries whose results are not yet recorded again; set --results-dir", "err", err)
		return ""
	}
	return filepath.Join(cache, "pathhook", "results", node)
}

// newHandler routes the API, the operational endpoints and the admin UI.
func newHandler(c *config, svc *pathhook.Service, store *sqlstore.DB, stats *metrics.Metrics, log *slog.Logger) http.Handler {
	rate := httpapi.RateLimit{PerSecond: c.rateLimit, Burst: int(2 * c.rateLimit)}
	if c.rateLimit == 0 {
		rate.PerSecond = -1
	}
	api := httpapi.NewServer(httpapi.Config{Service: svc, Logger: log, Platform: c.platform, Ready: store.Ping, RateLimit: rate, Metrics: stats.Handler()})
	mux := http.NewServeMux()
	for _, p := range []string{"/v1/", "/healthz", "/readyz", "/openapi.json", "/metrics"} {
		mux.Handle(p, api)
	}
	mux.Handle("/", ui.New(ui.Config{Service: svc, Logger: log, Platform: c.platform, Secure: c.secureCookies, Sessions: store}))
	return mux
}

// bootstrap makes sure someone can sign in: the key in PATHHOOK_ADMIN_KEY
// exists for org default, or, on a fresh database, a new key is printed once.
func bootstrap(ctx context.Context, svc *pathhook.Service, c *config, addr string, stdout io.Writer, log *slog.Logger) error {
	if c.adminKey != "" {
		o, err := svc.EnsureOrg(ctx, pathhook.DefaultOrg)
		if err != nil {
			return err
		}
		_, err = svc.EnsureAPIKey(ctx, o.ID, "PATHHOOK_ADMIN_KEY", c.adminKey)
		if pathhook.ErrorCode(err) == pathhook.ECONFLICT {
			// In the operator's terms, and without the domain error's own
			// "pathhook: conflict:", which main's prefix would double.
			return fmt.Errorf("PATHHOOK_ADMIN_KEY: %s: set it to a new key of at least %d characters, or unset it and sign in with another key of org %q (pathhook apikey create --org %[3]s)",
				pathhook.ErrorMessage(err), pathhook.MinAPIKeyLen, pathhook.DefaultOrg)
		}
		return err
	}
	has, err := svc.HasAPIKeys(ctx)
	if err != nil || has {
		return err
	}
	key, err := svc.CreateFirstAPIKey(ctx, pathhook.DefaultOrg, "admin")
	if err != nil || key == "" {
		return err // or another node made the first key meanwhile
	}
	fmt.Fprintf(stdout, "Created org %q with an admin API key. It is shown once; keep it safe:\n\n    %s\n\nSign in to the admin UI at http://%s/ or call the API with\n    curl -H 'Authorization: Bearer %s' http://%s/v1/pathways\n\n", pathhook.DefaultOrg, key, addr, key, addr)
	log.Info("created org and admin key", "org", pathhook.DefaultOrg)
	return nil
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// redactDB hides the password of a database URL for logs.
func redactDB(db string) string {
	if u, err := url.Parse(db); err == nil && u.User != nil {
		return u.Redacted()
	}
	return db
}
