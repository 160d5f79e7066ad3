-- A password reset by emailed link, for a login that lost both its password
-- and its recovery code: the link's hash and the day it was sent (dates,
-- never instants, on a login's row).
ALTER TABLE accounts
    ADD COLUMN reset_hash BYTEA,
    ADD COLUMN reset_sent_on DATE;
