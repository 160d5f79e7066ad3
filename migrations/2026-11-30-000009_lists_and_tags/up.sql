-- Lists of faces a face follows, with their own timelines; hashtags a face
-- follows (their public posts join its home timeline).
CREATE TABLE lists (
    id             BIGINT PRIMARY KEY,
    identity_id    BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    title          TEXT NOT NULL,
    replies_policy TEXT NOT NULL DEFAULT 'list' CHECK (replies_policy IN ('followed', 'list', 'none')),
    exclusive      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX lists_face_idx ON lists (identity_id);

CREATE TABLE list_members (
    list_id     BIGINT NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    PRIMARY KEY (list_id, identity_id)
);
CREATE INDEX list_members_face_idx ON list_members (identity_id);

CREATE TABLE followed_tags (
    identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    PRIMARY KEY (identity_id, name)
);

-- The public timeline, local only, without walking remote posts.
CREATE INDEX statuses_public_local_idx ON statuses (id DESC)
    WHERE visibility = 'public' AND reblog_of_id IS NULL AND local;
