-- Sealed ownership of anonymous faces (unlinkability rule 3).
--
-- k_anon, the account's anonymity key, is stored only wrapped: under the
-- password (Argon2id with k_anon_salt), under a recovery code, and under each
-- live token, refresh token and pending authorization code. Nothing here
-- leads from an anonymous face to an account: its owner_tag and thread_tag
-- are MACs under k_anon, and the sealed index is keyed by MACs under k_anon.

ALTER TABLE accounts
    ADD COLUMN k_anon_salt BYTEA,
    ADD COLUMN k_anon_password_wrap BYTEA,
    ADD COLUMN k_anon_recovery_wrap BYTEA,
    -- After a password reset that lost k_anon, anonymous posting waits until this day.
    ADD COLUMN anon_cooldown_until DATE;

ALTER TABLE oauth_tokens
    ADD COLUMN k_anon_wrap BYTEA,
    ADD COLUMN refresh_k_anon_wrap BYTEA;

-- A pending authorization code names its login only inside `owner`, sealed
-- under a key derived from the code itself: its exact expiry then sits on a
-- row that says nothing of whose sign-in it was (rule 4: account-tied rows
-- carry dates, never instants). Codes live ten minutes; none survive this.
DELETE FROM oauth_codes;
ALTER TABLE oauth_codes
    DROP COLUMN account_id,
    DROP COLUMN binding,
    DROP COLUMN identity_id,
    ADD COLUMN owner BYTEA NOT NULL,
    ADD COLUMN k_anon_wrap BYTEA;

ALTER TABLE identities
    -- Anonymous faces: HMAC(k_anon, "face" || owner_nonce).
    ADD COLUMN owner_tag BYTEA,
    ADD COLUMN owner_nonce BYTEA,
    -- Anonymous faces minted per thread: HMAC(k_anon, "thread" || root id).
    ADD COLUMN thread_tag BYTEA,
    -- A face whose posts are all gone; it keeps its key until its deliveries drain.
    ADD COLUMN tombstoned BOOLEAN NOT NULL DEFAULT FALSE,
    ADD CONSTRAINT anonymous_faces_have_no_account CHECK (tier <> 'anonymous' OR account_id IS NULL);
-- The one other table that names both a face and a login: a token bound to
-- one face. It may never name an anonymous face.
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

CREATE UNIQUE INDEX identities_thread_tag_key ON identities (thread_tag) WHERE thread_tag IS NOT NULL;

-- The owner's list of anonymous faces: slot = HMAC(k_anon, "slot" || n) for
-- n = 0, 1, 2, …; payload = seal(k_anon, face id || thread root), bound to its slot.
CREATE TABLE sealed_index (
    slot    BYTEA PRIMARY KEY,
    payload BYTEA NOT NULL
);

-- Idempotency-Key records for anonymous posts, keyed by HMAC(k_anon, "idempotency" || key):
-- keyed by neither the account nor a face that may not exist yet.
CREATE TABLE sealed_idempotency (
    key_tag   BYTEA PRIMARY KEY,
    status_id BIGINT NOT NULL REFERENCES statuses (id) ON DELETE CASCADE
);
