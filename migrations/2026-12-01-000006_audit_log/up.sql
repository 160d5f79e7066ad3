-- What staff did: who (the staff login, or the command line), what, on
-- which face or post, on which day. Days only, like every row tied to a
-- login (tests/schema.rs): an instant beside an action on an anonymous face
-- would be one more clock to line up against. Ids are random, so rows carry
-- no order within a day either.
CREATE TABLE audit_log (
    id               BIGINT PRIMARY KEY,
    staff_account_id BIGINT REFERENCES accounts (id) ON DELETE SET NULL,
    action           TEXT NOT NULL,
    target_kind      TEXT NOT NULL,
    target_id        BIGINT NOT NULL,
    -- The face acted on, or the author of the post acted on.
    face_id          BIGINT,
    logged_on        DATE NOT NULL
);
CREATE INDEX audit_log_by_day ON audit_log (logged_on DESC, id);

-- The one login a line names is the staff login that acted: the database
-- refuses any other, so a line never ties an anonymous face (its target)
-- to the login of a user.
CREATE FUNCTION guise_audit_by_staff() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.staff_account_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM accounts WHERE id = NEW.staff_account_id AND role IN ('moderator', 'admin')) THEN
        RAISE EXCEPTION 'audit_log names only staff logins';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER audit_log_by_staff BEFORE INSERT OR UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION guise_audit_by_staff();
