-- AppRole (issue 20): roles of an account, each backed by an API key
-- (key_id), and their secret ids, kept as keyed hashes only. Durations are
-- nanoseconds; lists (scopes, CIDRs, metadata) are JSON.
CREATE TABLE approles (
	role_id               TEXT COLLATE "C" PRIMARY KEY,
	account_id            TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
	name                  TEXT COLLATE "C" NOT NULL,
	principal_id          TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
	key_id                TEXT COLLATE "C" NOT NULL REFERENCES api_keys (id),
	scopes                TEXT NOT NULL,
	token_ttl             BIGINT NOT NULL,
	secret_id_ttl         BIGINT NOT NULL,
	secret_id_num_uses    BIGINT NOT NULL,
	secret_id_bound_cidrs TEXT NOT NULL,
	token_bound_cidrs     TEXT NOT NULL,
	created_at            BIGINT NOT NULL,
	updated_at            BIGINT NOT NULL,
	UNIQUE (account_id, name)
);

CREATE TABLE approle_secrets (
	accessor    TEXT COLLATE "C" PRIMARY KEY,
	account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
	role_id     TEXT COLLATE "C" NOT NULL REFERENCES approles (role_id),
	hash        BYTEA NOT NULL,
	created_at  BIGINT NOT NULL,
	expires_at  BIGINT,
	num_uses    BIGINT NOT NULL,
	uses_left   BIGINT NOT NULL,
	bound_cidrs TEXT NOT NULL,
	metadata    TEXT NOT NULL,
	UNIQUE (role_id, hash)
);
