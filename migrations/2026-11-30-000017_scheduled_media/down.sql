ALTER TABLE media_uploads DROP COLUMN scheduled_id;
