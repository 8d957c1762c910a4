-- Web console sessions (coffer.ConsoleSession), shared by every server of the
-- database. id is derived from the browser's session id and sealed is the
-- API key the session acts as, encrypted with a key derived from it too;
-- times are Unix nanoseconds. Ended rows are deleted when a session is
-- created.
CREATE TABLE console_sessions (
	id         BYTEA PRIMARY KEY,
	sealed     BYTEA NOT NULL,
	created_at BIGINT NOT NULL,
	idle_until BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
