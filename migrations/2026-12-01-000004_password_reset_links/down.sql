ALTER TABLE accounts DROP COLUMN reset_hash, DROP COLUMN reset_sent_on;
