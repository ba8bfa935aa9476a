-- The statements of one enrolment as pathhook ran them before 3e8a6c5, one
-- round trip each: begin, read the pathway, read its webhooks, insert the
-- enrolment, the event (a 700-byte payload) and its delivery, commit.
\set p random(1, 50)
\set n random(1, 1000000000000)
BEGIN;
SELECT id, org_id, name, description, created_at, updated_at FROM pathways WHERE org_id = 'org_1' AND id = 'pw_' || :p;
SELECT id, org_id, pathway_id, category, url, enabled, secret, previous_secret, previous_secret_expires_at, created_at, updated_at, disabled_reason, failing_since FROM webhooks WHERE org_id = 'org_1' AND pathway_id = 'pw_' || :p ORDER BY id;
INSERT INTO enrolments VALUES ('org_1', 'pw_' || :p, 'learner-' || :client_id || '-' || :n, 'l@example.com', 'Learner', 'active', :n, NULL) ON CONFLICT DO NOTHING;
INSERT INTO events VALUES ('evt_' || :client_id || '_' || :n, 'org_1', 'pw_' || :p, 'enrolment.created', 'enrolments', false, :n, convert_to('{"pad":"' || repeat('x', 700) || '"}', 'UTF8')) ON CONFLICT DO NOTHING;
INSERT INTO deliveries VALUES ('dlv_' || :client_id || '_' || :n, 'org_1', 'wh_' || :p, 'evt_' || :client_id || '_' || :n, 'enrolment.created', 'pending', 0, :n, :n, false, 'node', :n, :n, NULL, NULL) ON CONFLICT DO NOTHING;
COMMIT;
