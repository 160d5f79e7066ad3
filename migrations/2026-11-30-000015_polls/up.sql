-- A status's poll (local or remote). Counts are kept beside the options;
-- a remote poll's come from its server.
CREATE TABLE polls (
    status_id     BIGINT PRIMARY KEY REFERENCES statuses (id) ON DELETE CASCADE,
    options       JSONB NOT NULL,
    counts        JSONB NOT NULL,
    multiple      BOOLEAN NOT NULL DEFAULT FALSE,
    hide_totals   BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at    TIMESTAMPTZ,
    voters_count  BIGINT NOT NULL DEFAULT 0,
    ended         BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX polls_due_idx ON polls (expires_at) WHERE NOT ended AND expires_at IS NOT NULL;

-- One row per voter and poll. A face's vote names the face (as a
-- favourite does); an anonymous vote is keyed by HMAC(k_anon, "vote" ‖
-- poll): one per person across all their anonymous faces, and nothing
-- that names a face or a login. No time is kept.
CREATE TABLE poll_votes (
    status_id   BIGINT NOT NULL REFERENCES polls (status_id) ON DELETE CASCADE,
    voter       BYTEA NOT NULL,
    identity_id BIGINT REFERENCES identities (id) ON DELETE CASCADE,
    choices     JSONB NOT NULL,
    PRIMARY KEY (status_id, voter)
);
