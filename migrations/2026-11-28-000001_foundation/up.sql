-- Guise foundation schema.
--
-- Ids are 64-bit values made in Rust: milliseconds since the Unix epoch in the
-- high bits and random low bits (crates/core/src/id.rs). No table uses a
-- sequence: a sequence orders rows across identities and would link them.
--
-- Accounts are logins; identities are faces. Everything social (statuses,
-- follows, blocks, mutes, notifications, preferences) hangs off identities.
-- Rows tied to an account carry day-granular dates, never instants.

CREATE TABLE accounts (
    id            BIGINT PRIMARY KEY,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'moderator', 'admin')),
    created_on    DATE NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

CREATE TABLE identities (
    id             BIGINT PRIMARY KEY,
    -- NULL for anonymous faces (sealed ownership) and for remote actors.
    account_id     BIGINT REFERENCES accounts (id) ON DELETE CASCADE,
    tier           TEXT NOT NULL CHECK (tier IN ('real_name', 'pseudonymous', 'anonymous')),
    handle         TEXT NOT NULL,
    -- NULL for local identities.
    domain         TEXT,
    display_name   TEXT NOT NULL DEFAULT '',
    note           TEXT NOT NULL DEFAULT '',
    locked         BOOLEAN NOT NULL DEFAULT FALSE,
    bot            BOOLEAN NOT NULL DEFAULT FALSE,
    discoverable   BOOLEAN NOT NULL DEFAULT TRUE,
    verified       BOOLEAN NOT NULL DEFAULT FALSE,
    verified_by    TEXT,
    actor_url      TEXT,
    inbox_url      TEXT,
    shared_inbox_url TEXT,
    public_key_pem TEXT,
    private_key_pem TEXT,
    created_on     DATE NOT NULL,
    suspended      BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE UNIQUE INDEX identities_handle_key ON identities (lower(handle), coalesce(domain, ''));
CREATE INDEX identities_account_idx ON identities (account_id) WHERE account_id IS NOT NULL;
CREATE UNIQUE INDEX identities_actor_url_key ON identities (actor_url) WHERE actor_url IS NOT NULL;

CREATE TABLE statuses (
    id              BIGINT PRIMARY KEY,
    identity_id     BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    -- ActivityPub id for remote statuses; NULL for local ones (derived from id).
    uri             TEXT,
    url             TEXT,
    source_text     TEXT NOT NULL DEFAULT '',
    content         TEXT NOT NULL DEFAULT '',
    spoiler_text    TEXT NOT NULL DEFAULT '',
    sensitive       BOOLEAN NOT NULL DEFAULT FALSE,
    visibility      TEXT NOT NULL CHECK (visibility IN ('public', 'unlisted', 'private', 'direct')),
    language        TEXT,
    in_reply_to_id  BIGINT REFERENCES statuses (id) ON DELETE SET NULL,
    in_reply_to_identity_id BIGINT REFERENCES identities (id) ON DELETE SET NULL,
    -- The root status of the conversation (itself for a root).
    thread_root_id  BIGINT NOT NULL,
    reblog_of_id    BIGINT REFERENCES statuses (id) ON DELETE CASCADE,
    local           BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      TIMESTAMPTZ NOT NULL,
    edited_at       TIMESTAMPTZ
);
CREATE INDEX statuses_identity_idx ON statuses (identity_id, id DESC);
CREATE INDEX statuses_public_idx ON statuses (id DESC) WHERE visibility = 'public' AND reblog_of_id IS NULL;
CREATE INDEX statuses_thread_idx ON statuses (thread_root_id, id);
CREATE INDEX statuses_reply_idx ON statuses (in_reply_to_id) WHERE in_reply_to_id IS NOT NULL;
CREATE INDEX statuses_reblog_idx ON statuses (reblog_of_id) WHERE reblog_of_id IS NOT NULL;
CREATE UNIQUE INDEX statuses_uri_key ON statuses (uri) WHERE uri IS NOT NULL;
CREATE UNIQUE INDEX statuses_one_reblog_key ON statuses (identity_id, reblog_of_id) WHERE reblog_of_id IS NOT NULL;

CREATE TABLE status_edits (
    id           BIGINT PRIMARY KEY,
    status_id    BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    source_text  TEXT NOT NULL,
    content      TEXT NOT NULL,
    spoiler_text TEXT NOT NULL,
    sensitive    BOOLEAN NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX status_edits_status_idx ON status_edits (status_id, id);

CREATE TABLE mentions (
    status_id   BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    PRIMARY KEY (status_id, identity_id)
);
CREATE INDEX mentions_identity_idx ON mentions (identity_id);

CREATE TABLE status_tags (
    status_id BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    PRIMARY KEY (status_id, name)
);
CREATE INDEX status_tags_name_idx ON status_tags (name, status_id DESC);

CREATE TABLE favourites (
    id          BIGINT PRIMARY KEY,
    identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    status_id   BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    UNIQUE (identity_id, status_id)
);
CREATE INDEX favourites_status_idx ON favourites (status_id, id DESC);

CREATE TABLE follows (
    id                 BIGINT PRIMARY KEY,
    identity_id        BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    target_identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    show_reblogs       BOOLEAN NOT NULL DEFAULT TRUE,
    notify             BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (identity_id, target_identity_id)
);
CREATE INDEX follows_target_idx ON follows (target_identity_id, id DESC);

CREATE TABLE follow_requests (
    id                 BIGINT PRIMARY KEY,
    identity_id        BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    target_identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    UNIQUE (identity_id, target_identity_id)
);
CREATE INDEX follow_requests_target_idx ON follow_requests (target_identity_id, id DESC);

CREATE TABLE blocks (
    id                 BIGINT PRIMARY KEY,
    identity_id        BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    target_identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    UNIQUE (identity_id, target_identity_id)
);
CREATE INDEX blocks_target_idx ON blocks (target_identity_id);

CREATE TABLE mutes (
    id                 BIGINT PRIMARY KEY,
    identity_id        BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    target_identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    hide_notifications BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (identity_id, target_identity_id)
);

CREATE TABLE notifications (
    id               BIGINT PRIMARY KEY,
    identity_id      BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    from_identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL CHECK (kind IN ('mention', 'status', 'reblog', 'follow', 'follow_request', 'favourite', 'poll', 'update')),
    status_id        BIGINT REFERENCES statuses (id) ON DELETE CASCADE,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX notifications_identity_idx ON notifications (identity_id, id DESC);

CREATE TABLE preferences (
    identity_id        BIGINT PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    default_visibility TEXT NOT NULL DEFAULT 'public' CHECK (default_visibility IN ('public', 'unlisted', 'private', 'direct')),
    default_sensitive  BOOLEAN NOT NULL DEFAULT FALSE,
    default_language   TEXT
);

CREATE TABLE oauth_apps (
    id            BIGINT PRIMARY KEY,
    name          TEXT NOT NULL,
    website       TEXT,
    redirect_uris TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    client_id     TEXT NOT NULL UNIQUE,
    client_secret TEXT NOT NULL,
    created_on    DATE NOT NULL
);

-- A token acts as exactly what it is bound to: one face ('face', with
-- identity_id), or — added by the tiers work — 'anonymous' or 'all'.
-- Tokens are looked up by SHA-256("lookup" || token); the raw token is never stored.
CREATE TABLE oauth_codes (
    id             BIGINT PRIMARY KEY,
    code_hash      BYTEA NOT NULL UNIQUE,
    app_id         BIGINT NOT NULL REFERENCES oauth_apps (id) ON DELETE CASCADE,
    account_id     BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    binding        TEXT CHECK (binding IN ('face', 'anonymous', 'all')),
    identity_id    BIGINT REFERENCES identities (id) ON DELETE CASCADE,
    scopes         TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT,
    expires_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE oauth_tokens (
    id           BIGINT PRIMARY KEY,
    token_hash   BYTEA NOT NULL UNIQUE,
    refresh_hash BYTEA UNIQUE,
    app_id       BIGINT NOT NULL REFERENCES oauth_apps (id) ON DELETE CASCADE,
    -- NULL for client_credentials tokens, which act as no one.
    account_id   BIGINT REFERENCES accounts (id) ON DELETE CASCADE,
    binding      TEXT CHECK (binding IN ('face', 'anonymous', 'all')),
    identity_id  BIGINT REFERENCES identities (id) ON DELETE CASCADE,
    scopes       TEXT NOT NULL,
    created_on   DATE NOT NULL,
    -- Day-granular like every account-tied time: valid while today < expires_on.
    expires_on   DATE,
    CHECK ((binding = 'face') = (identity_id IS NOT NULL))
);
CREATE INDEX oauth_tokens_account_idx ON oauth_tokens (account_id) WHERE account_id IS NOT NULL;

-- Idempotency-Key records, keyed by the face that posted.
CREATE TABLE idempotency_keys (
    identity_id BIGINT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    key_hash    BYTEA NOT NULL,
    status_id   BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (identity_id, key_hash)
);

-- Transactional outbox: use cases append events in the same transaction as
-- their effect; federation and streaming expand them later, idempotently.
CREATE TABLE outbox_events (
    id           BIGINT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      JSONB NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    processed_at TIMESTAMPTZ
);
CREATE INDEX outbox_events_pending_idx ON outbox_events (id) WHERE processed_at IS NULL;
