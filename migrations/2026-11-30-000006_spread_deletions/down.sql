DROP TABLE worker_counts;
ALTER TABLE outbox_events ADD COLUMN processed_at TIMESTAMPTZ;
DROP TABLE pending_deletions;
