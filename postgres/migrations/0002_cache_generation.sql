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

-- Statement triggers with the changed rows, so that a statement that
-- changes no row (the results' update of failing_since usually does not)
-- neither raises the generation nor waits for its row.
CREATE FUNCTION raise_cache_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM changed) THEN
		UPDATE cache_generation SET gen = gen + 1 WHERE id = 1;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER pathways_inserted AFTER INSERT ON pathways REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION raise_cache_generation();
CREATE TRIGGER pathways_updated AFTER UPDATE ON pathways REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION raise_cache_generation();
CREATE TRIGGER pathways_deleted AFTER DELETE ON pathways REFERENCING OLD TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION raise_cache_generation();
CREATE TRIGGER webhooks_inserted AFTER INSERT ON webhooks REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION raise_cache_generation();
CREATE TRIGGER webhooks_updated AFTER UPDATE ON webhooks REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION raise_cache_generation();
CREATE TRIGGER webhooks_deleted AFTER DELETE ON webhooks REFERENCING OLD TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION raise_cache_generation();
