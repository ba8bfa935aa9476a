package storetest

import (
	"fmt"
	"sync"
	"testing"

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
