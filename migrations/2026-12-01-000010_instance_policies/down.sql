DROP TABLE instance_policies;
DROP FUNCTION guise_policy_changed();
DELETE FROM live_versions WHERE name = 'policy';
