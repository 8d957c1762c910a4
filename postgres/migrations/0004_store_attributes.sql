-- Face-specific metadata of a store (coffer.Store.Attributes), as a JSON
-- object; empty when there is none.
ALTER TABLE stores ADD COLUMN attributes TEXT NOT NULL DEFAULT '';
