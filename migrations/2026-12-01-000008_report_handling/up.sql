-- Which staff login took a report on, and which one acted on it (Mastodon's
-- assigned_account and action_taken_by_account). Kept beside `reports`,
-- not in it: a row tied to a login carries no instant (tests/schema.rs),
-- and a report's `created_at` is one. Only staff logins may be named here
-- (the same trigger rule as the audit log's), so a row never ties a
-- reported anonymous face to a user's login.
CREATE TABLE report_handling (
    report_id                  BIGINT PRIMARY KEY REFERENCES reports (id) ON DELETE CASCADE,
    assigned_account_id        BIGINT REFERENCES accounts (id) ON DELETE SET NULL,
    action_taken_by_account_id BIGINT REFERENCES accounts (id) ON DELETE SET NULL
);

CREATE FUNCTION guise_report_handling_by_staff() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM unnest(ARRAY[NEW.assigned_account_id, NEW.action_taken_by_account_id]) AS a(id)
         WHERE a.id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM accounts WHERE accounts.id = a.id AND role IN ('moderator', 'admin'))) THEN
        RAISE EXCEPTION 'report_handling names only staff logins';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER report_handling_by_staff BEFORE INSERT OR UPDATE ON report_handling
    FOR EACH ROW EXECUTE FUNCTION guise_report_handling_by_staff();
