-- A webhook switched off has its pending deliveries failed by the delivery
-- engine, one webhook per transaction, rather than in the transaction that
-- switches it off: a large backlog would hold that one, its locks, and the
-- results recorder's batch, for as long as failing it takes. Each row is a
-- switch-off whose backlog is still to be failed, with the reason the
-- deliveries end with. since is the switch-off's time, which the
-- deliveries end at; a later switch-off of the same webhook replaces it.
-- swept is set once the whole backlog has been failed: the row stays for
-- a while, and later looks go over the deliveries made about the time of
-- the switch-off only, for those of transactions that read the webhook
-- as on and committed after it.
CREATE TABLE ending_backlogs (
	webhook_id TEXT COLLATE "C" PRIMARY KEY REFERENCES webhooks (id),
	org_id     TEXT COLLATE "C" NOT NULL,
	reason     TEXT NOT NULL,
	since      BIGINT NOT NULL,
	swept      BOOLEAN NOT NULL DEFAULT false
);
