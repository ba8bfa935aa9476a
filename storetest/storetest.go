// Package storetest is the one behaviour suite that every pathhook store
// passes. A store's tests call Run with a function that opens a fresh,
// empty store; each test opens its own, so the tests run in parallel.
//
// The suite drives the real pathhook.Service on the real store, and the
// delivery engine's queue methods directly.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/secretbox"
	"github.com/pathhook/pathhook/sqlstore"
)

// Opener opens a fresh, empty store that seals secrets with box (nil:
// plain) and closes it when t ends.
type Opener func(t *testing.T, box pathhook.Sealer) *sqlstore.DB

// Run runs the suite against the stores that open makes.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, *harness)
	}{
		{"Orgs and API keys", testOrgsAndKeys},
		{"Pathways", testPathways},
		{"Activities and rewards", testActivitiesAndRewards},
		{"Enrolments", testEnrolments},
		{"Enrolment pages", testEnrolmentPages},
		{"Text and ids that cannot be stored", testBadBytes},
		{"Cursors of no list", testForeignCursors},
		{"Completions", testCompletions},
		{"Attendance", testAttendance},
		{"Awards", testAwards},
		{"Webhook setup, enable, test, redeliver", testWebhooks},
		{"Secrets sealed at rest", testSecretsAtRest},
		{"Tenant isolation", testTenantIsolation},
		{"Rolled back update", testRollback},
		{"Reads in a write transaction", testWriteReads},
		{"Concurrent updates", testConcurrentUpdates},
		{"A webhook read to change leaves its deliveries alone", testWebhookLockLeavesDeliveries},
		{"Concurrent updates that fail", testConcurrentUpdatesThatFail},
		{"Concurrent completions", testConcurrentCompletions},
		{"Migrations are idempotent", testMigrateTwice},
		{"Claim", testClaim},
		{"Concurrent claimers", testConcurrentClaims},
		{"Record", testRecord},
		{"Record disables", testRecordDisables},
		{"Record a large batch", testRecordBatch},
		{"Restore", testRestore},
		{"Record again after an unsure commit", testRecordAgain},
		{"Release", testRelease},
		{"Release a node's leases", testReleaseLeases},
		{"Park", testPark},
		{"Park due deliveries where they lie", testParkDue},
		{"Disable failing", testDisableFailing},
		{"End a backlog", testEndBacklog},
		{"A switch-off lingers", testEndBacklogLingers},
		{"Prune", testPrune},
		{"A prune waiting for a redelivered row leaves it", testPruneLeavesARedelivery},
		{"Queue stats and next due", testQueueStats},
		{"Admin UI sessions", testUISessions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, setup(t, open))
		})
	}
}

// harness is what a test needs: a store, a Service on it with a fake
// clock, and an org.
type harness struct {
	ctx   context.Context
	db    *sqlstore.DB
	svc   *pathhook.Service
	clock *Clock
	org   string
}

func setup(t *testing.T, open Opener) *harness {
	t.Helper()
	box, err := secretbox.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	db := open(t, box)
	h := &harness{ctx: context.Background(), db: db, clock: NewClock(time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC))}
	h.svc = pathhook.NewService(pathhook.Config{Store: db, Clock: h.clock.Now})
	o, err := h.svc.EnsureOrg(h.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	h.org = o.ID
	return h
}

// Clock is a fake clock that moves one millisecond each time it is read,
// so that everything made in a test has its own time and order.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock that starts at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time and moves it on by a millisecond.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// must returns v, failing the test on err: must(f())(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// wantCode fails the test unless err is a pathhook error with code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := pathhook.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

// count runs a raw COUNT query, without placeholders.
func (h *harness) count(t *testing.T, query string) int {
	t.Helper()
	var n int
	if err := h.db.SQL().QueryRowContext(h.ctx, query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// quote makes an id a SQL literal; ids are made of letters, digits and _.
func quote(id string) string { return "'" + id + "'" }

func (h *harness) pathway(t *testing.T, name string) *pathhook.Pathway {
	t.Helper()
	return must(h.svc.CreatePathway(h.ctx, h.org, pathhook.PathwayInput{Name: name}))(t)
}

// enable sets up and enables the pathway's webhook of category.
func (h *harness) enable(t *testing.T, p *pathhook.Pathway, category string) *pathhook.Webhook {
	t.Helper()
	for _, w := range p.Webhooks {
		if w.Category != category {
			continue
		}
		secret := "s3cret-" + category + "-0123456789abcdef"
		must(h.svc.SetupWebhook(h.ctx, h.org, w.ID, pathhook.WebhookSetup{URL: "https://example.com/" + category, Secret: &secret}))(t)
		on := true
		return must(h.svc.SwitchWebhook(h.ctx, h.org, w.ID, pathhook.WebhookSwitch{Enabled: &on}))(t)
	}
	t.Fatalf("pathway has no %s webhook", category)
	return nil
}

func (h *harness) enrol(t *testing.T, p *pathhook.Pathway, learner string) *pathhook.Enrolment {
	t.Helper()
	in := pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: learner, Email: learner + "@example.com", Name: "Learner " + learner}}
	return must(h.svc.Enrol(h.ctx, h.org, p.ID, in))(t)
}

// deliveries returns all deliveries of a webhook, newest first.
func (h *harness) deliveries(t *testing.T, webhookID string) []pathhook.Delivery {
	t.Helper()
	ds, _ := must2(t)(h.svc.Deliveries(h.ctx, h.org, webhookID, "", pathhook.Page{Limit: 100}))
	return ds
}

// eventTypes returns the event types of a webhook's deliveries, sorted:
// the events of one change share a millisecond, and so have no order.
func (h *harness) eventTypes(t *testing.T, webhookID string) []string {
	t.Helper()
	types := ids(h.deliveries(t, webhookID), func(d pathhook.Delivery) string { return d.EventType })
	slices.Sort(types)
	return types
}

func must2(t *testing.T) func(ds []pathhook.Delivery, cursor string, err error) ([]pathhook.Delivery, string) {
	return func(ds []pathhook.Delivery, cursor string, err error) ([]pathhook.Delivery, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ds, cursor
	}
}

// errRollback is returned by closures that test a rolled-back Update.
var errRollback = errors.New("roll back")

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, v := range items {
		out[i] = id(v)
	}
	return out
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func eqSlice(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
