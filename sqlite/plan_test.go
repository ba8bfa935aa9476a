package sqlite_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

// TestClaimUsesDueIndex guards the hot path: a claim reads pending
// deliveries through the partial due index, never by scanning the table.
func TestClaimUsesDueIndex(t *testing.T) {
	t.Parallel()
	db := open(t, nil)
	const claim = `EXPLAIN QUERY PLAN WITH due AS (SELECT d.id FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
		WHERE d.status = 'pending' AND d.due_at <= 1 AND d.next_attempt_at <= 1 AND d.lease_until < 1 AND w.enabled = 1
		ORDER BY d.due_at LIMIT 100)
		UPDATE deliveries SET lease_owner = 'x', lease_until = 2, due_at = 2 FROM due
		WHERE deliveries.id = due.id
		RETURNING deliveries.id`
	plan := queryPlan(t, db, claim)
	text := strings.Join(plan, "\n")
	scans := false
	for _, step := range plan {
		scans = scans || strings.HasPrefix(step, "SCAN d ") || step == "SCAN d" || strings.HasPrefix(step, "SCAN deliveries")
	}
	if !strings.Contains(text, "USING INDEX deliveries_due") || scans {
		t.Errorf("claim plan:\n%s\nwant a search of deliveries_due and no scan of deliveries", text)
	}
}

// TestParkDueUsesDueIndex: parking a webhook's due deliveries where they
// lie reads them through the due index, as a claim does.
func TestParkDueUsesDueIndex(t *testing.T) {
	t.Parallel()
	db := open(t, nil)
	plan := queryPlan(t, db, `EXPLAIN QUERY PLAN WITH due AS (SELECT d.id FROM deliveries d
			WHERE d.status = 'pending' AND d.due_at <= 1 AND d.next_attempt_at <= 1 AND d.lease_until < 1 AND d.webhook_id || '' = 'wh_x'
			ORDER BY d.due_at LIMIT 100)
		UPDATE deliveries SET lease_owner = '', lease_until = 0, due_at = 2 FROM due
		WHERE deliveries.id = due.id`)
	if text := strings.Join(plan, "\n"); !strings.Contains(text, "USING INDEX deliveries_due") {
		t.Errorf("park due plan:\n%s\nwant a search of deliveries_due", text)
	}
}

// TestUnparkUsesParkedIndex: un-parking a webhook reads its parked
// deliveries through the index of parked deliveries, not its whole history
// (deliveries_webhook) or every webhook's parked deliveries (deliveries_due).
func TestUnparkUsesParkedIndex(t *testing.T) {
	t.Parallel()
	db := open(t, nil)
	const parked = `webhook_id = 'wh_x' AND status = 'pending' AND lease_owner = '' AND due_at > next_attempt_at`
	for _, query := range []string{
		`SELECT COUNT(*), MAX(id) FROM (SELECT id FROM deliveries WHERE ` + parked + ` ORDER BY id LIMIT 100) ids`,
		`UPDATE deliveries SET due_at = next_attempt_at WHERE ` + parked + ` AND id <= 'dlv_b'`,
	} {
		plan := queryPlan(t, db, "EXPLAIN QUERY PLAN "+query)
		if text := strings.Join(plan, "\n"); !strings.Contains(text, "USING INDEX deliveries_parked (webhook_id=?") {
			t.Errorf("plan of %s:\n%s\nwant a search of deliveries_parked", query, text)
		}
	}
}

// TestLeaseUpdatesFindDeliveriesByID: Release and Park (sqlstore's
// updateLeases, here with two leases) find each delivery by its id.
func TestLeaseUpdatesFindDeliveriesByID(t *testing.T) {
	t.Parallel()
	db := open(t, nil)
	plan := queryPlan(t, db, `EXPLAIN QUERY PLAN UPDATE deliveries SET lease_owner = '', lease_until = 0
		FROM (VALUES ('dlv_a', 1, 'n1', 'pending'), ('dlv_b', 1, 'n1', 'pending')) AS v
		WHERE deliveries.id = v.column1 AND deliveries.lease_until = v.column2 AND deliveries.lease_owner = v.column3
		AND deliveries.status = v.column4`)
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "SEARCH deliveries USING INDEX sqlite_autoindex_deliveries_1 (id=?)") {
		t.Errorf("plan:\n%s\nwant each delivery searched by its id", text)
	}
}

// queryPlan returns the steps that EXPLAIN QUERY PLAN query prints.
func queryPlan(t *testing.T, db interface{ SQL() *sql.DB }, query string) []string {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
