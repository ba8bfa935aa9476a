package sqlite_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pathhook/pathhook"
)

// TestGroupCommitUndoesFailedClosures runs concurrent Updates, which group
// commit shares transactions between, where some closures fail with a
// domain error after they wrote and some before: each failed closure
// leaves nothing, and every other one commits.
func TestGroupCommitUndoesFailedClosures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := open(t, nil)
	org, err := pathhook.NewService(pathhook.Config{Store: db}).EnsureOrg(ctx, "org")
	if err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1_700_000_000_000).UTC()
	const rounds, callers = 5, 40
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make([]error, callers)
		for i := range callers {
			wg.Go(func() {
				id := fmt.Sprintf("pw_%d_%02d", round, i)
				errs[i] = db.Update(ctx, func(tx pathhook.Tx) error {
					if i%5 == 1 {
						return pathhook.Errorf(pathhook.EINVALID, "refused before writing")
					}
					p := &pathhook.Pathway{ID: id, OrgID: org.ID, Name: id, CreatedAt: now, UpdatedAt: now}
					if err := tx.CreatePathway(ctx, p); err != nil {
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
			err := db.View(ctx, func(tx pathhook.Tx) error {
				_, err := tx.Pathway(ctx, org.ID, id)
				return err
			})
			if fails && pathhook.ErrorCode(err) != pathhook.ENOTFOUND || !fails && err != nil {
				t.Fatalf("pathway %s after its Update: %v", id, err)
			}
		}
	}
}
