-- Uploaded media. Until attached, an upload is owned by a capability: a
-- MAC of its id under a key derived from the uploading token's raw value,
-- which the database never holds — so no row ties an upload to a login or
-- a face, and attaching it to an anonymous post links nothing. Once
-- attached, the tag is cleared and the upload belongs to its status.
-- Ids are random (no time, no order); the day is kept only to clean up
-- uploads never attached.
CREATE TABLE media_uploads (
    id           BIGINT PRIMARY KEY,
    owner_tag    BYTEA,
    status_id    BIGINT REFERENCES statuses (id) ON DELETE SET NULL,
    kind         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    file_key     TEXT NOT NULL,
    preview_key  TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    blurhash     TEXT NOT NULL,
    meta         JSONB NOT NULL,
    size_bytes   BIGINT NOT NULL,
    created_on   DATE NOT NULL,
    attached     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX media_uploads_status_idx ON media_uploads (status_id) WHERE status_id IS NOT NULL;
CREATE INDEX media_uploads_orphans_idx ON media_uploads (created_on) WHERE status_id IS NULL;

-- A local face's own avatar and header, as keys in the media store.
ALTER TABLE identities ADD COLUMN avatar_key TEXT;
ALTER TABLE identities ADD COLUMN header_key TEXT;
