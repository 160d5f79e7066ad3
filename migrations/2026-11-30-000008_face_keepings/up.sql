-- What a face keeps for itself: bookmarks, pinned posts, muted threads,
-- notes on other faces, blocked domains, timeline markers, and its reports.
-- Every row belongs to a face, never to a login (unlinkability rule 6).
-- "Anonymous" and "All my faces" tokens keep markers sealed under k_anon
-- outside the database (see crates/server/src/mastodon_api/markers.rs).

CREATE INDEX favourites_face_idx ON favourites (identity_id, id DESC);

CREATE TABLE bookmarks (
    id          BIGINT PRIMARY KEY,
    identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    status_id   BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    UNIQUE (identity_id, status_id)
);
CREATE INDEX bookmarks_face_idx ON bookmarks (identity_id, id DESC);

CREATE TABLE pinned_statuses (
    identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    status_id   BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    pinned_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (identity_id, status_id)
);

CREATE TABLE thread_mutes (
    identity_id    BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    thread_root_id BIGINT NOT NULL,
    PRIMARY KEY (identity_id, thread_root_id)
);

CREATE TABLE account_notes (
    identity_id        BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    target_identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    comment            TEXT NOT NULL,
    PRIMARY KEY (identity_id, target_identity_id)
);

CREATE TABLE face_domain_blocks (
    identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    domain      TEXT NOT NULL,
    PRIMARY KEY (identity_id, domain)
);

ALTER TABLE mutes ADD COLUMN expires_at TIMESTAMPTZ;

CREATE TABLE markers (
    identity_id  BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    timeline     TEXT NOT NULL CHECK (timeline IN ('home', 'notifications')),
    last_read_id BIGINT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 0,
    -- To the minute: a marker moves whenever its face reads.
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (identity_id, timeline)
);

CREATE TABLE reports (
    id                 BIGINT PRIMARY KEY,
    identity_id        BIGINT REFERENCES identities (id) ON DELETE SET NULL,
    target_identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    status_ids         BIGINT[] NOT NULL DEFAULT '{}',
    comment            TEXT NOT NULL DEFAULT '',
    category           TEXT NOT NULL CHECK (category IN ('spam', 'legal', 'violation', 'other')),
    rule_ids           BIGINT[] NOT NULL DEFAULT '{}',
    forwarded          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         TIMESTAMPTZ NOT NULL,
    action_taken_at    TIMESTAMPTZ
);
CREATE INDEX reports_open_idx ON reports (id DESC) WHERE action_taken_at IS NULL;
