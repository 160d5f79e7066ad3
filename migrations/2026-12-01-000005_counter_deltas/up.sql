-- Counters without a hot row. The row triggers of 2026-11-29-000002 updated
-- one identity_stats row per inserted status, so every post of a face queued
-- on that row's lock until the transaction ended, and an import of 290 000
-- statuses in one transaction did not finish in 12 minutes.
--
-- Now each statement appends its changes, summed per face, to
-- identity_stat_deltas (no unique key, so nothing waits on anything), and
-- the worker's jobs fold the deltas into identity_stats once a second.
-- Readers add the pending deltas, so counts are exact at every moment.
--
-- A delta row names a face, never an account: an anonymous post's delta is
-- its own face's, already public in the status it counts. No sequence and
-- no timestamp: rows carry no order beyond the statuses table's own.

CREATE TABLE identity_stat_deltas (
    identity_id     BIGINT NOT NULL,
    statuses        BIGINT NOT NULL DEFAULT 0,
    followers       BIGINT NOT NULL DEFAULT 0,
    following       BIGINT NOT NULL DEFAULT 0,
    last_status_on  DATE
);
CREATE INDEX identity_stat_deltas_identity ON identity_stat_deltas (identity_id);

DROP TRIGGER statuses_counted ON statuses;
DROP TRIGGER follows_counted ON follows;
DROP FUNCTION guise_count_statuses();
DROP FUNCTION guise_count_follows();

CREATE FUNCTION guise_count_new_statuses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO identity_stat_deltas (identity_id, statuses, last_status_on)
    SELECT identity_id, count(*), max((created_at AT TIME ZONE 'UTC')::date)
      FROM new_rows
     WHERE visibility IN ('public', 'unlisted')
     GROUP BY identity_id;
    RETURN NULL;
END $$;

CREATE FUNCTION guise_count_gone_statuses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO identity_stat_deltas (identity_id, statuses)
    SELECT identity_id, -count(*)
      FROM old_rows
     WHERE visibility IN ('public', 'unlisted')
     GROUP BY identity_id;
    RETURN NULL;
END $$;

CREATE TRIGGER statuses_counted_new AFTER INSERT ON statuses
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION guise_count_new_statuses();
CREATE TRIGGER statuses_counted_gone AFTER DELETE ON statuses
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION guise_count_gone_statuses();

CREATE FUNCTION guise_count_new_follows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO identity_stat_deltas (identity_id, following)
    SELECT identity_id, count(*) FROM new_rows GROUP BY identity_id;
    INSERT INTO identity_stat_deltas (identity_id, followers)
    SELECT target_identity_id, count(*) FROM new_rows GROUP BY target_identity_id;
    RETURN NULL;
END $$;

CREATE FUNCTION guise_count_gone_follows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO identity_stat_deltas (identity_id, following)
    SELECT identity_id, -count(*) FROM old_rows GROUP BY identity_id;
    INSERT INTO identity_stat_deltas (identity_id, followers)
    SELECT target_identity_id, -count(*) FROM old_rows GROUP BY target_identity_id;
    RETURN NULL;
END $$;

CREATE TRIGGER follows_counted_new AFTER INSERT ON follows
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION guise_count_new_follows();
CREATE TRIGGER follows_counted_gone AFTER DELETE ON follows
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION guise_count_gone_follows();

-- Folds the pending deltas of anonymous faces (anonymous = true) or of all
-- other faces (false) into identity_stats; returns how many rows it took.
-- The two kinds are folded in separate transactions, so no transaction
-- writes counters of an anonymous face beside those of a persistent face
-- (rule 10: one xmin must not tie them). Two folds at once take disjoint
-- rows (DELETE skips rows another fold removed).
CREATE FUNCTION guise_fold_stat_deltas(anonymous boolean) RETURNS bigint LANGUAGE sql AS $$
    WITH taken AS (
        DELETE FROM identity_stat_deltas d USING identities i
         WHERE i.id = d.identity_id AND (i.tier = 'anonymous') = anonymous
        RETURNING d.*
    ), summed AS (
        SELECT identity_id, sum(statuses) AS statuses, sum(followers) AS followers,
               sum(following) AS following, max(last_status_on) AS last_status_on
          FROM taken GROUP BY identity_id
    ), folded AS (
        INSERT INTO identity_stats (identity_id, statuses_count, followers_count, following_count, last_status_on)
        SELECT identity_id, statuses, followers, following, last_status_on FROM summed
        ON CONFLICT (identity_id) DO UPDATE
           SET statuses_count = identity_stats.statuses_count + EXCLUDED.statuses_count,
               followers_count = identity_stats.followers_count + EXCLUDED.followers_count,
               following_count = identity_stats.following_count + EXCLUDED.following_count,
               last_status_on = GREATEST(identity_stats.last_status_on, EXCLUDED.last_status_on)
        RETURNING 1
    )
    SELECT count(*) FROM taken;
$$;

-- Deltas left by faces deleted since (no foreign key: a face's deletion
-- cascades to its statuses, whose trigger then writes deltas for it).
CREATE FUNCTION guise_drop_orphan_stat_deltas() RETURNS bigint LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM identity_stat_deltas d
         WHERE NOT EXISTS (SELECT 1 FROM identities i WHERE i.id = d.identity_id)
        RETURNING 1
    )
    SELECT count(*) FROM gone;
$$;
