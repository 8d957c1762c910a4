-- Initial schema. Timestamps are Unix nanoseconds (UTC); JSON columns hold ''
-- when empty so that reads can skip decoding.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE accounts (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE principals (
	id         TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id),
	name       TEXT NOT NULL,
	kind       TEXT NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX principals_account ON principals (account_id);

CREATE TABLE api_keys (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL REFERENCES accounts (id),
	principal_id TEXT NOT NULL,
	name         TEXT NOT NULL,
	admin        INTEGER NOT NULL,
	scopes       TEXT NOT NULL, -- JSON array of coffer.Scope
	hash         BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER,
	last_used_at INTEGER,
	revoked_at   INTEGER
) WITHOUT ROWID;

CREATE INDEX api_keys_account ON api_keys (account_id, created_at, id);

CREATE TABLE stores (
	id         TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id),
	name       TEXT NOT NULL,
	comment    TEXT NOT NULL,
	key_id     INTEGER NOT NULL, -- data key for new versions
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (account_id, name)
) WITHOUT ROWID;

CREATE TABLE store_keys (
	store_id TEXT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
	id       INTEGER NOT NULL,
	wrapped  BLOB NOT NULL,
	PRIMARY KEY (store_id, id)
) WITHOUT ROWID;

CREATE TABLE secrets (
	id         TEXT PRIMARY KEY,
	account_id TEXT NOT NULL,
	store_id   TEXT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	status     TEXT NOT NULL CHECK (status IN ('pending', 'active', 'deleted')),
	version    INTEGER NOT NULL, -- highest version number ever assigned
	comment    TEXT NOT NULL,
	labels     TEXT NOT NULL, -- JSON object
	scopes     TEXT NOT NULL, -- JSON array
	attributes TEXT NOT NULL, -- JSON object
	origin     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	created_by TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	deleted_at INTEGER
) WITHOUT ROWID;

-- A name is unique among the live secrets of a store only.
CREATE UNIQUE INDEX secrets_live_name ON secrets (store_id, name) WHERE status <> 'deleted';
CREATE INDEX secrets_store ON secrets (store_id, name, id);

CREATE TABLE versions (
	secret_id    TEXT NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
	number       INTEGER NOT NULL,
	key_id       INTEGER NOT NULL,
	ciphertext   BLOB, -- NULL once destroyed
	created_at   INTEGER NOT NULL,
	created_by   TEXT NOT NULL,
	destroyed_at INTEGER,
	PRIMARY KEY (secret_id, number)
) WITHOUT ROWID;

CREATE TABLE audit (
	seq          INTEGER PRIMARY KEY,
	time         INTEGER NOT NULL,
	account_id   TEXT NOT NULL,
	principal_id TEXT NOT NULL,
	key_id       TEXT NOT NULL,
	action       TEXT NOT NULL,
	store_id     TEXT NOT NULL,
	secret_id    TEXT NOT NULL,
	name         TEXT NOT NULL,
	version      INTEGER NOT NULL,
	outcome      TEXT NOT NULL,
	reason       TEXT NOT NULL,
	request_id   TEXT NOT NULL,
	remote       TEXT NOT NULL,
	face         TEXT NOT NULL,
	prev_hash    BLOB,
	hash         BLOB NOT NULL
);

CREATE INDEX audit_account ON audit (account_id, seq);
