-- When a version is (or, in the future, will be) soft-deleted
-- (coffer.Version.DeletedAt), in Unix nanoseconds; NULL when it is not. A
-- deleted version keeps its ciphertext until it is destroyed.
ALTER TABLE versions ADD COLUMN deleted_at INTEGER;
