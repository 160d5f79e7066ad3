-- Mastodon's "sensitive" moderation action, on a face: every post it makes
-- or edits from now on is marked sensitive (local and remote alike, set by
-- the trigger so that no path that writes a status can miss it). A face
-- only: an anonymous face's row says nothing of who is behind it.
CREATE TABLE sensitized_faces (
    identity_id BIGINT PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE
);

CREATE FUNCTION statuses_of_sensitized_faces() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT NEW.sensitive
       AND EXISTS (SELECT 1 FROM sensitized_faces WHERE identity_id = NEW.identity_id) THEN
        NEW.sensitive := true;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER statuses_sensitized
    BEFORE INSERT OR UPDATE OF sensitive ON statuses
    FOR EACH ROW EXECUTE FUNCTION statuses_of_sensitized_faces();
