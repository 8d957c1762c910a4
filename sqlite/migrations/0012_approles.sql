-- AppRole (issue 20): roles of an account, each backed by an API key
-- (key_id), and their secret ids, kept as keyed hashes only. Durations are
-- nanoseconds; lists (scopes, CIDRs, metadata) are JSON.
CREATE TABLE approles (
	role_id               TEXT PRIMARY KEY,
	account_id            TEXT NOT NULL REFERENCES accounts (id),
	name                  TEXT NOT NULL,
	principal_id          TEXT NOT NULL REFERENCES principals (id),
	key_id                TEXT NOT NULL REFERENCES api_keys (id),
	scopes                TEXT NOT NULL,
	token_ttl             INTEGER NOT NULL,
	secret_id_ttl         INTEGER NOT NULL,
	secret_id_num_uses    INTEGER NOT NULL,
	secret_id_bound_cidrs TEXT NOT NULL,
	token_bound_cidrs     TEXT NOT NULL,
	created_at            INTEGER NOT NULL,
	updated_at            INTEGER NOT NULL,
	UNIQUE (account_id, name)
) WITHOUT ROWID;

CREATE TABLE approle_secrets (
	accessor    TEXT PRIMARY KEY,
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	role_id     TEXT NOT NULL REFERENCES approles (role_id),
	hash        BLOB NOT NULL,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER,
	num_uses    INTEGER NOT NULL,
	uses_left   INTEGER NOT NULL,
	bound_cidrs TEXT NOT NULL,
	metadata    TEXT NOT NULL,
	UNIQUE (role_id, hash)
) WITHOUT ROWID;
