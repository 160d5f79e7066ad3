-- Remote media are fetched when what names them arrives, by the worker,
-- and served from the instance's media store; a reader never makes the
-- instance contact their origin (unlinkability rule 11).
CREATE TABLE remote_media (
    url_hash     BYTEA PRIMARY KEY,             -- SHA-256 of the URL
    url          TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'cached', 'failed', 'evicted')),
    content_type TEXT,
    size         BIGINT NOT NULL DEFAULT 0,
    store_key    TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      TIMESTAMPTZ NOT NULL,
    cached_at    TIMESTAMPTZ
);
CREATE INDEX remote_media_due ON remote_media (next_at) WHERE state = 'pending';
CREATE INDEX remote_media_cached ON remote_media (cached_at) WHERE state = 'cached';

-- What was already stored is asked for once.
INSERT INTO remote_media (url_hash, url, state, next_at)
SELECT sha256(convert_to(u, 'UTF8')), u, 'pending', now() FROM (
    SELECT avatar_url AS u FROM identities WHERE avatar_url IS NOT NULL
    UNION SELECT header_url FROM identities WHERE header_url IS NOT NULL
    UNION SELECT a->>'url' FROM statuses, jsonb_array_elements(attachments) a WHERE a->>'url' IS NOT NULL
    UNION SELECT e->>'url' FROM statuses, jsonb_array_elements(emojis) e WHERE e->>'url' IS NOT NULL
) urls
WHERE u LIKE 'http%'
ON CONFLICT DO NOTHING;
