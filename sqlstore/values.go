package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/pathhook/pathhook"
)

// The SQL types of the columns of the lists of rows, for Dialect.Rows.
var (
	attemptColumns = []string{"text", "integer", "bigint", "bigint", "integer", "text", "bytea"}
	outcomeColumns = []string{"text", "text", "bigint", "integer", "bigint", "text", "text", "bigint"}
	failingColumns = []string{"text", "boolean", "bigint"}
)

// recordInLists writes the attempts of results and their deliveries' new
// states (lease cleared; fenced, only under the results' leases) with two
// statements per list of results
// (Dialect.Rows, Dialect.ListRows) instead of two per result, each a round
// trip where the database is across a connection.
func (t *txn) recordInLists(ctx context.Context, results []pathhook.Result, disabled map[string]bool, fenced bool) error {
	for _, run := range distinctRuns(results) {
		for _, list := range lists(run, t.db.dialect.ListRows) {
			if err := t.recordList(ctx, list, disabled, fenced); err != nil {
				return err
			}
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

// lists cuts s into lists of the sizes that size, given how many are
// left, returns.
func lists[T any](s []T, size func(n int) int) [][]T {
	var out [][]T
	for len(s) > 0 {
		n := size(len(s))
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func (t *txn) recordList(ctx context.Context, results []pathhook.Result, disabled map[string]bool, fenced bool) error {
	values := make([]any, 0, len(attemptColumns)*len(results))
	for _, r := range results {
		a := r.Attempt
		values = append(values, r.DeliveryID, a.N, micros(a.StartedAt), a.DurationMS, a.ResponseStatus, attemptError(a),
			[]byte(a.ResponseBody))
	}
	// Nothing waits for these writes: a Pipe sends them with the commit.
	// The deliveries are joined, so that the attempt of a delivery pruned
	// meanwhile is left out.
	from, args := t.db.dialect.Rows(attemptColumns, values)
	err := t.execLater(ctx, func(err error) error { return fail("record attempts", err) },
		`INSERT INTO attempts (org_id, delivery_id, n, started_at, duration_ms, response_status, error, response_body)
		SELECT d.org_id, d.id, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7
		FROM `+from+` JOIN deliveries d ON d.id = v.column1`, args...)
	if err != nil {
		return err
	}
	values = make([]any, 0, len(outcomeColumns)*len(results))
	for _, r := range results {
		status, next, ended, reason := outcome(r, disabled[r.WebhookID])
		var owner, until any // NULL: not fenced
		if fenced && r.LeaseOwner != "" {
			// A job that no node held fences nothing: its delivery may
			// have been claimed since by a node that cannot know.
			owner, until = r.LeaseOwner, leaseMicros(r.LeaseUntil)
		}
		values = append(values, r.DeliveryID, status, next, r.Attempt.N, ended, reason, owner, until)
	}
	from, args = t.db.dialect.Rows(outcomeColumns, values)
	return t.execLater(ctx, func(err error) error { return fail("record deliveries", err) },
		"UPDATE deliveries SET "+recordOutcome+" FROM "+from+" WHERE deliveries.id = v.column1", args...)
}

// recordOutcome is the SET clause that writes a list of outcomes (the
// columns of outcomeColumns, as v). Every attempt is logged and counted,
// so that the next one's number follows it, but only one made under the
// delivery's lease decides its state (Result.LeaseOwner): a result written
// late, after another node took the delivery over (its node's lease ran
// out while the write was retried) or after it ended, cannot undo what
// happened since, nor clear another node's lease. One exception: the
// success of an attempt that was under way when its webhook was switched
// off, whose delivery the switch-off failed (the only failures with an
// end_reason), and no later attempt since: the receiver took it, and the
// log must not say otherwise.
var recordOutcome = func() string {
	const underLease = "(v.column7 IS NULL OR deliveries.lease_owner = v.column7 AND deliveries.lease_until = v.column8" +
		" OR v.column2 = '" + pathhook.DeliverySucceeded + "' AND deliveries.status = '" + pathhook.DeliveryFailed + "'" +
		" AND deliveries.end_reason IS NOT NULL AND deliveries.attempt_count < v.column4)"
	var b strings.Builder
	for _, c := range [][2]string{{"status", "v.column2"}, {"next_attempt_at", "v.column3"}, {"due_at", "v.column3"},
		{"lease_owner", "''"}, {"lease_until", "0"}, {"ended_at", "v.column5"}, {"end_reason", "v.column6"}} {
		fmt.Fprintf(&b, "%s = CASE WHEN %s THEN %s ELSE deliveries.%[1]s END, ", c[0], underLease, c[1])
	}
	return b.String() + "attempt_count = CASE WHEN deliveries.attempt_count > v.column4 THEN deliveries.attempt_count ELSE v.column4 END"
}()
