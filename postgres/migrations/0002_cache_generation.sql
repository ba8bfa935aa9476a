-- A generation that every change to pathways or webhooks raises, in the
-- transaction that makes the change, whoever makes it (any node, any
-- version, an operator's own SQL). A node keeps pathways and their
-- webhooks in memory with the generation it read them at, and uses them
-- while a transaction still reads that generation (sqlstore/cache.go):
-- the read that every API call that emits an event would otherwise make.
CREATE TABLE cache_generation (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	gen BIGINT NOT NULL
);
INSERT INTO cache_generation (id, gen) VALUES (1, 0);

-- The counter of the changed table's own schema, whatever the session's
-- search_path.
CREATE FUNCTION raise_cache_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('UPDATE %I.cache_generation SET gen = gen + 1 WHERE id = 1', TG_TABLE_SCHEMA);
	RETURN NULL;
END
$$;

-- Deferred to COMMIT, for each changed row: a transaction takes the
-- counter's row lock last, when it waits for nothing else, so that no two
-- transactions that change webhooks can wait for each other through it;
-- a statement that changes no row (the results' update of failing_since
-- usually changes none) takes nothing. ALWAYS: they fire in a session
-- with session_replication_role = replica too (logical replication's
-- apply, some tools). Only disabling them (pg_restore --disable-triggers)
-- keeps changes from raising the generation: restart the nodes after it.
CREATE CONSTRAINT TRIGGER pathways_changed AFTER INSERT OR UPDATE OR DELETE ON pathways
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION raise_cache_generation();
CREATE CONSTRAINT TRIGGER webhooks_changed AFTER INSERT OR UPDATE OR DELETE ON webhooks
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION raise_cache_generation();
CREATE TRIGGER pathways_truncated AFTER TRUNCATE ON pathways
	FOR EACH STATEMENT EXECUTE FUNCTION raise_cache_generation();
CREATE TRIGGER webhooks_truncated AFTER TRUNCATE ON webhooks
	FOR EACH STATEMENT EXECUTE FUNCTION raise_cache_generation();
ALTER TABLE pathways ENABLE ALWAYS TRIGGER pathways_changed;
ALTER TABLE pathways ENABLE ALWAYS TRIGGER pathways_truncated;
ALTER TABLE webhooks ENABLE ALWAYS TRIGGER webhooks_changed;
ALTER TABLE webhooks ENABLE ALWAYS TRIGGER webhooks_truncated;
