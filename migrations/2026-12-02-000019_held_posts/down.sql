DROP TABLE held_posts;
DELETE FROM incoming_rules WHERE action = 'hold';
ALTER TABLE incoming_rules DROP CONSTRAINT incoming_rules_action_check;
ALTER TABLE incoming_rules ADD CONSTRAINT incoming_rules_action_check
    CHECK (action IN ('reject', 'strip_media', 'sensitive', 'delist', 'replace'));
