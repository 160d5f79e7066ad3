-- Filters (Mastodon v2: keywords and statuses, per context, with an
-- action), the read state of direct conversations, scheduled posts,
-- announcements and their dismissals, and profile fields. All per face.
CREATE TABLE filters (
    id            BIGINT PRIMARY KEY,
    identity_id   BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    title         TEXT NOT NULL,
    context       TEXT[] NOT NULL,
    filter_action TEXT NOT NULL DEFAULT 'warn' CHECK (filter_action IN ('warn', 'hide', 'blur')),
    expires_at    TIMESTAMPTZ
);
CREATE INDEX filters_face_idx ON filters (identity_id);

CREATE TABLE filter_keywords (
    id         BIGINT PRIMARY KEY,
    filter_id  BIGINT NOT NULL REFERENCES filters (id) ON DELETE CASCADE,
    keyword    TEXT NOT NULL,
    whole_word BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX filter_keywords_filter_idx ON filter_keywords (filter_id);

CREATE TABLE filter_statuses (
    id        BIGINT PRIMARY KEY,
    filter_id BIGINT NOT NULL REFERENCES filters (id) ON DELETE CASCADE,
    status_id BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    UNIQUE (filter_id, status_id)
);

-- A face's direct conversations are its direct posts' threads; this keeps
-- what it read (or removed from its list) of each.
CREATE TABLE conversation_reads (
    identity_id    BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    thread_root_id BIGINT NOT NULL,
    last_read_id   BIGINT NOT NULL,
    hidden         BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (identity_id, thread_root_id)
);
CREATE INDEX statuses_direct_idx ON statuses (identity_id, id DESC) WHERE visibility = 'direct';

-- Posts to be published later (persistent faces only: at publish time no
-- one holds an anonymous face's key).
CREATE TABLE scheduled_statuses (
    id           BIGINT PRIMARY KEY,
    identity_id  BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    scheduled_at TIMESTAMPTZ NOT NULL,
    params       JSONB NOT NULL
);
CREATE INDEX scheduled_statuses_due_idx ON scheduled_statuses (scheduled_at);
CREATE INDEX scheduled_statuses_face_idx ON scheduled_statuses (identity_id, id DESC);

CREATE TABLE announcements (
    id           BIGINT PRIMARY KEY,
    text         TEXT NOT NULL,
    starts_at    TIMESTAMPTZ,
    ends_at      TIMESTAMPTZ,
    all_day      BOOLEAN NOT NULL DEFAULT FALSE,
    published_at TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE announcement_dismissals (
    identity_id     BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    announcement_id BIGINT NOT NULL REFERENCES announcements (id) ON DELETE CASCADE,
    PRIMARY KEY (identity_id, announcement_id)
);

ALTER TABLE identities ADD COLUMN fields JSONB NOT NULL DEFAULT '[]';
