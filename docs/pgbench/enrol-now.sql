-- The statements of one enrolment as pathhook runs them since e88b36a:
-- three round trips (begin and read the pathway with its webhooks; insert
-- the enrolment; insert the event and its delivery, and commit).
\set p random(1, 50)
\set n random(1, 1000000000000)
\startpipeline
BEGIN;
SELECT p.id, p.org_id, p.name, p.description, p.created_at, p.updated_at, COALESCE(w.id, ''), COALESCE(w.org_id, ''), COALESCE(w.pathway_id, ''), COALESCE(w.category, ''), w.url, COALESCE(w.enabled, FALSE), w.secret, w.previous_secret, w.previous_secret_expires_at, COALESCE(w.created_at, 0), COALESCE(w.updated_at, 0), w.disabled_reason, w.failing_since FROM pathways p LEFT JOIN webhooks w ON w.org_id = p.org_id AND w.pathway_id = p.id WHERE p.org_id = 'org_1' AND p.id = 'pw_' || :p ORDER BY w.id;
\endpipeline
INSERT INTO enrolments VALUES ('org_1', 'pw_' || :p, 'learner-' || :client_id || '-' || :n, 'l@example.com', 'Learner', 'active', :n, NULL) ON CONFLICT DO NOTHING;
\startpipeline
WITH event AS (INSERT INTO events VALUES ('evt_' || :client_id || '_' || :n, 'org_1', 'pw_' || :p, 'enrolment.created', 'enrolments', false, :n, convert_to('{"pad":"' || repeat('x', 700) || '"}', 'UTF8'))) INSERT INTO deliveries VALUES ('dlv_' || :client_id || '_' || :n, 'org_1', 'wh_' || :p, 'evt_' || :client_id || '_' || :n, 'enrolment.created', 'pending', 0, :n, :n, false, 'node', :n, :n, NULL, NULL);
COMMIT;
\endpipeline
