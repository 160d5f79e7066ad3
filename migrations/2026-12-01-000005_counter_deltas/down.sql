SELECT guise_fold_stat_deltas(true);
SELECT guise_fold_stat_deltas(false);
DROP TRIGGER statuses_counted_new ON statuses;
DROP TRIGGER statuses_counted_gone ON statuses;
DROP TRIGGER follows_counted_new ON follows;
DROP TRIGGER follows_counted_gone ON follows;
DROP FUNCTION guise_count_new_statuses();
DROP FUNCTION guise_count_gone_statuses();
DROP FUNCTION guise_count_new_follows();
DROP FUNCTION guise_count_gone_follows();
DROP FUNCTION guise_fold_stat_deltas(boolean);
DROP FUNCTION guise_drop_orphan_stat_deltas();
DROP TABLE identity_stat_deltas;

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
    UPDATE identity_stats SET following_count = greatest(following_count - 1, 0) WHERE identity_id = OLD.identity_id;
    UPDATE identity_stats SET followers_count = greatest(followers_count - 1, 0) WHERE identity_id = OLD.target_identity_id;
    RETURN OLD;
END $$;
CREATE TRIGGER follows_counted AFTER INSERT OR DELETE ON follows
    FOR EACH ROW EXECUTE FUNCTION guise_count_follows();
