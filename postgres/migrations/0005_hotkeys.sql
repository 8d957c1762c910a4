-- Hotkeys (coffer.Hotkey): sr25519 public keys, by SS58 address, that sign
-- requests for a principal (Chutes). An address belongs to one principal of
-- the whole server, since a signed request names no account.
CREATE TABLE hotkeys (
	ss58         TEXT COLLATE "C" PRIMARY KEY,
	account_id   TEXT COLLATE "C" NOT NULL REFERENCES accounts (id),
	principal_id TEXT COLLATE "C" NOT NULL REFERENCES principals (id),
	created_at   BIGINT NOT NULL
);

CREATE INDEX hotkeys_account ON hotkeys (account_id, created_at, ss58);

-- The replay cache of signed requests (Storage.UseNonce): one row per used
-- nonce key until it expires (Unix nanoseconds); expired rows are purged.
CREATE TABLE nonces (
	key     TEXT COLLATE "C" PRIMARY KEY,
	expires BIGINT NOT NULL
);

CREATE INDEX nonces_expires ON nonces (expires);
