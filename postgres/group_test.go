package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
	"github.com/pathhook/pathhook/postgres"
	"github.com/pathhook/pathhook/sqlstore"
)

// TestGroupCommitAnswersEachCall runs calls that share a transaction: one
// whose queued write fails (an event whose id exists already) gets its
// own conflict, whether another call's statement or COMMIT reports it,
// and the other call commits; of two calls that write one new event, the
// first commits and the second gets the conflict, as they would one after
// the other.
func TestGroupCommitAnswersEachCall(t *testing.T) {
	t.Parallel()
	db := open(t, nil)
	ctx := context.Background()
	event := oneWebhook(t, db)
	ev, ds := event("wh_1")
	if err := db.Update(ctx, func(tx pathhook.Tx) error { return tx.CreateEvent(ctx, ev, ds) }); err != nil {
		t.Fatal(err)
	}
	taken := ev.ID // an event id that exists
	exists := func(id string) bool {
		var n int
		if err := db.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE id = $1", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	// call is one Update that writes an event with a delivery, after
	// reading the pathway if read, its id given, or new if id is "";
	// tx is the first transaction it ran in.
	type call struct {
		ev  *pathhook.Event
		tx  pathhook.Tx
		ran int64 // when its closure first ran, in the order of all calls
		err error
	}
	var ran atomic.Int64
	update := func(c *call, id string, read bool) {
		ev, ds := event("wh_1")
		if id != "" {
			ev.ID, ds[0].EventID = id, id
		}
		c.ev = ev
		c.err = db.Update(ctx, func(tx pathhook.Tx) error {
			if c.tx == nil {
				c.tx, c.ran = tx, ran.Add(1)
			}
			if read {
				if _, err := tx.Pathway(ctx, "org_1", "pw_1"); err != nil {
					return err
				}
			}
			return tx.CreateEvent(ctx, ev, ds)
		})
	}
	conflict := func(c *call, id string) bool {
		return pathhook.ErrorCode(c.err) == pathhook.ECONFLICT && strings.Contains(c.err.Error(), id)
	}

	for _, tc := range []struct {
		name string
		// run makes the two calls, in this order, with fresh, an event
		// id that no call has used.
		first, second func(c *call, fresh string)
		// check returns what is wrong with the outcome, or "".
		check func(first, second *call, fresh string) string
	}{
		{
			name:   "an event that exists, reported by the next call's read",
			first:  func(c *call, _ string) { update(c, taken, false) },
			second: func(c *call, _ string) { update(c, "", true) },
			check: func(a, b *call, _ string) string {
				if !conflict(a, taken) || b.err != nil || !exists(b.ev.ID) {
					return fmt.Sprintf("first %v, second %v (committed: %v); want a conflict, then the second committed", a.err, b.err, exists(b.ev.ID))
				}
				return ""
			},
		},
		{
			name:   "an event that exists, reported by COMMIT",
			first:  func(c *call, _ string) { update(c, "", false) },
			second: func(c *call, _ string) { update(c, taken, false) },
			check: func(a, b *call, _ string) string {
				if a.err != nil || !exists(a.ev.ID) || !conflict(b, taken) {
					return fmt.Sprintf("first %v (committed: %v), second %v; want the first committed, then a conflict", a.err, exists(a.ev.ID), b.err)
				}
				return ""
			},
		},
		{
			name:   "two calls with one new event: the first wins",
			first:  func(c *call, fresh string) { update(c, fresh, false) },
			second: func(c *call, fresh string) { update(c, fresh, false) },
			check: func(a, b *call, fresh string) string {
				if b.ran < a.ran {
					a, b = b, a // the one that ran first in the group is the first
				}
				if a.err != nil || !conflict(b, fresh) || !exists(fresh) {
					return fmt.Sprintf("first %v, second %v; want the first committed and the second's conflict", a.err, b.err)
				}
				return ""
			},
		},
	} {
		grouped := false
		for try := 0; try < 5 && !grouped; try++ {
			fresh, _ := event("wh_1")
			var a, b call
			inOneGroup(db, func() { tc.first(&a, fresh.ID) }, func() { tc.second(&b, fresh.ID) })
			if problem := tc.check(&a, &b, fresh.ID); problem != "" {
				t.Errorf("%s: %s", tc.name, problem)
			}
			grouped = a.tx == b.tx
		}
		if !grouped {
			t.Errorf("%s: the two calls never shared a transaction in five tries", tc.name)
		}
	}
}

// inOneGroup makes calls, each one db.Update, queue in the order given for
// the one loop of db's committer that it leaves free, so that the
// committer takes them as one group (unless the machine is slow enough to
// start a call 20 ms late), and waits for them.
func inOneGroup(db *sqlstore.DB, calls ...func()) {
	ctx := context.Background()
	// Hold every loop of the committer but one inside a call.
	release := make(chan struct{})
	var held sync.WaitGroup
	for range postgres.Groups - 1 {
		started := make(chan struct{})
		held.Go(func() {
			_ = db.Update(ctx, func(pathhook.Tx) error {
				close(started)
				<-release
				return nil
			})
		})
		<-started
	}
	// And the last one, until the calls are queued.
	started, last := make(chan struct{}), make(chan struct{})
	held.Go(func() {
		_ = db.Update(ctx, func(pathhook.Tx) error {
			close(started)
			<-last
			return nil
		})
	})
	<-started
	var running sync.WaitGroup
	for i, call := range calls {
		if i > 0 {
			time.Sleep(20 * time.Millisecond) // queued in this order
		}
		running.Go(call)
	}
	time.Sleep(50 * time.Millisecond)
	close(last)
	running.Wait()
	close(release)
	held.Wait()
}
