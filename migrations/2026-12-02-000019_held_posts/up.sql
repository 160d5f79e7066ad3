-- Remote posts an incoming rule holds for a moderator (`action = hold`,
-- e.g. new remote accounts' posts). A held post is not a status: nothing
-- shows it (timelines, threads, search, notifications) until staff release
-- it — then it is stored as if it had just arrived — or reject it (the row
-- goes). The note is kept as its server sent it. Remote posts only: no
-- local login is ever behind a row. Days only, like the decision log.
ALTER TABLE incoming_rules DROP CONSTRAINT incoming_rules_action_check;
ALTER TABLE incoming_rules ADD CONSTRAINT incoming_rules_action_check
    CHECK (action IN ('reject', 'strip_media', 'sensitive', 'delist', 'replace', 'hold'));

CREATE TABLE held_posts (
    id          BIGINT PRIMARY KEY,
    uri         TEXT NOT NULL UNIQUE,
    identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    in_reply_to TEXT,
    note        JSONB NOT NULL,
    codes       TEXT[] NOT NULL,
    held_on     DATE NOT NULL
);
CREATE INDEX held_posts_in_reply_to ON held_posts (in_reply_to) WHERE in_reply_to IS NOT NULL;
CREATE INDEX held_posts_identity ON held_posts (identity_id);
