-- PostgreSQL's own ceiling for pathhook's API transaction (docs/performance.md).
-- Run on a new database that holds pathhook's schema:
--   createdb -h 127.0.0.1 -U postgres pgb_ceiling
--   psql -h 127.0.0.1 -U postgres -d pgb_ceiling -f postgres/migrations/0001_init.sql -f docs/pgbench/setup.sql
-- One org, 50 pathways, each with one enabled enrolments webhook, as
-- pathhook bench sets up.
INSERT INTO orgs VALUES ('org_1', 'bench', 0);
INSERT INTO pathways SELECT 'pw_' || g, 'org_1', 'Pathway ' || g, '', 0, 0 FROM generate_series(1, 50) g;
INSERT INTO webhooks SELECT 'wh_' || g, 'org_1', 'pw_' || g, 'enrolments', 'http://127.0.0.1:9/hook', true,
	decode(repeat('ab', 60), 'hex'), NULL, NULL, 0, 0, NULL, NULL FROM generate_series(1, 50) g;
