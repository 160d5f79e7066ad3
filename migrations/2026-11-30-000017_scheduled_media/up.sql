-- An upload kept for a scheduled post: still owned by its capability (so
-- its description can change until then), and not swept while it waits.
-- Scheduled posts are for persistent faces only, so this names no
-- anonymous face. When the post is published the upload is attached as
-- any other; when it is cancelled the upload is unattached again.
ALTER TABLE media_uploads
    ADD COLUMN scheduled_id BIGINT REFERENCES scheduled_statuses (id) ON DELETE SET NULL;
CREATE INDEX media_uploads_scheduled_idx ON media_uploads (scheduled_id) WHERE scheduled_id IS NOT NULL;
