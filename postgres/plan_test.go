package postgres_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/pathhook/pathhook/internal/pgtest"
)

// TestLeaseUpdatesFindDeliveriesByID: Release and Park (sqlstore's
// updateLeases) find each delivery by its id, even with statistics from
// when few deliveries were pending and none leased to the node. With the
// owner and the status as parameters, PostgreSQL started from the
// deliveries it took to be few: the plan here read every pending one, and
// one with 50,000 deliveries compared each with every lease, 1.3 s for a
// park of 500. The statement is a copy of the one updateLeases runs.
func TestLeaseUpdatesFindDeliveriesByID(t *testing.T) {
	t.Parallel()
	pgtest.URL(t)
	db := open(t, nil).SQL()
	staleStatistics(t, db, `UPDATE deliveries SET status = 'pending', next_attempt_at = 0, lease_owner = 'n1', lease_until = 99,
		due_at = 99 WHERE id <= 'dlv_00005000'`)
	var ids, untils, owners, statuses []string
	for i := range 500 {
		ids = append(ids, fmt.Sprintf("dlv_%08d", i+1))
		untils, owners, statuses = append(untils, "99"), append(owners, "n1"), append(statuses, "pending")
	}
	array := func(vs []string) string { return "{" + strings.Join(vs, ",") + "}" }
	text := explain(t, db, `EXPLAIN UPDATE deliveries SET lease_owner = '', lease_until = 0, due_at = next_attempt_at
		FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) AS v(column1, column2, column3, column4)
		WHERE deliveries.id = v.column1 AND deliveries.lease_until = v.column2 AND deliveries.lease_owner = v.column3
		AND deliveries.status = v.column4`, array(ids), array(untils), array(owners), array(statuses))
	// The leases lead: each delivery is found through the primary key,
	// or, in a table this small, by a hash of the leases over a scan of
	// the table, whose size the planner knows. Neither starts from the
	// pending deliveries leased to the node, which the statistics put at
	// none (at 5,000 here, and a million elsewhere), nor compares each
	// delivery with every lease.
	for _, bad := range []string{"deliveries_due", "Filter: ((lease_owner", "Filter: (status", "Join Filter"} {
		if strings.Contains(text, bad) {
			t.Errorf("plan:\n%s\nwant each delivery found by its id, not %q", text, bad)
		}
	}
}

// TestClaimFindsDeliveriesByID: a claim, and a park where they lie, update
// the rows their CTE picked by id, even with statistics from before a
// backlog (all 20,000 deliveries ended, then 5,000 pending). With
// status = 'pending' again in the update, PostgreSQL started from every
// pending delivery and compared each with every claimed one: 3.9 s a claim
// with 40,000 pending. The statements are copies of claim's and ParkDue's.
func TestClaimFindsDeliveriesByID(t *testing.T) {
	t.Parallel()
	pgtest.URL(t)
	db := open(t, nil).SQL()
	staleStatistics(t, db, `UPDATE deliveries SET status = 'pending', next_attempt_at = 1, due_at = 1 WHERE id <= 'dlv_00005000'`)
	for _, q := range []string{
		`EXPLAIN WITH due AS (SELECT d.id FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.status = 'pending' AND d.due_at <= 2 AND d.next_attempt_at <= 2 AND d.lease_until < 2 AND w.enabled = true
			ORDER BY d.due_at LIMIT 256 FOR NO KEY UPDATE OF d SKIP LOCKED)
		UPDATE deliveries SET lease_owner = 'n1', lease_until = 99, due_at = 99 FROM due
		WHERE deliveries.id = due.id
		RETURNING deliveries.id`,
		`EXPLAIN WITH due AS (SELECT d.id, d.due_at FROM deliveries d
			WHERE d.status = 'pending' AND d.due_at <= 2 AND d.next_attempt_at <= 2 AND d.lease_until < 2 AND d.webhook_id || '' = 'wh_1'
			ORDER BY d.due_at LIMIT 2000 FOR NO KEY UPDATE OF d SKIP LOCKED),
		turns AS (SELECT id, 10 + (ROW_NUMBER() OVER (ORDER BY due_at, id) - 1) * 5 AS at FROM due)
		UPDATE deliveries SET lease_owner = '', lease_until = 0, due_at = CASE WHEN turns.at < 1000 THEN turns.at ELSE 1000 END
		FROM turns WHERE deliveries.id = turns.id`,
	} {
		text := explain(t, db, q)
		byID := strings.Contains(text, "Index Cond: (id = due.id)") || strings.Contains(text, "Index Cond: (id = turns.id)") ||
			strings.Contains(text, "Hash Cond: (deliveries.id = ")
		if !byID || strings.Contains(text, "Join Filter: (deliveries.id =") {
			t.Errorf("plan:\n%s\nwant the rows the CTE picked updated by id", text)
		}
	}
}

// staleStatistics fills deliveries with 20,000 ended ones, has ANALYZE
// take its statistics then, and runs change, which the statistics do not
// see (autovacuum is off for the table).
func staleStatistics(t *testing.T, db *sql.DB, change string) {
	t.Helper()
	for _, q := range []string{
		`INSERT INTO orgs VALUES ('org_1', 'acme', 0)`,
		`INSERT INTO pathways VALUES ('pw_1', 'org_1', 'P', '', 0, 0)`,
		`INSERT INTO webhooks (id, org_id, pathway_id, category, enabled, created_at, updated_at)
			VALUES ('wh_1', 'org_1', 'pw_1', 'enrolments', true, 0, 0)`,
		`ALTER TABLE deliveries SET (autovacuum_enabled = false)`,
		`INSERT INTO deliveries (id, org_id, webhook_id, event_id, event_type, status, attempt_count, next_attempt_at,
			created_at, manual, lease_owner, lease_until, due_at)
			SELECT 'dlv_' || lpad(i::text, 8, '0'), 'org_1', 'wh_1', 'evt_' || i, 'enrolment.created', 'succeeded', 1, NULL,
			0, false, '', 0, NULL FROM generate_series(1, 20000) i`,
		`ANALYZE deliveries`,
		`ANALYZE webhooks`,
		change,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// explain returns the plan that query (an EXPLAIN) prints.
func explain(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}
