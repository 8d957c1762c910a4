-- The replay cache is decided in memory (nonces.go) and persisted behind as
-- a log: one row per use, appended in the order of use, so that a flush
-- writes the last page or two of each B-tree instead of pages all over a
-- tree keyed by random digests. digest is the first 16 bytes of the SHA-256
-- of the nonce key; expires is in Unix nanoseconds. The rows of the table
-- nonces, which this replaces, move here when the database is next opened.
CREATE TABLE nonce_log (
	digest  BLOB NOT NULL,
	expires INTEGER NOT NULL
);

CREATE INDEX nonce_log_expires ON nonce_log (expires);
