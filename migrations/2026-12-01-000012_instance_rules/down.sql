DROP TABLE instance_rules;
