-- Sign-up with email confirmation. Logins made before (and by the admin
-- CLI) are confirmed. An unconfirmed login's tokens do nothing until its
-- email is confirmed; the confirmation token is kept only as its lookup
-- hash, and only the day it was sent (rule 4: dates, not instants).
ALTER TABLE accounts ADD COLUMN confirmed BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE accounts ADD COLUMN confirmation_hash BYTEA;
ALTER TABLE accounts ADD COLUMN confirmation_sent_on DATE;
CREATE UNIQUE INDEX accounts_confirmation_idx ON accounts (confirmation_hash) WHERE confirmation_hash IS NOT NULL;
