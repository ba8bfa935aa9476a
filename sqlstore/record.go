package sqlstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/pathhook/pathhook"
)

// Record writes the outcomes of attempts in one transaction: each attempt,
// its delivery's new state (lease cleared) if the delivery is still under
// the lease the attempt ran under (Result.LeaseOwner), and per webhook its
// failing_since. A result with a DisableReason disables its webhook, whose
// pending deliveries EndBacklogs fails then; a result that asks for a
// retry of a delivery whose webhook is disabled fails it instead.
func (db *DB) Record(ctx context.Context, results []pathhook.Result) error {
	if len(results) == 0 {
		return nil
	}
	return db.writeTx(ctx, func(t *txn) error { return t.record(ctx, results, true) })
}

// RecordAgain is Record for results whose last Record may have been
// carried out (its COMMIT got no answer): the results whose attempts
// their deliveries have counted already are left out, and the rest are
// recorded as Record records them, each under the lease it names.
func (db *DB) RecordAgain(ctx context.Context, results []pathhook.Result) error {
	if len(results) == 0 {
		return nil
	}
	return db.writeTx(ctx, func(t *txn) error {
		// Locked, the counts wait for a transaction still under way: the
		// Record whose COMMIT went unanswered may be one.
		lock := t.forUpdate()
		if lock != "" {
			if err := t.lockWebhooks(ctx, results, lock); err != nil {
				return err
			}
		}
		counts, err := t.attemptCounts(ctx, results, "", nil, lock)
		if err != nil {
			return err
		}
		var fresh []pathhook.Result
		for _, r := range results {
			if count, ok := counts[r.DeliveryID]; ok && r.Attempt.N > count {
				fresh = append(fresh, r)
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		return t.record(ctx, fresh, true)
	})
}

// Restore records those of results whose attempts the store does not have
// yet, in one transaction, like Record, and returns how many it recorded:
// results that a process kept aside before it could record them, and that
// it may have recorded after all. An attempt is missing when its number is
// above its delivery's attempt count and the delivery, still pending, is
// leased to owner (the name under which the process that kept the results
// ran, and runs again) or to no node: no other node can have it in flight.
// Of two results of one attempt, the later counts. Results of deliveries
// that are gone are dropped.
//
// Where the database locks rows, it locks the webhooks of the missing
// results, in id order, before their deliveries, and then looks again, as
// Record takes webhooks before deliveries. Should it still deadlock with
// another node's transaction, PostgreSQL ends one of the two; a restore
// that fails leaves its results in the journal, and their deliveries are
// attempted again.
func (db *DB) Restore(ctx context.Context, owner string, results []pathhook.Result) (int, error) {
	var n int
	err := db.writeTx(ctx, func(t *txn) error {
		missing, err := t.missing(ctx, owner, results, "")
		if err != nil || len(missing) == 0 {
			return err
		}
		if lock := t.forUpdate(); lock != "" {
			if err := t.lockWebhooks(ctx, missing, lock); err != nil {
				return err
			}
			if missing, err = t.missing(ctx, owner, missing, lock); err != nil || len(missing) == 0 {
				return err
			}
		}
		n = len(missing)
		return t.record(ctx, missing, false)
	})
	return n, err
}

// lockWebhooks locks the rows of the results' webhooks in id order, with
// lock (Dialect.ForUpdate).
func (t *txn) lockWebhooks(ctx context.Context, results []pathhook.Result, lock string) error {
	ids := make([]string, 0, len(results))
	for _, r := range results {
		ids = append(ids, r.WebhookID)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for start := 0; start < len(ids); start += maxIDsPerQuery {
		chunk := ids[start:min(start+maxIDsPerQuery, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := t.query(ctx, "SELECT id FROM webhooks WHERE id IN ("+placeholders(len(args))+") ORDER BY id"+lock, args...)
		if err != nil {
			return fail("lock webhooks", err)
		}
		if _, err := collect(rows, "lock webhooks", func(s interface{ Scan(...any) error }, id *string) error {
			return s.Scan(id)
		}); err != nil {
			return err
		}
	}
	return nil
}

// missing returns, in order, the results whose attempts are newer than
// their deliveries' attempt counts, of pending deliveries leased to owner
// or to no node, the last of each attempt. It reads the deliveries with
// lock, if any.
func (t *txn) missing(ctx context.Context, owner string, results []pathhook.Result, lock string) ([]pathhook.Result, error) {
	counts, err := t.attemptCounts(ctx, results, "status = 'pending' AND lease_owner IN ('', ?) AND ", []any{owner}, lock)
	if err != nil {
		return nil, err
	}
	type attempt struct {
		id string
		n  int
	}
	last := make(map[attempt]int, len(results))
	for i, r := range results {
		last[attempt{r.DeliveryID, r.Attempt.N}] = i
	}
	var missing []pathhook.Result
	for i, r := range results {
		if count, ok := counts[r.DeliveryID]; ok && r.Attempt.N > count && last[attempt{r.DeliveryID, r.Attempt.N}] == i {
			missing = append(missing, r)
		}
	}
	return missing, nil
}

// attemptCounts returns the attempt counts of the results' deliveries
// that meet cond (a condition on deliveries followed by AND, with its
// parameters args), read with lock, if any.
func (t *txn) attemptCounts(ctx context.Context, results []pathhook.Result, cond string, args []any, lock string) (map[string]int, error) {
	type attemptCount struct {
		id    string
		count int
	}
	counts := map[string]int{}
	for start := 0; start < len(results); start += maxIDsPerQuery {
		chunk := results[start:min(start+maxIDsPerQuery, len(results))]
		chunkArgs := slices.Clip(args)
		for _, r := range chunk {
			chunkArgs = append(chunkArgs, r.DeliveryID)
		}
		// In id order, so that transactions that lock them take turns
		// rather than deadlock.
		rows, err := t.query(ctx, "SELECT id, attempt_count FROM deliveries WHERE "+cond+"id IN ("+
			placeholders(len(chunk))+") ORDER BY id"+lock, chunkArgs...)
		if err != nil {
			return nil, fail("attempt counts", err)
		}
		found, err := collect(rows, "attempt counts", func(s interface{ Scan(...any) error }, c *attemptCount) error {
			return s.Scan(&c.id, &c.count)
		})
		if err != nil {
			return nil, err
		}
		for _, c := range found {
			counts[c.id] = c.count
		}
	}
	return counts, nil
}

// record writes results. Fenced, a result decides its delivery's state only
// under the lease it names (Result.LeaseOwner); Restore, which has checked
// the deliveries itself, records without.
func (t *txn) record(ctx context.Context, results []pathhook.Result, fenced bool) error {
	var disabling []pathhook.Result
	for _, r := range results {
		if r.DisableReason != "" {
			disabling = append(disabling, r)
		}
	}
	// Webhooks are written before deliveries, as everywhere, and in id
	// order, so that concurrent transactions lock rows in the same order:
	// where results disable some, all of the batch's are locked first,
	// and those disabled once the results are recorded, since disabling
	// ends the leases the results are checked against; their results that
	// ask for a retry end as failed.
	if lock := t.forUpdate(); lock != "" && len(disabling) > 0 && fenced { // Restore has locked them
		if err := t.lockWebhooks(ctx, results, lock); err != nil {
			return err
		}
	}
	if err := t.recordFailing(ctx, results); err != nil {
		return err
	}
	disabled, err := t.disabledWebhooks(ctx, results)
	if err != nil {
		return err
	}
	for _, r := range disabling {
		disabled[r.WebhookID] = true
	}
	if err := t.recordInLists(ctx, results, disabled, fenced); err != nil {
		return err
	}
	for _, r := range disabling {
		if err := t.disableWebhook(ctx, r.WebhookID, r.DisableReason, attemptEnd(r.Attempt)); err != nil {
			return err
		}
	}
	return nil
}

// attemptEnd is when an attempt ended: the time its outcome is recorded as.
func attemptEnd(a pathhook.Attempt) time.Time {
	return a.StartedAt.Add(time.Duration(a.DurationMS) * time.Millisecond)
}

// disabledWebhooks returns which of the results' webhooks are disabled.
func (t *txn) disabledWebhooks(ctx context.Context, results []pathhook.Result) (map[string]bool, error) {
	seen := map[string]bool{}
	var ids []any
	for _, r := range results {
		if !seen[r.WebhookID] {
			seen[r.WebhookID] = true
			ids = append(ids, r.WebhookID)
		}
	}
	disabled := map[string]bool{}
	for start := 0; start < len(ids); start += maxIDsPerQuery {
		chunk := ids[start:min(start+maxIDsPerQuery, len(ids))]
		rows, err := t.query(ctx, "SELECT id FROM webhooks WHERE enabled = ? AND id IN ("+placeholders(len(chunk))+")",
			append([]any{false}, chunk...)...)
		if err != nil {
			return nil, fail("record: webhooks", err)
		}
		ids, err := collect(rows, "record: webhooks", func(s interface{ Scan(...any) error }, id *string) error { return s.Scan(id) })
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			disabled[id] = true
		}
	}
	return disabled, nil
}

// attemptError is an attempt's error as the error column keeps it.
func attemptError(a pathhook.Attempt) *string {
	if a.Error == nil {
		return nil
	}
	s := cleanText(*a.Error)
	return &s
}

// outcome is the state a result leaves its delivery in: status,
// next_attempt_at (also its due_at), ended_at and end_reason.
func outcome(r pathhook.Result, webhookDisabled bool) (status string, next, ended, reason any) {
	status, next = r.Status, nullMicros(&r.NextAttemptAt)
	if status == pathhook.DeliveryPending && webhookDisabled {
		status, reason = pathhook.DeliveryFailed, "webhook disabled"
	}
	if status != pathhook.DeliveryPending {
		next, ended = nil, micros(attemptEnd(r.Attempt))
	}
	return status, next, ended, reason
}

// recordFailing updates failing_since of each webhook in results: cleared
// by a success, set by the first failure after the last success. One
// statement per list of webhooks does it.
func (t *txn) recordFailing(ctx context.Context, results []pathhook.Result) error {
	type failing struct {
		id        string
		succeeded bool       // some attempt in the batch succeeded
		since     *time.Time // the first failure after the last success
	}
	var webhooks []*failing
	byID := map[string]*failing{}
	for _, r := range results {
		f := byID[r.WebhookID]
		if f == nil {
			f = &failing{id: r.WebhookID}
			byID[r.WebhookID] = f
			webhooks = append(webhooks, f)
		}
		if r.Status == pathhook.DeliverySucceeded {
			f.succeeded, f.since = true, nil
		} else if f.since == nil {
			started := r.Attempt.StartedAt
			f.since = &started
		}
	}
	// In id order, so that concurrent batches lock shared webhooks in one
	// order.
	slices.SortFunc(webhooks, func(a, b *failing) int { return strings.Compare(a.id, b.id) })
	for _, list := range lists(webhooks, t.db.dialect.ListRows) {
		values := make([]any, 0, len(failingColumns)*len(list))
		for _, f := range list {
			values = append(values, f.id, f.succeeded, nullMicros(f.since))
		}
		// A success sets failing_since to the failure after it, or clears
		// it; failures alone set it only if it is not set. Rows that
		// would stay NULL are not written.
		from, args := t.db.dialect.Rows(failingColumns, values)
		err := t.execLater(ctx, func(err error) error { return fail("record failing since", err) },
			`UPDATE webhooks SET failing_since = v.column3 FROM `+from+`
			WHERE webhooks.id = v.column1 AND (v.column2 OR webhooks.failing_since IS NULL)
			AND (v.column3 IS NOT NULL OR webhooks.failing_since IS NOT NULL)`, args...)
		if err != nil {
			return err
		}
	}
	return nil
}
