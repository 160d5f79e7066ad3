-- How many sign-ups each email domain block turned away, per day (Mastodon's
-- `history` of an Admin::EmailDomainBlock). A count and a day: nothing of
-- the address, the attempt's time or where it came from.
CREATE TABLE email_domain_block_uses (
    block_id BIGINT NOT NULL REFERENCES email_domain_blocks (id) ON DELETE CASCADE,
    day      DATE NOT NULL,
    uses     INTEGER NOT NULL,
    PRIMARY KEY (block_id, day)
);
