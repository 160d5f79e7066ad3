ALTER TABLE identities DROP COLUMN position;
