ALTER TABLE accounts DROP COLUMN confirmation_sent_on;
ALTER TABLE accounts DROP COLUMN confirmation_hash;
ALTER TABLE accounts DROP COLUMN confirmed;
