DROP INDEX accounts_waiting;
ALTER TABLE accounts DROP COLUMN sign_up_reason, DROP COLUMN approved;
