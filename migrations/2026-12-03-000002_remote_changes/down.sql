DROP TRIGGER identities_remote_changed ON identities;
DROP FUNCTION guise_remote_changed();
