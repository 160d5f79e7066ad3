-- Facts about the instance itself that must not change under it: the
-- domain it was first served under (every URI other servers hold names it).
CREATE TABLE instance_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
