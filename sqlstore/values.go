package sqlstore

import (
	"context"
	"strings"

	"github.com/pathhook/pathhook"
)

// maxListRows bounds the rows of one VALUES list. Lists are cut in
// powers of two, so that a few statements of each shape are prepared
// once and serve every batch.
const maxListRows = 64

// recordInLists is what recordAttempt does for each result, for a batch
// at once: the attempts and the deliveries' new states are written with
// one statement per list of up to maxListRows results.
func (t *txn) recordInLists(ctx context.Context, results []pathhook.Result, disabled map[string]bool) error {
	for _, run := range distinctRuns(results) {
		for len(run) > 0 {
			n := listSize(len(run))
			if err := t.recordList(ctx, run[:n], disabled); err != nil {
				return err
			}
			run = run[n:]
		}
	}
	return nil
}

// distinctRuns cuts results into runs in which no delivery appears
// twice: an UPDATE ... FROM applies only one of the rows that match a
// row it updates, where one statement per result applied each in turn.
func distinctRuns(results []pathhook.Result) [][]pathhook.Result {
	var runs [][]pathhook.Result
	seen := make(map[string]bool, len(results))
	start := 0
	for i, r := range results {
		if seen[r.DeliveryID] {
			runs = append(runs, results[start:i])
			clear(seen)
			start = i
		}
		seen[r.DeliveryID] = true
	}
	return append(runs, results[start:])
}

// listSize is the largest power of two up to maxListRows that n holds.
func listSize(n int) int {
	size := maxListRows
	for size > n {
		size /= 2
	}
	return size
}

func (t *txn) recordList(ctx context.Context, results []pathhook.Result, disabled map[string]bool) error {
	args := make([]any, 0, 7*len(results))
	for _, r := range results {
		a := r.Attempt
		args = append(args, r.DeliveryID, a.N, micros(a.StartedAt), a.DurationMS, a.ResponseStatus, attemptError(a),
			[]byte(a.ResponseBody))
	}
	// The deliveries are joined, not matched in a subquery per row, so
	// that the attempt of a delivery pruned meanwhile is left out, as
	// recordAttempt leaves it.
	_, err := t.exec(ctx, `INSERT INTO attempts (org_id, delivery_id, n, started_at, duration_ms, response_status, error, response_body)
		SELECT d.org_id, d.id, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7
		FROM (VALUES `+valuesList(len(results), 7)+`) AS v JOIN deliveries d ON d.id = v.column1`, args...)
	if err != nil {
		return fail("record attempts", err)
	}
	args = args[:0]
	for _, r := range results {
		status, next, ended, reason := outcome(r, disabled[r.WebhookID])
		args = append(args, r.DeliveryID, status, next, r.Attempt.N, ended, reason)
	}
	_, err = t.exec(ctx, `UPDATE deliveries SET status = v.column2, next_attempt_at = v.column3, due_at = v.column3,
		attempt_count = CASE WHEN attempt_count > v.column4 THEN attempt_count ELSE v.column4 END,
		lease_owner = '', lease_until = 0, ended_at = v.column5, end_reason = v.column6
		FROM (VALUES `+valuesList(len(results), 6)+`) AS v WHERE deliveries.id = v.column1`, args...)
	if err != nil {
		return fail("record deliveries", err)
	}
	return nil
}

// valuesList returns "(?, ?), (?, ?), ..." for rows rows of cols values.
func valuesList(rows, cols int) string {
	row := "(" + placeholders(cols) + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
}
