-- When the instance policy says the shared announcer boosts only after a
-- moderator approves, a public top-level anonymous post waits here (by its
-- id alone: the post is public, its author is its anonymous face) until
-- staff approve (the announcer boosts it) or pass (the row goes). Deleting
-- the post takes its row.
CREATE TABLE announcer_queue (
    status_id BIGINT PRIMARY KEY REFERENCES statuses (id) ON DELETE CASCADE
);
