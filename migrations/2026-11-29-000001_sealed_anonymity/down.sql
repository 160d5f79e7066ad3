DROP TRIGGER oauth_tokens_face_not_anonymous ON oauth_tokens;
DROP FUNCTION guise_token_face_not_anonymous();
DROP TABLE sealed_idempotency, sealed_index;
DROP INDEX identities_thread_tag_key;
ALTER TABLE identities DROP CONSTRAINT anonymous_faces_have_no_account,
    DROP COLUMN tombstoned, DROP COLUMN thread_tag, DROP COLUMN owner_nonce, DROP COLUMN owner_tag;
DELETE FROM oauth_codes;
ALTER TABLE oauth_codes DROP COLUMN k_anon_wrap, DROP COLUMN owner,
    ADD COLUMN account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    ADD COLUMN binding TEXT CHECK (binding IN ('face', 'anonymous', 'all')),
    ADD COLUMN identity_id BIGINT REFERENCES identities (id) ON DELETE CASCADE;
ALTER TABLE oauth_tokens DROP COLUMN refresh_k_anon_wrap, DROP COLUMN k_anon_wrap;
ALTER TABLE accounts DROP COLUMN anon_cooldown_until, DROP COLUMN k_anon_recovery_wrap,
    DROP COLUMN k_anon_password_wrap, DROP COLUMN k_anon_salt;
