-- The instance and tier policy, versioned: the newest version is in force
-- (crates/server/src/policy.rs). The configuration file's values become
-- version 1; every change over the admin API adds the next one (who made
-- it is in the audit log). Each process reloads when live_versions moves.
CREATE TABLE instance_policies (
    version BIGINT PRIMARY KEY CHECK (version > 0),
    policy  JSONB NOT NULL,
    made_on DATE NOT NULL
);

INSERT INTO live_versions (name, version) VALUES ('policy', 1);

CREATE FUNCTION guise_policy_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE live_versions SET version = version + 1 WHERE name = 'policy';
    RETURN NULL;
END $$;

CREATE TRIGGER instance_policies_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON instance_policies
    FOR EACH STATEMENT EXECUTE FUNCTION guise_policy_changed();
