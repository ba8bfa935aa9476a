-- pathhook schema, SQLite. Times are INTEGER unix microseconds (UTC);
-- booleans are INTEGER 0/1; ids sort by creation time (see id.go), so
-- "newest first" is "id DESC". Every table but orgs carries org_id, and
-- every query is scoped by it.

CREATE TABLE orgs (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	org_id     TEXT NOT NULL,
	name       TEXT NOT NULL,
	hint       TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
);
CREATE INDEX api_keys_org ON api_keys (org_id, id);

CREATE TABLE pathways (
	id          TEXT PRIMARY KEY,
	org_id      TEXT NOT NULL,
	name        TEXT NOT NULL,
	description TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);
CREATE INDEX pathways_org ON pathways (org_id, id);

CREATE TABLE activities (
	id         TEXT PRIMARY KEY,
	org_id     TEXT NOT NULL,
	pathway_id TEXT NOT NULL REFERENCES pathways (id),
	title      TEXT NOT NULL,
	kind       TEXT NOT NULL,
	starts_at  INTEGER,
	location   TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX activities_pathway ON activities (pathway_id, id);

CREATE TABLE rewards (
	id          TEXT PRIMARY KEY,
	org_id      TEXT NOT NULL,
	pathway_id  TEXT NOT NULL REFERENCES pathways (id),
	name        TEXT NOT NULL,
	kind        TEXT NOT NULL,
	points      INTEGER,
	unlock_on   TEXT NOT NULL,
	activity_id TEXT REFERENCES activities (id),
	created_at  INTEGER NOT NULL
);
CREATE INDEX rewards_pathway ON rewards (pathway_id, id);

CREATE TABLE enrolments (
	org_id       TEXT NOT NULL,
	pathway_id   TEXT NOT NULL REFERENCES pathways (id),
	learner_id   TEXT NOT NULL,
	email        TEXT NOT NULL,
	name         TEXT NOT NULL,
	status       TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	completed_at INTEGER,
	PRIMARY KEY (pathway_id, learner_id)
);
CREATE INDEX enrolments_list ON enrolments (pathway_id, created_at, learner_id);

CREATE TABLE completions (
	org_id      TEXT NOT NULL,
	pathway_id  TEXT NOT NULL,
	learner_id  TEXT NOT NULL,
	activity_id TEXT NOT NULL REFERENCES activities (id),
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (pathway_id, learner_id, activity_id),
	FOREIGN KEY (pathway_id, learner_id) REFERENCES enrolments (pathway_id, learner_id)
);

CREATE TABLE awards (
	org_id     TEXT NOT NULL,
	reward_id  TEXT NOT NULL REFERENCES rewards (id),
	learner_id TEXT NOT NULL,
	pathway_id TEXT NOT NULL,
	source     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (reward_id, learner_id)
);

CREATE TABLE attendance (
	org_id      TEXT NOT NULL,
	activity_id TEXT NOT NULL REFERENCES activities (id),
	learner_id  TEXT NOT NULL,
	pathway_id  TEXT NOT NULL,
	status      TEXT NOT NULL,
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (activity_id, learner_id)
);

CREATE TABLE webhooks (
	id                         TEXT PRIMARY KEY,
	org_id                     TEXT NOT NULL,
	pathway_id                 TEXT NOT NULL REFERENCES pathways (id),
	category                   TEXT NOT NULL,
	url                        TEXT,
	enabled                    INTEGER NOT NULL,
	secret                     BLOB,
	previous_secret            BLOB,
	previous_secret_expires_at INTEGER,
	created_at                 INTEGER NOT NULL,
	updated_at                 INTEGER NOT NULL,
	disabled_reason            TEXT,
	failing_since              INTEGER
);
CREATE INDEX webhooks_pathway ON webhooks (pathway_id);

CREATE TABLE events (
	id         TEXT PRIMARY KEY,
	org_id     TEXT NOT NULL,
	pathway_id TEXT NOT NULL,
	type       TEXT NOT NULL,
	category   TEXT NOT NULL,
	test       INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	payload    BLOB NOT NULL
);

-- No foreign key to events: pruning deletes events after their
-- deliveries, and a key would make every such delete scan deliveries.
CREATE TABLE deliveries (
	id              TEXT PRIMARY KEY,
	org_id          TEXT NOT NULL,
	webhook_id      TEXT NOT NULL REFERENCES webhooks (id),
	event_id        TEXT NOT NULL,
	event_type      TEXT NOT NULL,
	status          TEXT NOT NULL,
	attempt_count   INTEGER NOT NULL,
	next_attempt_at INTEGER,
	created_at      INTEGER NOT NULL,
	manual          INTEGER NOT NULL,
	lease_owner     TEXT NOT NULL,
	lease_until     INTEGER NOT NULL,
	-- due_at is when a pending delivery can next be claimed: its
	-- next_attempt_at, or the end of its lease if that is later. Leases
	-- move it, so that claims never wade through deliveries in flight.
	due_at          INTEGER,
	ended_at        INTEGER,
	end_reason      TEXT
);
-- Claims and NextDue read only pending deliveries, in due order.
CREATE INDEX deliveries_due ON deliveries (due_at) WHERE status = 'pending';
-- A webhook's delivery log, newest first.
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);
-- Pruning finds events left without deliveries.
CREATE INDEX deliveries_event ON deliveries (event_id);

CREATE TABLE attempts (
	id              INTEGER PRIMARY KEY,
	org_id          TEXT NOT NULL,
	delivery_id     TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
	n               INTEGER NOT NULL,
	started_at      INTEGER NOT NULL,
	duration_ms     INTEGER NOT NULL,
	response_status INTEGER,
	error           TEXT,
	response_body   BLOB NOT NULL
);
CREATE INDEX attempts_delivery ON attempts (delivery_id);
