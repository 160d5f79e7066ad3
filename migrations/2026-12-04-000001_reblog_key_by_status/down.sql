CREATE UNIQUE INDEX statuses_one_reblog_by_booster ON statuses (identity_id, reblog_of_id)
  WHERE reblog_of_id IS NOT NULL;
CREATE INDEX statuses_reblog_idx ON statuses (reblog_of_id) WHERE reblog_of_id IS NOT NULL;
DROP INDEX statuses_one_reblog_key;
ALTER INDEX statuses_one_reblog_by_booster RENAME TO statuses_one_reblog_key;
