-- Activities already handled, by SHA-256 of their id: a replay is ignored.
CREATE TABLE inbox_seen (
    activity_hash BYTEA PRIMARY KEY,
    seen_on       DATE NOT NULL
);
