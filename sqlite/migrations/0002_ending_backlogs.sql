-- A webhook switched off has its pending deliveries failed by the delivery
-- engine, one webhook per transaction, rather than in the transaction that
-- switches it off: a large backlog would hold that one, and the writer,
-- for as long as failing it takes. Each row is a switch-off whose backlog
-- is still to be failed, with the reason the deliveries end with. since
-- is the switch-off's time, which the deliveries end at; a later
-- switch-off of the same webhook replaces it. swept is set once the whole
-- backlog has been failed: the row stays for a while, and later looks go
-- over the deliveries made about the time of the switch-off only (on
-- PostgreSQL a transaction that read the webhook as on may commit one
-- after the switch-off; SQLite keeps the same table for both).
CREATE TABLE ending_backlogs (
	webhook_id TEXT PRIMARY KEY REFERENCES webhooks (id),
	org_id     TEXT NOT NULL,
	reason     TEXT NOT NULL,
	since      INTEGER NOT NULL,
	swept      INTEGER NOT NULL DEFAULT 0
);
