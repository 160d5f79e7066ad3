DROP INDEX statuses_one_reblog;
ALTER TABLE follow_requests DROP COLUMN uri;
ALTER TABLE statuses DROP COLUMN attachments, DROP COLUMN emojis;
