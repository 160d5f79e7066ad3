ALTER TABLE identities DROP COLUMN fields;
DROP TABLE announcement_dismissals;
DROP TABLE announcements;
DROP TABLE scheduled_statuses;
DROP INDEX statuses_direct_idx;
DROP TABLE conversation_reads;
DROP TABLE filter_statuses;
DROP TABLE filter_keywords;
DROP TABLE filters;
