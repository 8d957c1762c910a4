-- The live secrets of an account, counted inside a write that has a quota
-- of them (coffer.SecretBatch.MaxLiveSecrets).
CREATE INDEX secrets_account_live ON secrets (account_id) WHERE status <> 'deleted';
