-- JWT/OIDC and Kubernetes logins (issue 20): trust configurations of an
-- account and their roles, each role backed by an API key (key_id). The key
-- source, limits, scopes and bindings are JSON (settings).
CREATE TABLE jwt_configs (
	id         TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id),
	name       TEXT NOT NULL,
	issuer     TEXT NOT NULL,
	settings   TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	-- A config's name is its Vault auth mount path (auth/NAME/login), which a
	-- login names without an account: unique on the server, so that a login
	-- finds one config at most and no tenant can make another's ambiguous.
	UNIQUE (name)
);

CREATE TABLE jwt_roles (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL REFERENCES accounts (id),
	config_id    TEXT NOT NULL REFERENCES jwt_configs (id),
	name         TEXT NOT NULL,
	principal_id TEXT NOT NULL REFERENCES principals (id),
	key_id       TEXT NOT NULL REFERENCES api_keys (id),
	settings     TEXT NOT NULL,
	created_at   BIGINT NOT NULL,
	updated_at   BIGINT NOT NULL,
	UNIQUE (config_id, name)
);
