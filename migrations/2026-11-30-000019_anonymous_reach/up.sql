-- Who may reach a face anonymously (replies, mentions and direct messages
-- from anonymous faces, local or remote): everyone, only in threads the
-- face started, or nobody. Blocking one per-thread anonymous face stops
-- nothing; this does. And whether the face sees anonymous posts in its
-- timelines at all.
ALTER TABLE preferences ADD COLUMN anonymous_reach TEXT NOT NULL DEFAULT 'everyone'
    CHECK (anonymous_reach IN ('everyone', 'own_threads', 'nobody'));
ALTER TABLE preferences ADD COLUMN hide_anonymous BOOLEAN NOT NULL DEFAULT FALSE;
