-- Registration approval: while the instance asks for it, a new login
-- waits (approved = false) until a moderator approves it; rejecting it
-- deletes it. The reason is what the person wrote when signing up, for
-- the moderator to read. Neither is a time (rule 4).
ALTER TABLE accounts
    ADD COLUMN approved BOOLEAN NOT NULL DEFAULT true,
    ADD COLUMN sign_up_reason TEXT;
CREATE INDEX accounts_waiting ON accounts (id) WHERE NOT approved;
