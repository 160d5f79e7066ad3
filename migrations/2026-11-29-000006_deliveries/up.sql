-- The durable delivery queue: activities signed by one face (or the
-- instance actor, when signer_identity_id is NULL) for one inbox. The
-- worker leases due rows with FOR UPDATE SKIP LOCKED; nothing queued is
-- lost on a crash, and receivers drop duplicates by activity id.
CREATE TABLE deliveries (
    id                 BIGINT PRIMARY KEY,
    inbox_url          TEXT NOT NULL,
    signer_identity_id BIGINT REFERENCES identities (id) ON DELETE CASCADE,
    activity           JSONB NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    first_tried_at     TIMESTAMPTZ,
    next_at            TIMESTAMPTZ NOT NULL,
    last_error         TEXT
);
CREATE INDEX deliveries_due_idx ON deliveries (next_at);

-- Remote hosts' health: the days on which deliveries to them failed since
-- they were last heard from (unavailable after seven).
CREATE TABLE hosts (
    host        TEXT PRIMARY KEY,
    failed_days BIGINT[] NOT NULL DEFAULT '{}'
);
