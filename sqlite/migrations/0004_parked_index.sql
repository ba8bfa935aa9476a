-- The deliveries that the engine parked: pending, leased to no node, and
-- due later than their next attempt (Store.Park). Unpark reads a
-- webhook's parked deliveries through it, not through the webhook's whole
-- history or every webhook's parked deliveries; rows enter it only when
-- parked, so the hot path writes nothing more.
CREATE INDEX deliveries_parked ON deliveries (webhook_id, id)
	WHERE status = 'pending' AND lease_owner = '' AND due_at > next_attempt_at;
