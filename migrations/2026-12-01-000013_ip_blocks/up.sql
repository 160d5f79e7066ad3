-- Addresses that may not sign up (sign_up_block) or not sign in at all
-- (no_access), Mastodon's IP blocks. Applied in memory by every process
-- (live_versions 'ip_blocks'); nothing about a request's address is ever
-- written, next to a login or anywhere.
CREATE TABLE ip_blocks (
    id         BIGINT PRIMARY KEY,
    -- An address or a network, as CIDR text ("192.0.2.0/24", "2001:db8::/32").
    ip         TEXT NOT NULL UNIQUE,
    severity   TEXT NOT NULL CHECK (severity IN ('sign_up_block', 'no_access')),
    comment    TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ
);

INSERT INTO live_versions (name, version) VALUES ('ip_blocks', 1);

CREATE FUNCTION guise_ip_blocks_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE live_versions SET version = version + 1 WHERE name = 'ip_blocks';
    RETURN NULL;
END $$;

CREATE TRIGGER ip_blocks_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ip_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION guise_ip_blocks_changed();
