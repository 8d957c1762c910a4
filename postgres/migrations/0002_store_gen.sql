-- A store's generation changes with every change to its secrets or versions
-- (coffer.Store.Gen).
ALTER TABLE stores ADD COLUMN gen BIGINT NOT NULL DEFAULT 0;
