-- The incoming policy chain (crates/policy/src/incoming.rs): rules made
-- over the admin API, applied to every remote post, live in every process
-- like domain blocks (live_versions 'incoming_rules').
CREATE TABLE incoming_rules (
    id          BIGINT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('domain', 'keyword', 'hashtag', 'mention_limit', 'new_account')),
    -- The domain, keyword or hashtag.
    pattern     TEXT NOT NULL DEFAULT '',
    -- The mention limit, or the account age in days.
    amount      BIGINT,
    action      TEXT NOT NULL CHECK (action IN ('reject', 'strip_media', 'sensitive', 'delist', 'replace')),
    replacement TEXT NOT NULL DEFAULT '',
    -- The tiers and contexts it covers; empty: all.
    tiers       TEXT[] NOT NULL DEFAULT '{}',
    contexts    TEXT[] NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL
);

INSERT INTO live_versions (name, version) VALUES ('incoming_rules', 1);

CREATE FUNCTION guise_incoming_rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE live_versions SET version = version + 1 WHERE name = 'incoming_rules';
    RETURN NULL;
END $$;

CREATE TRIGGER incoming_rules_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON incoming_rules
    FOR EACH STATEMENT EXECUTE FUNCTION guise_incoming_rules_changed();

-- What the chain did to remote posts, for admins: which post, from which
-- domain, the reason codes, whether it was refused, on which day (kept
-- 90 days). Random ids: no order within a day.
CREATE TABLE policy_decisions (
    id         BIGINT PRIMARY KEY,
    object_uri TEXT NOT NULL,
    domain     TEXT NOT NULL,
    codes      TEXT[] NOT NULL,
    rejected   BOOLEAN NOT NULL,
    decided_on DATE NOT NULL
);
CREATE INDEX policy_decisions_by_day ON policy_decisions (decided_on DESC, id);
