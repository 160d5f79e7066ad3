-- Sessions name their login only sealed (unlinkability rules 4 and 10).
--
-- A token row used to name its login, its face and its app in the clear,
-- and an "Anonymous" token is usually written just before its first
-- anonymous post: whoever holds the database paired the two by xmin. Now a
-- row holds only noise without its token: a random key of its own (`row
-- key`), wrapped under the access token, the refresh token and the owner's
-- k_anon; the owner (app, login, token epoch, binding) sealed under that
-- key. A login's `token_epoch` moves on at every password change, reset and
-- deletion, which kills every token sealed under an older one.
--
-- Rows in the old shape cannot be sealed without their tokens: everyone
-- signs in again after this migration.
DELETE FROM oauth_tokens;
DELETE FROM oauth_codes;
DROP TRIGGER oauth_tokens_face_not_anonymous ON oauth_tokens;
DROP FUNCTION guise_token_face_not_anonymous();
DROP INDEX oauth_tokens_account_idx;
ALTER TABLE oauth_tokens
    DROP COLUMN app_id,
    DROP COLUMN account_id,
    DROP COLUMN binding,
    DROP COLUMN identity_id,
    DROP COLUMN refresh_k_anon_wrap,
    ADD COLUMN key_by_token   BYTEA NOT NULL,
    ADD COLUMN key_by_refresh BYTEA,
    ADD COLUMN key_by_k_anon  BYTEA,
    ADD COLUMN owner          BYTEA NOT NULL;
ALTER TABLE accounts ADD COLUMN token_epoch BIGINT NOT NULL DEFAULT 0;
