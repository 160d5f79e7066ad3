ALTER TABLE identities DROP COLUMN silenced;
DROP TABLE instance_domain_allows;
DROP TABLE instance_domain_blocks;
DROP FUNCTION guise_domains_changed();
DROP TABLE live_versions;
