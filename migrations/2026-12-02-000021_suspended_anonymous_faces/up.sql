-- Whether an anonymous author is banned is asked of the suspended
-- anonymous faces alone (each tested against the author's key), on every
-- anonymous post: this keeps that read to those few rows.
CREATE INDEX identities_suspended_anonymous ON identities (id)
    WHERE tier = 'anonymous' AND suspended AND owner_tag IS NOT NULL;
