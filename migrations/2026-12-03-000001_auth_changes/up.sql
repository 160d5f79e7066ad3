-- Each `guise serve` keeps the tokens it has opened (of persistent faces
-- and apps only: never one that carries `k_anon`) in memory, with the face
-- and login state read with them, and LISTENs on `guise_auth`: any change
-- that could make one of them wrong empties every process's copy. The
-- notification carries nothing (no id, no payload), and none is raised for
-- an anonymous face, whose rows name no login.
CREATE FUNCTION guise_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('guise_auth', '');
    RETURN NULL;
END $$;

CREATE TRIGGER oauth_tokens_auth_changed AFTER UPDATE OR DELETE OR TRUNCATE ON oauth_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION guise_auth_changed();
CREATE TRIGGER accounts_auth_changed AFTER UPDATE OR DELETE OR TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION guise_auth_changed();
CREATE TRIGGER identities_auth_changed AFTER UPDATE OR DELETE ON identities
    FOR EACH ROW WHEN (OLD.account_id IS NOT NULL) EXECUTE FUNCTION guise_auth_changed();
CREATE TRIGGER identities_auth_truncated AFTER TRUNCATE ON identities
    FOR EACH STATEMENT EXECUTE FUNCTION guise_auth_changed();
