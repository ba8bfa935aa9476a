-- pathhook schema, PostgreSQL. Times are BIGINT unix microseconds (UTC),
-- exact and the same as in SQLite; ids sort by creation time (see id.go), so
-- "newest first" is "id DESC". Text compares bytewise (COLLATE "C"), as in
-- SQLite, so that id cursors mean the same on both. Every table but orgs
-- carries org_id, and every query is scoped by it.

CREATE TABLE orgs (
	id         TEXT COLLATE "C" PRIMARY KEY,
	name       TEXT COLLATE "C" NOT NULL UNIQUE,
	created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
	id         TEXT COLLATE "C" PRIMARY KEY,
	org_id     TEXT COLLATE "C" NOT NULL,
	name       TEXT COLLATE "C" NOT NULL,
	hint       TEXT COLLATE "C" NOT NULL,
	hash       BYTEA NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	revoked_at BIGINT
);
CREATE INDEX api_keys_org ON api_keys (org_id, id);

CREATE TABLE pathways (
	id          TEXT COLLATE "C" PRIMARY KEY,
	org_id      TEXT COLLATE "C" NOT NULL,
	name        TEXT COLLATE "C" NOT NULL,
	description TEXT COLLATE "C" NOT NULL,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL
);
CREATE INDEX pathways_org ON pathways (org_id, id);

CREATE TABLE activities (
	id         TEXT COLLATE "C" PRIMARY KEY,
	org_id     TEXT COLLATE "C" NOT NULL,
	pathway_id TEXT COLLATE "C" NOT NULL REFERENCES pathways (id),
	title      TEXT COLLATE "C" NOT NULL,
	kind       TEXT COLLATE "C" NOT NULL,
	starts_at  BIGINT,
	location   TEXT COLLATE "C" NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX activities_pathway ON activities (pathway_id, id);

CREATE TABLE rewards (
	id          TEXT COLLATE "C" PRIMARY KEY,
	org_id      TEXT COLLATE "C" NOT NULL,
	pathway_id  TEXT COLLATE "C" NOT NULL REFERENCES pathways (id),
	name        TEXT COLLATE "C" NOT NULL,
	kind        TEXT COLLATE "C" NOT NULL,
	points      INTEGER,
	unlock_on   TEXT COLLATE "C" NOT NULL,
	activity_id TEXT COLLATE "C" REFERENCES activities (id),
	created_at  BIGINT NOT NULL
);
CREATE INDEX rewards_pathway ON rewards (pathway_id, id);

CREATE TABLE enrolments (
	org_id       TEXT COLLATE "C" NOT NULL,
	pathway_id   TEXT COLLATE "C" NOT NULL REFERENCES pathways (id),
	learner_id   TEXT COLLATE "C" NOT NULL,
	email        TEXT COLLATE "C" NOT NULL,
	name         TEXT COLLATE "C" NOT NULL,
	status       TEXT COLLATE "C" NOT NULL,
	created_at   BIGINT NOT NULL,
	completed_at BIGINT,
	PRIMARY KEY (pathway_id, learner_id)
);
CREATE INDEX enrolments_list ON enrolments (pathway_id, created_at, learner_id);

CREATE TABLE completions (
	org_id      TEXT COLLATE "C" NOT NULL,
	pathway_id  TEXT COLLATE "C" NOT NULL,
	learner_id  TEXT COLLATE "C" NOT NULL,
	activity_id TEXT COLLATE "C" NOT NULL REFERENCES activities (id),
	created_at  BIGINT NOT NULL,
	PRIMARY KEY (pathway_id, learner_id, activity_id),
	FOREIGN KEY (pathway_id, learner_id) REFERENCES enrolments (pathway_id, learner_id)
);

CREATE TABLE awards (
	org_id     TEXT COLLATE "C" NOT NULL,
	reward_id  TEXT COLLATE "C" NOT NULL REFERENCES rewards (id),
	learner_id TEXT COLLATE "C" NOT NULL,
	pathway_id TEXT COLLATE "C" NOT NULL,
	source     TEXT COLLATE "C" NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (reward_id, learner_id)
);

CREATE TABLE attendance (
	org_id      TEXT COLLATE "C" NOT NULL,
	activity_id TEXT COLLATE "C" NOT NULL REFERENCES activities (id),
	learner_id  TEXT COLLATE "C" NOT NULL,
	pathway_id  TEXT COLLATE "C" NOT NULL,
	status      TEXT COLLATE "C" NOT NULL,
	updated_at  BIGINT NOT NULL,
	PRIMARY KEY (activity_id, learner_id)
);

CREATE TABLE webhooks (
	id                         TEXT COLLATE "C" PRIMARY KEY,
	org_id                     TEXT COLLATE "C" NOT NULL,
	pathway_id                 TEXT COLLATE "C" NOT NULL REFERENCES pathways (id),
	category                   TEXT COLLATE "C" NOT NULL,
	url                        TEXT COLLATE "C",
	enabled                    BOOLEAN NOT NULL,
	secret                     BYTEA,
	previous_secret            BYTEA,
	previous_secret_expires_at BIGINT,
	created_at                 BIGINT NOT NULL,
	updated_at                 BIGINT NOT NULL,
	disabled_reason            TEXT COLLATE "C",
	failing_since              BIGINT
);
CREATE INDEX webhooks_pathway ON webhooks (pathway_id);

CREATE TABLE events (
	id         TEXT COLLATE "C" PRIMARY KEY,
	org_id     TEXT COLLATE "C" NOT NULL,
	pathway_id TEXT COLLATE "C" NOT NULL,
	type       TEXT COLLATE "C" NOT NULL,
	category   TEXT COLLATE "C" NOT NULL,
	test       BOOLEAN NOT NULL,
	created_at BIGINT NOT NULL,
	payload    BYTEA NOT NULL
);

-- No foreign key to events: pruning deletes events after their
-- deliveries, and a key would make every such delete scan deliveries.
CREATE TABLE deliveries (
	id              TEXT COLLATE "C" PRIMARY KEY,
	org_id          TEXT COLLATE "C" NOT NULL,
	webhook_id      TEXT COLLATE "C" NOT NULL REFERENCES webhooks (id),
	event_id        TEXT COLLATE "C" NOT NULL,
	event_type      TEXT COLLATE "C" NOT NULL,
	status          TEXT COLLATE "C" NOT NULL,
	attempt_count   INTEGER NOT NULL,
	next_attempt_at BIGINT,
	created_at      BIGINT NOT NULL,
	manual          BOOLEAN NOT NULL,
	lease_owner     TEXT COLLATE "C" NOT NULL,
	lease_until     BIGINT NOT NULL,
	-- due_at is when a pending delivery can next be claimed: its
	-- next_attempt_at, or the end of its lease if that is later. Leases
	-- move it, so that claims never wade through deliveries in flight.
	due_at          BIGINT,
	ended_at        BIGINT,
	end_reason      TEXT COLLATE "C"
);
-- Claims and NextDue read only pending deliveries, in due order.
CREATE INDEX deliveries_due ON deliveries (due_at) WHERE status = 'pending';
-- A webhook's delivery log, newest first.
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);
-- Pruning finds events left without deliveries.
CREATE INDEX deliveries_event ON deliveries (event_id);

CREATE TABLE attempts (
	id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	org_id          TEXT COLLATE "C" NOT NULL,
	delivery_id     TEXT COLLATE "C" NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
	n               INTEGER NOT NULL,
	started_at      BIGINT NOT NULL,
	duration_ms     BIGINT NOT NULL,
	response_status INTEGER,
	error           TEXT COLLATE "C",
	response_body   BYTEA NOT NULL
);
CREATE INDEX attempts_delivery ON attempts (delivery_id);
