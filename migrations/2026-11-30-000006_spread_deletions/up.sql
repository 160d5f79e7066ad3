-- Deleting a login leaves no burst (unlinkability rule 10). Its anonymous
-- posts are not deleted in the request, next to the deletion of its
-- persistent faces, but each at its own random time within the deletion
-- spread, in its own transaction, by the worker: the public sees them go
-- one by one, and the database keeps no transaction, or neighbour, that
-- holds both kinds. Until then each waits here (named by status only).
CREATE TABLE pending_deletions (
    id        BIGINT PRIMARY KEY,
    status_id BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    run_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX pending_deletions_due ON pending_deletions (run_at);

-- Outbox events are removed once expanded, and deliveries once done: the
-- worker keeps counts, not rows, so no drained row pairs what it once named.
DELETE FROM outbox_events WHERE processed_at IS NOT NULL;
ALTER TABLE outbox_events DROP COLUMN processed_at;
CREATE TABLE worker_counts (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL DEFAULT 0
);
