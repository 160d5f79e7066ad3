DROP TABLE policy_decisions;
DROP TABLE incoming_rules;
DROP FUNCTION guise_incoming_rules_changed();
DELETE FROM live_versions WHERE name = 'incoming_rules';
