-- Profile data of a principal (coffer.Principal.Attributes), as a JSON
-- object; empty when there is none.
ALTER TABLE principals ADD COLUMN attributes TEXT NOT NULL DEFAULT '';
