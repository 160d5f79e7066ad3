-- Per-face counters for Account entities, kept by triggers in the same
-- transaction as the change, so every path (including cascades) counts.
-- Counting per request cost ~1 000 row visits per author on a timeline page
-- (docs/benchmarks.md). These rows belong to faces, never to accounts: an
-- anonymous post touches only its own face's row.

CREATE TABLE identity_stats (
    identity_id     BIGINT PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    statuses_count  BIGINT NOT NULL DEFAULT 0,
    followers_count BIGINT NOT NULL DEFAULT 0,
    following_count BIGINT NOT NULL DEFAULT 0,
    -- Day-granular, as Mastodon shows it.
    last_status_on  DATE
);

CREATE FUNCTION guise_count_statuses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.visibility IN ('public', 'unlisted') THEN
            INSERT INTO identity_stats (identity_id, statuses_count, last_status_on)
            VALUES (NEW.identity_id, 1, (NEW.created_at AT TIME ZONE 'UTC')::date)
            ON CONFLICT (identity_id) DO UPDATE
               SET statuses_count = identity_stats.statuses_count + 1,
                   last_status_on = GREATEST(identity_stats.last_status_on, EXCLUDED.last_status_on);
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.visibility IN ('public', 'unlisted') THEN
        UPDATE identity_stats SET statuses_count = greatest(statuses_count - 1, 0)
         WHERE identity_id = OLD.identity_id;
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER statuses_counted AFTER INSERT OR DELETE ON statuses
    FOR EACH ROW EXECUTE FUNCTION guise_count_statuses();

CREATE FUNCTION guise_count_follows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO identity_stats (identity_id, following_count) VALUES (NEW.identity_id, 1)
        ON CONFLICT (identity_id) DO UPDATE SET following_count = identity_stats.following_count + 1;
        INSERT INTO identity_stats (identity_id, followers_count) VALUES (NEW.target_identity_id, 1)
        ON CONFLICT (identity_id) DO UPDATE SET followers_count = identity_stats.followers_count + 1;
        RETURN NEW;
    END IF;
    -- Only UPDATE on delete: a face being deleted cascades here and must not
    -- be re-inserted.
    UPDATE identity_stats SET following_count = greatest(following_count - 1, 0) WHERE identity_id = OLD.identity_id;
    UPDATE identity_stats SET followers_count = greatest(followers_count - 1, 0) WHERE identity_id = OLD.target_identity_id;
    RETURN OLD;
END $$;

CREATE TRIGGER follows_counted AFTER INSERT OR DELETE ON follows
    FOR EACH ROW EXECUTE FUNCTION guise_count_follows();

INSERT INTO identity_stats (identity_id, statuses_count, followers_count, following_count, last_status_on)
SELECT i.id,
       (SELECT count(*) FROM statuses WHERE identity_id = i.id AND visibility IN ('public', 'unlisted')),
       (SELECT count(*) FROM follows WHERE target_identity_id = i.id),
       (SELECT count(*) FROM follows WHERE identity_id = i.id),
       (SELECT max(created_at AT TIME ZONE 'UTC')::date FROM statuses WHERE identity_id = i.id AND visibility IN ('public', 'unlisted'))
  FROM identities i;
