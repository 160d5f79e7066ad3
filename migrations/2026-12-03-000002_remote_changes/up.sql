-- Each `guise serve` keeps the remote actors whose signatures it checked,
-- with their parsed keys, and LISTENs on `guise_remote`: any change to a
-- remote actor's row (a new key, a suspension, a deletion) names the row,
-- and every process forgets it. Never raised for a local face.
CREATE FUNCTION guise_remote_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('guise_remote', OLD.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER identities_remote_changed AFTER UPDATE OR DELETE ON identities
    FOR EACH ROW WHEN (OLD.domain IS NOT NULL) EXECUTE FUNCTION guise_remote_changed();
