DROP TABLE ip_blocks;
DROP FUNCTION guise_ip_blocks_changed();
DELETE FROM live_versions WHERE name = 'ip_blocks';
