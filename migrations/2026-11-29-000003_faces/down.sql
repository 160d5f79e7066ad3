DROP INDEX identities_one_real_name;
ALTER TABLE identities DROP CONSTRAINT real_name_status_only_for_real_names, DROP COLUMN real_name_status;
