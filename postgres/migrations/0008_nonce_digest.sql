-- The replay cache keeps the digest of each nonce key (coffer.NonceDigest:
-- the first 16 bytes of its SHA-256, as 32 lowercase hex digits) instead of
-- the key, as the SQLite engine does, so that a dump carries the same
-- entries from either engine. Entries made before keep working: their keys
-- become digests here.
UPDATE nonces SET key = encode(substring(sha256(convert_to(key, 'UTF8')) FROM 1 FOR 16), 'hex')
WHERE length(key) <> 32;
