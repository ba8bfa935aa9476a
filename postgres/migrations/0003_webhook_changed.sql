-- Every change to a webhook that the jobs of its deliveries depend on (its
-- URL, its secrets, whether it is on), whoever makes it (any node, any
-- version, an operator's own SQL), notifies the nodes when it commits, so
-- that none sends a job it holds with an old URL or secret, or after the
-- webhook was switched off (delivery/change.go). The channel and the
-- payload's prefix are postgres.Channel and postgres.ChangedPrefix. A
-- change of failing_since alone, which results make, notifies nothing.
CREATE FUNCTION notify_webhook_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('pathhook_deliveries', 'webhook changed ' || OLD.id);
	RETURN NULL;
END
$$;

CREATE TRIGGER webhooks_notify_update AFTER UPDATE ON webhooks FOR EACH ROW
	WHEN (OLD.url IS DISTINCT FROM NEW.url
		OR OLD.enabled IS DISTINCT FROM NEW.enabled
		OR OLD.secret IS DISTINCT FROM NEW.secret
		OR OLD.previous_secret IS DISTINCT FROM NEW.previous_secret
		OR OLD.previous_secret_expires_at IS DISTINCT FROM NEW.previous_secret_expires_at
		OR OLD.id IS DISTINCT FROM NEW.id)
	EXECUTE FUNCTION notify_webhook_changed();
CREATE TRIGGER webhooks_notify_delete AFTER DELETE ON webhooks FOR EACH ROW
	EXECUTE FUNCTION notify_webhook_changed();
-- ALWAYS, as the generation's triggers (0002).
ALTER TABLE webhooks ENABLE ALWAYS TRIGGER webhooks_notify_update;
ALTER TABLE webhooks ENABLE ALWAYS TRIGGER webhooks_notify_delete;
