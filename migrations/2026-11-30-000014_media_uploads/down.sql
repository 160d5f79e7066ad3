ALTER TABLE identities DROP COLUMN header_key;
ALTER TABLE identities DROP COLUMN avatar_key;
DROP TABLE media_uploads;
