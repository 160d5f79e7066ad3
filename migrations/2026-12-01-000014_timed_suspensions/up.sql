-- A suspension may lapse: on this day the worker lifts it (and with an
-- anonymous face's, the ban on its hidden author). A day, not an instant,
-- as for every row about a face a login may own.
CREATE TABLE suspension_ends (
    identity_id BIGINT PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    ends_on     DATE NOT NULL
);
CREATE INDEX suspension_ends_by_day ON suspension_ends (ends_on);
