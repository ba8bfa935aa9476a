-- The admin UI's sign-in sessions (package ui), kept in the database so
-- that every node finds them and a restart signs nobody out. id_hash is
-- the SHA-256 of the session's cookie, in hex: the cookie itself is kept
-- nowhere. flash, the next page's message, may hold a secret just
-- generated, and is sealed as webhook secrets are.
CREATE TABLE ui_sessions (
	id_hash    TEXT COLLATE "C" PRIMARY KEY,
	org_id     TEXT COLLATE "C" NOT NULL,
	key_id     TEXT COLLATE "C" NOT NULL,
	key_hint   TEXT NOT NULL,
	csrf       TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	flash      BYTEA
);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);
