-- Indexes for searching the audit log (GET /v1/audit filters). Each is
-- (account_id, column, seq), so that an equality filter reads its matches
-- already in seq order, in either direction, and a page stops early:
--   principal: principal_id OR key_id      -> audit_principal, audit_key
--   object:    secret_id OR store_id OR name -> audit_secret, audit_store, audit_name
--   action (exact)                          -> audit_action
-- An OR filter needs an index on every column it names, or the planner
-- falls back to walking audit_account. Not indexed, on purpose: the outcome
-- ("ok" is most of the log; refusals are checked on the rows walked), an
-- action prefix (matched on the rows walked), and time: the time bounds are
-- checked on the rows walked in seq order, because event times follow seq
-- only roughly (they are taken before the append, and servers' clocks
-- differ), so no exact seq range can be derived from them.
CREATE INDEX audit_principal ON audit (account_id, principal_id, seq);
CREATE INDEX audit_key ON audit (account_id, key_id, seq);
CREATE INDEX audit_secret ON audit (account_id, secret_id, seq);
CREATE INDEX audit_store ON audit (account_id, store_id, seq);
CREATE INDEX audit_name ON audit (account_id, name, seq);
CREATE INDEX audit_action ON audit (account_id, action, seq);
