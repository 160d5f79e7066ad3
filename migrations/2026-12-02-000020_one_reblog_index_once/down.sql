CREATE UNIQUE INDEX statuses_one_reblog ON statuses (identity_id, reblog_of_id)
    WHERE reblog_of_id IS NOT NULL;
