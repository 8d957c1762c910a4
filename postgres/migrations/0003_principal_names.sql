-- A principal's name is unique in its account.
CREATE UNIQUE INDEX principals_name ON principals (account_id, name);
