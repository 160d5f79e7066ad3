-- The instance's own domain blocks and allows, made over the admin API and
-- applied without a restart: every `guise serve` and `guise worker` process
-- reads `live_versions` once a second and reloads when the number moved.
-- (Blocks in the configuration file still apply as well.)
CREATE TABLE instance_domain_blocks (
    id BIGINT PRIMARY KEY,
    -- Lower case, punycode, no port, no trailing dot: it covers subdomains.
    domain TEXT NOT NULL UNIQUE,
    -- suspend: nothing in or out; silence: off public timelines; noop: a note.
    severity TEXT NOT NULL CHECK (severity IN ('silence', 'suspend', 'noop')),
    reject_media BOOLEAN NOT NULL DEFAULT FALSE,
    reject_reports BOOLEAN NOT NULL DEFAULT FALSE,
    private_comment TEXT NOT NULL DEFAULT '',
    public_comment TEXT NOT NULL DEFAULT '',
    obfuscate BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL
);

-- With `federation.limited = true`, only these domains (and subdomains) federate.
CREATE TABLE instance_domain_allows (
    id BIGINT PRIMARY KEY,
    domain TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);

-- A number per kind of live setting, raised by every change to it.
CREATE TABLE live_versions (
    name TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO live_versions (name, version) VALUES ('domains', 1);

CREATE FUNCTION guise_domains_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE live_versions SET version = version + 1 WHERE name = 'domains';
    RETURN NULL;
END $$;

CREATE TRIGGER instance_domain_blocks_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON instance_domain_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION guise_domains_changed();
CREATE TRIGGER instance_domain_allows_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON instance_domain_allows
    FOR EACH STATEMENT EXECUTE FUNCTION guise_domains_changed();

-- A silenced face stays reachable by its followers but is kept off the
-- public timelines (Mastodon's "limit").
ALTER TABLE identities ADD COLUMN silenced BOOLEAN NOT NULL DEFAULT FALSE;
