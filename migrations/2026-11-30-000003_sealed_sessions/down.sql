DELETE FROM oauth_tokens;
ALTER TABLE accounts DROP COLUMN token_epoch;
ALTER TABLE oauth_tokens
    DROP COLUMN key_by_token,
    DROP COLUMN key_by_refresh,
    DROP COLUMN key_by_k_anon,
    DROP COLUMN owner,
    ADD COLUMN app_id BIGINT NOT NULL REFERENCES oauth_apps (id) ON DELETE CASCADE,
    ADD COLUMN account_id BIGINT REFERENCES accounts (id) ON DELETE CASCADE,
    ADD COLUMN binding TEXT CHECK (binding IN ('face', 'anonymous', 'all')),
    ADD COLUMN identity_id BIGINT REFERENCES identities (id) ON DELETE CASCADE,
    ADD COLUMN refresh_k_anon_wrap BYTEA,
    ADD CHECK ((binding = 'face') = (identity_id IS NOT NULL));
CREATE INDEX oauth_tokens_account_idx ON oauth_tokens (account_id) WHERE account_id IS NOT NULL;
CREATE FUNCTION guise_token_face_not_anonymous() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.identity_id IS NOT NULL
       AND EXISTS (SELECT 1 FROM identities WHERE id = NEW.identity_id AND tier = 'anonymous') THEN
        RAISE EXCEPTION 'a token cannot be bound to an anonymous face';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER oauth_tokens_face_not_anonymous BEFORE INSERT OR UPDATE ON oauth_tokens
    FOR EACH ROW EXECUTE FUNCTION guise_token_face_not_anonymous();
