ALTER TABLE identities DROP COLUMN profile;
