-- What remote notes carry beyond their text: media attachments (shown by
-- their remote URL, never fetched or stored here) and custom emoji. Local
-- statuses keep both empty until media uploads exist.
ALTER TABLE statuses
    ADD COLUMN attachments JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN emojis      JSONB NOT NULL DEFAULT '[]';

-- A remote Follow held for approval keeps its activity id, so the Accept or
-- Reject sent later names the Follow it answers.
ALTER TABLE follow_requests ADD COLUMN uri TEXT;

-- One boost per face and status, even when two Announces race.
CREATE UNIQUE INDEX statuses_one_reblog ON statuses (identity_id, reblog_of_id)
    WHERE reblog_of_id IS NOT NULL;
