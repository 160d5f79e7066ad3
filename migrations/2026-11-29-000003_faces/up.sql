-- Real-name faces move through pending -> verified | rejected; a verified
-- face's display name is the verified name until it asks again.
ALTER TABLE identities
    ADD COLUMN real_name_status TEXT CHECK (real_name_status IN ('pending', 'verified', 'rejected')),
    ADD CONSTRAINT real_name_status_only_for_real_names CHECK ((tier = 'real_name') = (real_name_status IS NOT NULL) OR domain IS NOT NULL);
-- At most one real-name face per account.
CREATE UNIQUE INDEX identities_one_real_name ON identities (account_id) WHERE tier = 'real_name' AND account_id IS NOT NULL;
