-- Two-factor sign-in (TOTP, RFC 6238). The secret sits on the login: checking
-- a code reads it and writes nothing (sign-in writes nothing tied to the
-- login; a used code is refused again from process memory).
ALTER TABLE accounts
    ADD COLUMN otp_secret BYTEA,
    -- Salts the login's recovery codes; a new salt voids every old code.
    ADD COLUMN otp_salt BYTEA;

-- One-time recovery codes, as SHA-256("guise otp recovery" ‖ salt ‖ code):
-- no login named, so using one (deleting its row) touches no row of the
-- login's at sign-in.
CREATE TABLE otp_recovery (
    code_hash BYTEA PRIMARY KEY
);
