-- `statuses_one_reblog` (2026-11-30) repeated `statuses_one_reblog_key`
-- (the foundation's) column for column: every boost paid for two
-- identical unique indexes.
DROP INDEX statuses_one_reblog;
