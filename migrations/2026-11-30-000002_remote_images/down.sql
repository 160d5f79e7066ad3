ALTER TABLE identities DROP COLUMN avatar_url, DROP COLUMN header_url;
