-- A face's emoji reactions to an instance announcement.
CREATE TABLE announcement_reactions (
    announcement_id BIGINT NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    identity_id     BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    PRIMARY KEY (announcement_id, identity_id, name)
);
