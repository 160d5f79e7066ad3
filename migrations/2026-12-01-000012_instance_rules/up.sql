-- The instance's rules (Mastodon's Rule: text and hint), shown to anyone
-- (/api/v1/instance/rules, the about page) and named by reports.
CREATE TABLE instance_rules (
    id         BIGINT PRIMARY KEY,
    text       TEXT NOT NULL,
    hint       TEXT NOT NULL DEFAULT '',
    position   INT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL
);
