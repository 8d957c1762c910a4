-- Initial schema, the same as SQLite's (sqlite/migrations) in PostgreSQL's
-- types. Timestamps are Unix nanoseconds (UTC) in BIGINT, as the audit chain
-- needs nanoseconds; JSON columns hold '' when empty so that reads can skip
-- decoding. Ids, names and keys use the "C" collation: byte order, as in
-- SQLite, whatever the database's locale, so listings and paging agree
-- across engines.

CREATE TABLE meta (
	key   TEXT COLLATE "C" PRIMARY KEY,
	value BYTEA NOT NULL
);

CREATE TABLE accounts (
	id         TEXT COLLATE "C" PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE TABLE principals (
	id         TEXT COLLATE "C" PRIMARY KEY,
	account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
	name       TEXT COLLATE "C" NOT NULL,
	kind       TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE INDEX principals_account ON principals (account_id);

CREATE TABLE api_keys (
	id           TEXT COLLATE "C" PRIMARY KEY,
	account_id   TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
	principal_id TEXT COLLATE "C" NOT NULL,
	name         TEXT NOT NULL,
	admin        BOOLEAN NOT NULL,
	scopes       TEXT NOT NULL, -- JSON array of coffer.Scope
	hash         BYTEA NOT NULL,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT,
	last_used_at BIGINT,
	revoked_at   BIGINT
);

CREATE INDEX api_keys_account ON api_keys (account_id, created_at, id);

CREATE TABLE stores (
	id         TEXT COLLATE "C" PRIMARY KEY,
	account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
	name       TEXT COLLATE "C" NOT NULL,
	comment    TEXT NOT NULL,
	key_id     INTEGER NOT NULL, -- data key for new versions
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	CONSTRAINT stores_name UNIQUE (account_id, name)
);

CREATE TABLE store_keys (
	store_id TEXT COLLATE "C" NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
	id       INTEGER NOT NULL,
	wrapped  BYTEA NOT NULL,
	PRIMARY KEY (store_id, id)
);

CREATE TABLE secrets (
	id         TEXT COLLATE "C" PRIMARY KEY,
	account_id TEXT COLLATE "C" NOT NULL,
	store_id   TEXT COLLATE "C" NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
	name       TEXT COLLATE "C" NOT NULL,
	status     TEXT NOT NULL CHECK (status IN ('pending', 'active', 'deleted')),
	version    INTEGER NOT NULL, -- highest version number ever assigned
	comment    TEXT NOT NULL,
	labels     TEXT NOT NULL, -- JSON object
	scopes     TEXT NOT NULL, -- JSON array
	attributes TEXT NOT NULL, -- JSON object
	origin     TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	created_by TEXT NOT NULL,
	updated_at BIGINT NOT NULL,
	deleted_at BIGINT
);

-- A name is unique among the live secrets of a store only: the database
-- enforces it for every server sharing it.
CREATE UNIQUE INDEX secrets_live_name ON secrets (store_id, name) WHERE status <> 'deleted';
CREATE INDEX secrets_store ON secrets (store_id, name, id);

CREATE TABLE versions (
	secret_id    TEXT COLLATE "C" NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
	number       INTEGER NOT NULL,
	key_id       INTEGER NOT NULL,
	ciphertext   BYTEA, -- NULL once destroyed
	created_at   BIGINT NOT NULL,
	created_by   TEXT NOT NULL,
	destroyed_at BIGINT,
	PRIMARY KEY (secret_id, number) -- a version number is never given twice
);

CREATE TABLE audit (
	seq          BIGINT PRIMARY KEY,
	time         BIGINT NOT NULL,
	account_id   TEXT COLLATE "C" NOT NULL,
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
	prev_hash    BYTEA,
	hash         BYTEA NOT NULL
);

CREATE INDEX audit_account ON audit (account_id, seq);

-- The newest link of the one audit chain that every server appends to, and
-- its MAC. Each writing transaction locks this row first (SELECT ... FOR
-- UPDATE) and updates it before it commits, so appends are serialized in
-- commit order and the chain never forks. (SQLite keeps the head in meta.)
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  BIGINT NOT NULL, -- 0 while the log is empty
	hash BYTEA,
	mac  BYTEA
);

INSERT INTO audit_head (id, seq) VALUES (1, 0);
