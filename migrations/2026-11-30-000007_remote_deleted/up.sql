-- A deletion is final whatever order activities arrive in: a remote note's
-- Delete is remembered (by SHA-256 of its id, for 30 days), so a Create
-- that arrives late, a boost or a fetch does not bring the note back.
CREATE TABLE remote_deleted (
    uri_hash   BYTEA PRIMARY KEY,
    deleted_on DATE NOT NULL
);
