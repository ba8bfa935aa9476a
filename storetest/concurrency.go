package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// testConcurrentUpdates runs many changes at once, some of which conflict:
// each conflict fails alone, and every other change commits with its
// event. (With group commit, they share transactions.)
func testConcurrentUpdates(t *testing.T, h *harness) {
	p := h.pathway(t, "P")
	w := h.enable(t, p, pathhook.CategoryEnrolments)
	const learners, tries = 12, 3
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	for i := range learners * tries {
		wg.Go(func() {
			in := pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: fmt.Sprintf("learner-%d", i%learners)}}
			_, err := h.svc.Enrol(h.ctx, h.org, p.ID, in)
			switch pathhook.ErrorCode(err) {
			case "":
			case pathhook.ECONFLICT:
				mu.Lock()
				conflicts++
				mu.Unlock()
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	eq(t, "conflicts", conflicts, learners*(tries-1))
	eq(t, "enrolments", h.count(t, "SELECT COUNT(*) FROM enrolments"), learners)
	eq(t, "events", h.count(t, "SELECT COUNT(*) FROM events"), learners)
	eq(t, "deliveries", len(h.deliveries(t, w.ID)), learners)
}

// testConcurrentUpdatesThatFail runs concurrent Updates, which a store
// may group into shared transactions, where some closures fail with a
// domain error after they wrote and some before: each failed closure
// leaves nothing, and every other one commits.
func testConcurrentUpdatesThatFail(t *testing.T, h *harness) {
	now := h.clock.Now()
	const rounds, callers = 5, 40
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make([]error, callers)
		for i := range callers {
			wg.Go(func() {
				id := fmt.Sprintf("pw_%d_%02d", round, i)
				errs[i] = h.db.Update(h.ctx, func(tx pathhook.Tx) error {
					if i%5 == 1 {
						return pathhook.Errorf(pathhook.EINVALID, "refused before writing")
					}
					p := &pathhook.Pathway{ID: id, OrgID: h.org, Name: id, CreatedAt: now, UpdatedAt: now}
					if err := tx.CreatePathway(h.ctx, p); err != nil {
						return err
					}
					if i%3 == 0 {
						return pathhook.Errorf(pathhook.EINVALID, "refused after writing")
					}
					return nil
				})
			})
		}
		wg.Wait()
		for i := range callers {
			id := fmt.Sprintf("pw_%d_%02d", round, i)
			fails := i%5 == 1 || i%3 == 0
			if code := pathhook.ErrorCode(errs[i]); fails && code != pathhook.EINVALID || !fails && errs[i] != nil {
				t.Fatalf("Update %s = %v", id, errs[i])
			}
			err := h.db.View(h.ctx, func(tx pathhook.Tx) error {
				_, err := tx.Pathway(h.ctx, h.org, id)
				return err
			})
			if fails && pathhook.ErrorCode(err) != pathhook.ENOTFOUND || !fails && err != nil {
				t.Fatalf("pathway %s after its Update: %v", id, err)
			}
		}
	}
}

// testConcurrentCompletions completes every activity of a pathway for a
// few learners at once, learners in opposite orders, so that calls which a
// store groups into shared transactions wait for each other's rows (the
// enrolment each completion locks) in every order: every completion is
// recorded once, and each learner completes the pathway once.
func testConcurrentCompletions(t *testing.T, h *harness) {
	p := h.pathway(t, "C")
	h.enable(t, p, pathhook.CategoryEnrolments)
	const learners, activities = 6, 10
	var acts []string
	for i := range activities {
		a := must(h.svc.CreateActivity(h.ctx, h.org, p.ID, pathhook.ActivityInput{Title: fmt.Sprintf("A%d", i), Kind: pathhook.ActivityOnline}))(t)
		acts = append(acts, a.ID)
	}
	for l := range learners {
		h.enrol(t, p, fmt.Sprintf("c-%d", l))
	}
	var wg sync.WaitGroup
	for i := range activities {
		for l := range learners {
			if i%2 == 1 {
				l = learners - 1 - l
			}
			wg.Go(func() {
				in := pathhook.CompletionInput{ActivityID: acts[i]}
				if _, err := h.svc.Complete(h.ctx, h.org, p.ID, fmt.Sprintf("c-%d", l), in); err != nil {
					t.Errorf("complete %s for c-%d: %v", acts[i], l, err)
				}
			})
		}
	}
	wg.Wait()
	eq(t, "completions", h.count(t, "SELECT COUNT(*) FROM completions"), learners*activities)
	eq(t, "completed events", h.count(t, "SELECT COUNT(*) FROM events WHERE type = 'enrolment.completed'"), learners)
	eq(t, "activity events", h.count(t, "SELECT COUNT(*) FROM events WHERE type = 'enrolment.activity_completed'"), learners*activities)
}

// testWebhookLockLeavesDeliveries: a transaction that has read a webhook
// to change it (and so locks its row, where rows are locked) does not hold
// up an enrolment into its pathway, whose delivery refers to the webhook:
// nothing that changes a webhook changes its id, so the check of the
// reference has nothing to wait for.
func testWebhookLockLeavesDeliveries(t *testing.T, h *harness) {
	if h.db.SerialWrites() {
		t.Skip("writes take turns here, one transaction at a time")
	}
	p := h.pathway(t, "Locked webhook")
	w := h.enable(t, p, pathhook.CategoryEnrolments)
	locked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once // the closure may run again
	changed := make(chan error, 1)
	go func() {
		changed <- h.db.Update(h.ctx, func(tx pathhook.Tx) error {
			if _, err := tx.Webhook(h.ctx, h.org, w.ID); err != nil {
				return err
			}
			once.Do(func() { close(locked) })
			<-release
			return nil
		})
	}()
	select {
	case <-locked:
	case err := <-changed:
		t.Fatalf("read of the webhook to change: %v", err)
	}
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	enrolled := make(chan error, 1)
	go func() {
		in := pathhook.EnrolmentInput{Learner: &pathhook.Learner{ID: "while-locked"}}
		_, err := h.svc.Enrol(ctx, h.org, p.ID, in)
		enrolled <- err
	}()
	var err error
	select {
	case err = <-enrolled:
	case <-time.After(10 * time.Second): // should the call not heed its context
		err = errors.New("no answer in 10 s")
	}
	close(release)
	if err != nil {
		t.Errorf("enrolment while the webhook was read to change: %v (it waited for the row lock)", err)
	}
	if err := <-changed; err != nil {
		t.Errorf("change of the webhook: %v", err)
	}
	if ds := h.deliveries(t, w.ID); len(ds) != 1 {
		t.Errorf("%d deliveries, want the enrolment's 1", len(ds))
	}
}

// testPruneLeavesARedelivery: a redelivery makes an ended delivery pending
// again; a prune that picked the delivery before and waited for its row
// leaves it, rather than deleting a delivery with an attempt on its way.
func testPruneLeavesARedelivery(t *testing.T, h *harness) {
	if h.db.SerialWrites() {
		t.Skip("writes take turns here, one transaction at a time")
	}
	_, ds := h.queued(t, 1)
	h.record(t, result(ds[0], 1, pathhook.DeliverySucceeded, h.clock.Now(), 200))
	cutoff := h.clock.Now()
	db := h.db.SQL()
	tx, err := db.BeginTx(h.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var pid int
	if err := tx.QueryRowContext(h.ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	// What a redelivery writes, held uncommitted.
	if _, err := tx.ExecContext(h.ctx, "UPDATE deliveries SET status = 'pending' WHERE id = $1", ds[0].ID); err != nil {
		t.Fatal(err)
	}
	pruned := make(chan int, 1)
	go func() {
		n, err := h.db.Prune(h.ctx, cutoff)
		if err != nil {
			t.Errorf("Prune: %v", err)
		}
		pruned <- n
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting int
		if err := db.QueryRowContext(h.ctx, "SELECT COUNT(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid).
			Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case n := <-pruned:
			t.Fatalf("Prune returned %d without waiting for the redelivered row", n)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("Prune never waited for the redelivered row")
		}
		time.Sleep(time.Millisecond)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := <-pruned; n != 0 {
		t.Errorf("pruned %d deliveries, want none: the one there was redelivered meanwhile", n)
	}
	d := must(h.svc.Delivery(h.ctx, h.org, ds[0].ID))(t)
	eq(t, "the redelivered delivery's status", d.Status, pathhook.DeliveryPending)
}
