-- Hotkeys (coffer.Hotkey): sr25519 public keys, by SS58 address, that sign
-- requests for a principal (Chutes). An address belongs to one principal of
-- the whole server, since a signed request names no account.
CREATE TABLE hotkeys (
	ss58         TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL REFERENCES accounts (id),
	principal_id TEXT NOT NULL REFERENCES principals (id),
	created_at   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX hotkeys_account ON hotkeys (account_id, created_at, ss58);

-- The replay cache of signed requests (Storage.UseNonce): one row per used
-- nonce key until it expires (Unix nanoseconds); expired rows are purged.
CREATE TABLE nonces (
	key     TEXT PRIMARY KEY,
	expires INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX nonces_expires ON nonces (expires);
