-- Web console sessions (coffer.ConsoleSession), shared by restarts. id is
-- derived from the browser's session id and sealed is the API key the
-- session acts as, encrypted with a key derived from it too; times are Unix
-- nanoseconds. Ended rows are deleted when a session is created.
CREATE TABLE console_sessions (
	id         BLOB PRIMARY KEY,
	sealed     BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	idle_until INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;
