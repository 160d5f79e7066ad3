DROP TABLE sealed_idempotency, sealed_index;
DROP INDEX identities_thread_tag_key;
ALTER TABLE identities DROP CONSTRAINT anonymous_faces_have_no_account,
    DROP COLUMN tombstoned, DROP COLUMN thread_tag, DROP COLUMN owner_nonce, DROP COLUMN owner_tag;
ALTER TABLE oauth_codes DROP COLUMN k_anon_wrap;
ALTER TABLE oauth_tokens DROP COLUMN refresh_k_anon_wrap, DROP COLUMN k_anon_wrap;
ALTER TABLE accounts DROP COLUMN anon_cooldown_until, DROP COLUMN k_anon_recovery_wrap,
    DROP COLUMN k_anon_password_wrap, DROP COLUMN k_anon_salt;
